"""Kill points for the robustness tests: SIGKILL the pipeline at a named point, as a crash would.
Why: docs/adr/0007-nothing-lost.md.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import time

from taxilab.core.settings import Settings

log = logging.getLogger(__name__)
PENDING_UPLOAD = "pending-upload:"
MID_COMMIT = "mid-commit:"


def _spark_jvm_pid() -> int | None:
    """The pid of the Spark driver JVM this process started (pyspark's gateway), if any."""
    context = sys.modules.get("pyspark.context")
    gateway = getattr(getattr(context, "SparkContext", None), "_gateway", None)
    proc = getattr(gateway, "proc", None)
    return getattr(proc, "pid", None)


def _die(why: str) -> None:
    # stderr is unbuffered enough for the test to read why the process died; nothing else runs.
    sys.stderr.write(f"taxilab.faults: SIGKILL at {why}\n")
    sys.stderr.flush()
    # The Spark driver JVM first, as a lost machine would: killed alone, Python would leave the JVM
    # running until it notices its parent's pipe closed, finishing (say) a job commit in the meantime.
    jvm = _spark_jvm_pid()
    if jvm:
        try:
            os.kill(jvm, signal.SIGKILL)
        except OSError:
            pass
    os.kill(os.getpid(), signal.SIGKILL)


def checkpoint(name: str, settings: Settings) -> None:
    """Kill this process when `name` is the configured kill point."""
    if settings.fault_kill_at and settings.fault_kill_at == name:
        _die(name)


def _pending(s3, bucket: str, prefix: str) -> dict[str, str] | None:
    """upload id -> key of the multipart uploads pending under prefix (None: the bucket cannot be read)."""
    out: dict[str, str] = {}
    kwargs = {"Bucket": bucket, "Prefix": prefix}
    try:
        while True:
            page = s3.list_multipart_uploads(**kwargs)
            out.update({u["UploadId"]: u["Key"] for u in page.get("Uploads", [])})
            if not page.get("IsTruncated"):
                return out
            kwargs.update(KeyMarker=page["NextKeyMarker"], UploadIdMarker=page["NextUploadIdMarker"])
    except Exception:  # noqa: BLE001 - the bucket may not exist yet; keep watching
        return None


def arm(settings: Settings, poll_seconds: float = 0.02) -> threading.Thread | None:
    """Start the multipart-upload watcher when the kill point asks for one (else do nothing)."""
    point = settings.fault_kill_at or ""
    if point.startswith(PENDING_UPLOAD):
        prefix, mid_commit = point[len(PENDING_UPLOAD) :], False
    elif point.startswith(MID_COMMIT):
        prefix, mid_commit = point[len(MID_COMMIT) :], True
    else:
        return None
    from taxilab.core import clients as aws

    s3 = aws.client("s3", settings)
    stale = set(_pending(s3, settings.bucket, prefix) or {})  # an earlier run's leftovers: not this run's

    def watch() -> None:
        seen: dict[str, str] = {}  # this run's uploads seen pending
        while True:
            pending = _pending(s3, settings.bucket, prefix)
            if pending is not None:
                mine = {u: k for u, k in pending.items() if u not in stale}
                if not mid_commit and mine:
                    _die(f"{point} ({next(iter(mine.values()))})")
                seen.update(mine)
                done = [k for u, k in seen.items() if u not in mine]
                # Some completed, some still pending: inside the job commit. (A staging committer
                # aborts a write's uploads only when the job fails, after its commit was abandoned.)
                if mid_commit and done and mine:
                    _die(f"{point} ({len(done)} of {len(seen)} uploads completed, e.g. {done[0]})")
            time.sleep(poll_seconds)

    thread = threading.Thread(target=watch, name="taxilab-fault-watch", daemon=True)
    thread.start()
    return thread
