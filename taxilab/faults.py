"""Kill points for the robustness tests: SIGKILL the pipeline at a named point, as a crash would.

The lab's setting `fault_kill_at` (TAXILAB_FAULT_KILL_AT) names the point; unset, every call here is a
no-op, so production runs are unaffected. Two kinds of point:

- `checkpoint(name, settings)`: placed in taxilab/pipeline.py at stage boundaries ("after:ingest", ...)
  and inside writes the lab drives itself ("ingest:upload", called from the upload's progress callback).
- `arm(settings)` with `fault_kill_at = "pending-upload:<key prefix>"`: a watcher thread kills the
  process as soon as an S3 multipart upload under that prefix is pending. Spark's S3A staging
  committers upload task output as uncompleted multipart uploads and complete them only at job commit,
  so this is the moment "data sent, nothing visible yet" in the middle of a Spark write, without
  touching the (Glue-compatible) jobs.

SIGKILL, not an exception: no finally blocks, no atexit, no flush; exactly what an OOM kill or a lost
machine does.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import time

from taxilab.settings import Settings

log = logging.getLogger(__name__)
PENDING_UPLOAD = "pending-upload:"


def _die(why: str) -> None:
    # stderr is unbuffered enough for the test to read why the process died; nothing else runs.
    sys.stderr.write(f"taxilab.faults: SIGKILL at {why}\n")
    sys.stderr.flush()
    os.kill(os.getpid(), signal.SIGKILL)


def checkpoint(name: str, settings: Settings) -> None:
    """Kill this process when `name` is the configured kill point."""
    if settings.fault_kill_at and settings.fault_kill_at == name:
        _die(name)


def arm(settings: Settings, poll_seconds: float = 0.02) -> threading.Thread | None:
    """Start the pending-multipart-upload watcher when the kill point asks for one (else do nothing)."""
    point = settings.fault_kill_at or ""
    if not point.startswith(PENDING_UPLOAD):
        return None
    prefix = point[len(PENDING_UPLOAD):]
    from taxilab import aws

    s3 = aws.client("s3", settings)

    def watch() -> None:
        while True:
            try:
                found = s3.list_multipart_uploads(Bucket=settings.bucket, Prefix=prefix).get("Uploads")
            except Exception:  # noqa: BLE001 - the bucket may not exist yet; keep watching
                found = None
            if found:
                _die(f"{point} ({found[0]['Key']})")
            time.sleep(poll_seconds)

    thread = threading.Thread(target=watch, name="taxilab-fault-watch", daemon=True)
    thread.start()
    return thread
