"""What the emulated Glue records about its runs, and how a run is asked to stop.
Why: docs/adr/0006-glue-crawler-bookmarks-workflow-run-by-the-lab.md.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import threading
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path

from taxilab.core.runs import now_iso
from taxilab.core.settings import Settings
from taxilab.core.state import write_json

_HISTORY_LOCK = threading.Lock()
FINAL_JOB_STATES = ("SUCCEEDED", "FAILED", "TIMEOUT", "STOPPED")
FINAL_WORKFLOW_STATES = ("COMPLETED", "FAILED", "STOPPED")
POLL_S = 0.1  # how often a waiting runner looks at its job and its stop event


class StopError(RuntimeError):
    """A stop request that cannot be delivered (no such run, not running)."""


@dataclass
class JobRun:
    id: str
    workflow_run_id: str
    job: str
    month: str
    attempt: int
    state: str = "STARTING"
    started_on: str = ""
    completed_on: str | None = None
    execution_seconds: float | None = None
    error: str | None = None
    metrics: dict = field(default_factory=dict)
    previous_run_id: str | None = None


@dataclass
class WorkflowRun:
    id: str
    workflow: str
    month: str
    runs: list[JobRun] = field(default_factory=list)
    status: str = "RUNNING"
    started_on: str = ""
    completed_on: str | None = None
    started_by: str = "manual"
    stop_reason: str | None = None

    def final_state(self, node: str) -> str | None:
        mine = [r for r in self.runs if r.job == node]
        return mine[-1].state if mine else None

    @property
    def seconds(self) -> float | None:
        if not (self.started_on and self.completed_on):
            return None
        return (
            datetime.fromisoformat(self.completed_on) - datetime.fromisoformat(self.started_on)
        ).total_seconds()


# ---- job-run history -----------------------------------------------------------------------------------
def history_file(settings: Settings) -> Path:
    return settings.state_dir / "glue" / "job_runs.jsonl"


def record(settings: Settings, run: JobRun) -> None:
    """Append the run's current state to the history (one line per transition)."""
    p = history_file(settings)
    p.parent.mkdir(parents=True, exist_ok=True)
    with _HISTORY_LOCK, p.open("a") as f:
        f.write(json.dumps(asdict(run)) + "\n")


def transition(settings: Settings, run: JobRun, state: str) -> None:
    run.state = state
    record(settings, run)


def history(settings: Settings, job: str | None = None, limit: int = 50) -> list[dict]:
    """Latest state of each job run (the file holds every transition), newest last."""
    latest: dict[str, dict] = {}
    for r in _lines(settings):
        latest[r["id"]] = r
    out = [r for r in latest.values() if job is None or r["job"] == job]
    return out[-limit:]


def transitions(settings: Settings, run_id: str) -> list[str]:
    """Every state one job run went through, in order (STARTING, RUNNING, ...)."""
    return [r["state"] for r in _lines(settings) if r["id"] == run_id]


def _lines(settings: Settings) -> Iterator[dict]:
    p = history_file(settings)
    if p.exists():
        for line in p.read_text().splitlines():
            if line.strip():
                yield json.loads(line)


# ---- workflow runs on disk -----------------------------------------------------------------------------
def runs_dir(settings: Settings) -> Path:
    return settings.state_dir / "glue" / "workflow_runs"


def save_run(settings: Settings, wf: WorkflowRun) -> None:
    """Write the workflow run's state file (atomically: readers see the old or the new record)."""
    write_json(
        runs_dir(settings) / f"{wf.id}.json",
        {
            "id": wf.id,
            "workflow": wf.workflow,
            "month": wf.month,
            "status": wf.status,
            "pid": os.getpid(),
            "started_on": wf.started_on,
            "completed_on": wf.completed_on,
            "seconds": wf.seconds,
            "started_by": wf.started_by,
            "stop_reason": wf.stop_reason,
            "job_runs": [{"id": r.id, "job": r.job, "attempt": r.attempt, "state": r.state} for r in wf.runs],
        },
    )


