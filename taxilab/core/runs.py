"""Run primitives shared by every orchestrator: the per-month lock, run ids, Glue-style job argv and
stage timing (docs/adr/0012-layout-and-layers.md).
"""

from __future__ import annotations

import fcntl
import os
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from spark_jobs.month import Month
from taxilab.core.settings import Settings


class RunInProgress(RuntimeError):
    """Another run holds the month's lock."""


@contextmanager
def month_lock(settings: Settings, month: object, kind: str = "pipeline") -> Iterator[None]:
    """Hold the month's run lock for the block (a second holder is refused, not queued)."""
    m = Month.parse(month)
    lock_dir = settings.state_dir / "locks"
    lock_dir.mkdir(parents=True, exist_ok=True)
    path = lock_dir / f"{kind}-{settings.dataset}-{m}.lock"
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = Path(path).read_text().strip() or "another process"
            raise RunInProgress(
                f"a pipeline run for {m} is already in progress ({holder}); wait for it or stop it first"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"pid {os.getpid()}".encode())
        yield
    finally:
        os.close(fd)


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def new_run_id(prefix: str = "run") -> str:
    return f"{prefix}_{datetime.now(UTC).strftime('%Y%m%dT%H%M%S')}_{uuid.uuid4().hex[:8]}"


def job_argv(script: str, job_name: str | None = None, **args: object) -> list[str]:
    """Glue-style argv for a job script: [script, --JOB_NAME, name, --key, value, ...]."""
    name = job_name or Path(script).stem
    argv = [script if script.endswith(".py") else f"{script}.py", "--JOB_NAME", name]
    for key, value in args.items():
        argv += [f"--{key}", str(value)]
    return argv


@dataclass
class Timer:
    """Wall time of a block: `with timed() as t: ...; t.seconds`."""

    started: float = 0.0
    seconds: float = 0.0

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started


@contextmanager
def timed() -> Iterator[Timer]:
    t = Timer(time.monotonic())
    try:
        yield t
    finally:
        t.seconds = round(time.monotonic() - t.started, 2)
