"""Atomic output for files written in pieces (a generated month, daily drops, the input cache).

Small state files are handed over whole to taxilab.core.state (unique temp file, fsync, rename). A
file a writer streams cannot be, so `atomic_output(path)` gives the writer a unique temporary path
beside the target and, when the block ends, does the same fsync and rename (or removes the temp file
when the block fails): a reader sees the whole file or none, and concurrent writers of one target
never share a temp file (docs/adr/0012-layout-and-layers.md).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def atomic_output(path: str | Path) -> Iterator[Path]:
    """Yield a unique temporary path to write `path`'s content to; on success it becomes `path`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:12]}.tmp")
    try:
        yield tmp
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