def workflow_runs(settings: Settings, workflow: str | None = None, month: str | None = None) -> list[dict]:
    """Recorded workflow runs, oldest first (RUNNING ones whose process is gone are shown as such)."""
    out = []
    d = runs_dir(settings)
    for p in d.glob("wr_*.json") if d.exists() else []:
        try:
            r = json.loads(p.read_text())
        except ValueError:  # a run being rewritten right now: atomic replace makes this rare
            continue
        if (workflow and r["workflow"] != workflow) or (month and r["month"] != month):
            continue
        if r["status"] == "RUNNING" and not _alive(r.get("pid")):
            r["orphaned"] = True  # its process is gone (killed?): the month lock died with it
        out.append(r)
    return sorted(out, key=lambda r: (r["started_on"], r["id"]))


def _alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


# ---- stop requests -------------------------------------------------------------------------------------
def stop_file(settings: Settings, run_id: str) -> Path:
    return runs_dir(settings) / f"{run_id}.stop"


def request_stop(
    settings: Settings, workflow: str, run_id: str | None = None, by: str = "taxilab glue stop"
) -> dict:
    """Ask a running workflow run to stop: writes <run_id>.stop beside the run's state; the runner (another
    process) polls for it. Without run_id, the workflow's only running run. Returns the run's record."""
    running = [
        r for r in workflow_runs(settings, workflow) if r["status"] == "RUNNING" and not r.get("orphaned")
    ]
    if run_id is None:
        if len(running) != 1:
            ids = ", ".join(f"{r['id']} ({r['month']})" for r in running) or "none"
            raise StopError(f"workflow {workflow} has {len(running)} running run(s): {ids}; give --run-id")
        run = running[0]
    else:
        mine = [r for r in workflow_runs(settings, workflow) if r["id"] == run_id]
        if not mine:
            raise StopError(f"workflow {workflow} has no run {run_id} (see `taxilab glue workflow runs`)")
        run = mine[0]
        if run["status"] != "RUNNING" or run.get("orphaned"):
            state = "RUNNING but its process is gone" if run.get("orphaned") else run["status"]
            raise StopError(f"run {run_id} of {workflow} is not running: {state}")
    write_json(stop_file(settings, run["id"]), {"requested_on": now_iso(), "by": by})
    return run


def _stop_requested(settings: Settings, run_id: str) -> str | None:
    p = stop_file(settings, run_id)
    if not p.exists():
        return None
    try:
        return f"stop requested by {json.loads(p.read_text()).get('by', '?')}"
    except ValueError:
        return "stop requested"


class StopControl:
    """The stop event of one workflow run and where its stop came from."""

    def __init__(self, event: threading.Event | None = None):
        self.event = event or threading.Event()
        self.reason: str | None = None

    def stop(self, reason: str) -> None:
        if not self.event.is_set():
            self.reason = reason
        self.event.set()

    @property
    def stopped(self) -> bool:
        return self.event.is_set()


@contextlib.contextmanager
def stop_on_signals(control: StopControl) -> Iterator[None]:
    """SIGTERM/SIGINT stop the run gracefully (first signal); the previous handlers are back for a second
    one, so a second Ctrl-C interrupts as usual. Outside the main thread signals cannot be caught: no-op."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT)}

    def handler(signum, frame):
        control.stop(f"{signal.Signals(signum).name} to pid {os.getpid()}")
        for s, h in previous.items():
            signal.signal(s, h)

    for s in previous:
        signal.signal(s, handler)
    try:
        yield
    finally:
        for s, h in previous.items():
            signal.signal(s, h)


@contextlib.contextmanager
def watch_stop_file(settings: Settings, run_id: str, control: StopControl) -> Iterator[None]:
    """While the block runs, a thread polls for the run's stop file and stops `control` when it appears."""
    done = threading.Event()

    def watch():
        while not done.wait(POLL_S * 2):
            reason = _stop_requested(settings, run_id)
            if reason:
                control.stop(reason)
                return

    t = threading.Thread(target=watch, name=f"stop-watch-{run_id[:10]}", daemon=True)
    t.start()
    try:
        yield
    finally:
        done.set()
        t.join(timeout=2)
