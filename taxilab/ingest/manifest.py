"""Describe downloaded source files and record them in a JSON manifest.
Why: docs/adr/0007-nothing-lost.md.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path

import pyarrow.parquet as pq

from taxilab.core.state import write_text

MANIFEST_KEYS = ("source", "file", "bytes", "sha256", "rows", "schema", "recorded_at")

_HASH_CHUNK = 1 << 20  # 1 MiB: TLC months are 50-100 MB, so never hold a file in memory.


def sha256_file(path: Path | str) -> str:
    """Hex sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(_HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def describe_parquet(path: Path, source: str) -> dict:
    """Manifest entry for a Parquet file: identity (sha256, bytes) plus footer facts (rows, schema).

    Only the footer is read, so this is cheap even for large files. Raises ValueError naming the
    file if it is not valid Parquet.
    """
    path = Path(path)
    try:
        with pq.ParquetFile(path) as pf:
            rows = pf.metadata.num_rows
            schema = [[field.name, str(field.type)] for field in pf.schema_arrow]
    except (OSError, ValueError) as exc:  # pyarrow raises ArrowInvalid (a ValueError) on a bad footer
        raise ValueError(f"{path} is not a valid Parquet file: {exc}") from exc
    return {
        "source": source,
        "file": path.name,
        "bytes": path.stat().st_size,
        "sha256": sha256_file(path),
        "rows": rows,
        "schema": schema,
        "recorded_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def write_manifest(path: Path, entries: list[dict]) -> None:
    """Write entries as JSON ``{"entries": [...]}``, atomically.

    Written to a temporary file in the same directory and renamed over the target, so a crash never
    leaves a half-written manifest that a later run would trust.
    """
    path = Path(path)
    for i, entry in enumerate(entries):
        missing = [k for k in MANIFEST_KEYS if k not in entry]
        if missing:
            raise ValueError(f"manifest entry {i} ({entry.get('file', '?')}) lacks keys {missing}")
    write_text(path, json.dumps({"entries": entries}, indent=2) + "\n")
