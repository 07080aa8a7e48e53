"""The lab's moto server: `python -m emulation.moto_server -H 127.0.0.1 -p PORT` = moto.server with one
fidelity fix applied first (ADR 0001).
"""

from __future__ import annotations

import copy
import sys


def patch_moto() -> None:
    from moto.s3 import models

    original = models.S3Backend.list_objects
    if getattr(original, "_taxilab_patched", False):
        return

    def list_objects(self, bucket, prefix, delimiter, marker, max_keys):
        if isinstance(bucket, models.FakeTableStorageBucket):
            return original(self, bucket, prefix, delimiter, marker, max_keys)
        live = copy.copy(bucket)  # shallow: only the key view handed to moto's listing differs
        live.keys = {k: v for k, v in bucket.keys.items() if not isinstance(v, models.FakeDeleteMarker)}
        return original(self, live, prefix, delimiter, marker, max_keys)

    # A monkeypatch of moto's backend (typed loosely on purpose: moto's internals have no stable types).
    setattr(list_objects, "_taxilab_patched", True)  # noqa: B010
    setattr(models.S3Backend, "list_objects", list_objects)  # noqa: B010


def main(argv: list[str] | None = None) -> None:
    patch_moto()
    from moto.server import main as moto_main

    moto_main(argv if argv is not None else sys.argv[1:])


if __name__ == "__main__":
    main()
