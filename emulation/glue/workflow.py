"""The pipeline as a Glue workflow, run locally with Glue's trigger semantics.

The graph comes from spark_jobs/jobgraph.json: one start trigger (ON_DEMAND or SCHEDULED, Glue cron) and
CONDITIONAL triggers on predecessors' final states (etl -> aggregates -> crawler -> load-warehouse ->
validate). Each job run is recorded like a Glue JobRun in settings.state_dir/glue/job_runs.jsonl, one line
per state transition: STARTING (recorded before the job's work begins), RUNNING (its code has started),
then one of SUCCEEDED / FAILED / TIMEOUT / STOPPED, with id, start/end, attempt, previous run id, error.

- A failed attempt is retried up to the job's max_retries with exponential backoff, each retry a new run
  with the next attempt number; a job over its timeout is TIMEOUT (its Spark jobs are cancelled). A job
  that ends FAILED/TIMEOUT fires no SUCCEEDED-conditioned successor.
- Stopping (ADR 0006): a stop request on disk (`request_stop`, `taxilab glue stop`) or SIGTERM/SIGINT to
  the runner sets the run's stop event. The running job stops at its next safe point (`Runtime.checkpoint`)
  and its Spark jobs are cancelled; it ends STOPPED (not retried), no trigger fires after it, and the
  workflow run ends STOPPED.
- The workflow run itself is kept in state_dir/glue/workflow_runs/<id>.json (status RUNNING / COMPLETED /
  FAILED / STOPPED, month, pid, how it was started); a stop request is <id>.stop beside it.
- One workflow run at a time per month (taxilab.orchestration.pipeline.month_lock: a second start is refused).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from tenacity import RetryError, Retrying, retry_if_exception_type, stop_after_attempt, wait_exponential

from emulation.glue import bookmarks
from spark_jobs.io import paths
from taxilab.core.jobgraph import Definitions, job_arguments
from taxilab.core.jobgraph import load as load_definitions
from taxilab.core.settings import Settings

log = logging.getLogger(__name__)
_HISTORY_LOCK = threading.Lock()
FINAL_JOB_STATES = ("SUCCEEDED", "FAILED", "TIMEOUT", "STOPPED")
FINAL_WORKFLOW_STATES = ("COMPLETED", "FAILED", "STOPPED")
POLL_S = 0.1  # how often a waiting runner looks at its job and its stop event


class JobFailed(RuntimeError):
    pass


class JobTimeout(RuntimeError):
    pass


class JobStopped(RuntimeError):
    """Raised at a job's safe point once its workflow run was asked to stop."""


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
        return (datetime.fromisoformat(self.completed_on) - datetime.fromisoformat(self.started_on)).total_seconds()


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def history_file(settings: Settings) -> Path:
    return settings.state_dir / "glue" / "job_runs.jsonl"


def _record(settings: Settings, run: JobRun) -> None:
    p = history_file(settings)
    p.parent.mkdir(parents=True, exist_ok=True)
    with _HISTORY_LOCK, p.open("a") as f:
        f.write(json.dumps(asdict(run)) + "\n")


def _transition(settings: Settings, run: JobRun, state: str) -> None:
    run.state = state
    _record(settings, run)


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


# ---- workflow runs on disk, stop requests ------------------------------------------------------------
def runs_dir(settings: Settings) -> Path:
    return settings.state_dir / "glue" / "workflow_runs"


def _write_json(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    tmp.write_text(json.dumps(data, indent=1))
    tmp.replace(path)


def _save_run(settings: Settings, wf: WorkflowRun) -> None:
    _write_json(runs_dir(settings) / f"{wf.id}.json", {
        "id": wf.id, "workflow": wf.workflow, "month": wf.month, "status": wf.status, "pid": os.getpid(),
        "started_on": wf.started_on, "completed_on": wf.completed_on, "seconds": wf.seconds,
        "started_by": wf.started_by, "stop_reason": wf.stop_reason,
        "job_runs": [{"id": r.id, "job": r.job, "attempt": r.attempt, "state": r.state} for r in wf.runs]})


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


def stop_file(settings: Settings, run_id: str) -> Path:
    return runs_dir(settings) / f"{run_id}.stop"


def request_stop(settings: Settings, workflow: str, run_id: str | None = None, by: str = "taxilab glue stop") -> dict:
    """Ask a running workflow run to stop: writes <run_id>.stop beside the run's state; the runner (another
    process) polls for it. Without run_id, the workflow's only running run. Returns the run's record."""
    running = [r for r in workflow_runs(settings, workflow) if r["status"] == "RUNNING" and not r.get("orphaned")]
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
    _write_json(stop_file(settings, run["id"]), {"requested_on": _now(), "by": by})
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
def _watch_stop_file(settings: Settings, run_id: str, control: StopControl) -> Iterator[None]:
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


# ---- the local implementations of the declared jobs -------------------------------------------------
class Runtime:
    """What local job runs share: settings, a lazily started Spark session, the bookmark override, and the
    run's stop event (jobs call checkpoint() at their safe points)."""

    def __init__(self, settings: Settings, spark_factory: Callable | None = None, bookmark_option: str | None = None,
                 stop: StopControl | None = None):
        self.settings = settings
        self._spark_factory = spark_factory
        self._spark = None
        self.bookmark_option = bookmark_option
        self.stop = stop or StopControl()

    def spark(self):
        if self._spark is None:
            if self._spark_factory is None:
                from emulation.spark import get_session

                self._spark = get_session(self.settings)
            else:
                self._spark = self._spark_factory()
        return self._spark

    def checkpoint(self) -> None:
        """A safe point: raise JobStopped if the run was asked to stop."""
        if self.stop.stopped:
            raise JobStopped(self.stop.reason or "stop requested")

    def sleep(self, seconds: float) -> None:
        """Wait, but wake up (JobStopped) as soon as a stop is requested."""
        if self.stop.event.wait(seconds):
            self.checkpoint()

    def cancel_spark(self) -> None:
        if self._spark is not None:
            self._spark.sparkContext.cancelAllJobs()


def _job_argv(job: dict, settings: Settings, month: str, name: str) -> list[str]:
    from taxilab.orchestration.pipeline import job_args

    args = job_arguments(job, {"bucket": settings.bucket, "dataset": settings.dataset, "month": month})
    return job_args(name, **{k[2:]: v for k, v in args.items() if k != "--job-bookmark-option"})


def run_etl(rt: Runtime, job: dict, month: str, run_id: str) -> dict:
    """The etl job with Glue bookmarks: only raw objects of the month not committed for (job, context)."""
    from spark_jobs.jobs import etl

    s = rt.settings
    option = rt.bookmark_option or job.get("bookmark", bookmarks.DISABLE)
    argv = _job_argv(job, s, month, "etl") + ["--job-bookmark-option", option, "--JOB_RUN_ID", run_id]
    objects = bookmarks.list_objects(s, paths.raw_month_prefix(s.dataset, month))
    rt.checkpoint()
    with bookmarks.bookmarked(s, job["name"], "raw_source", objects, option, run_id) as todo:
        files = [o.key for o in todo]
        # Without a bookmark, or when a processed object changed (a new version of the same key), the whole
        # month is redone with its replace semantics: appending would keep the old version's rows.
        whole_month = option == bookmarks.DISABLE or bool(bookmarks.changed(s, job["name"], "raw_source", todo))
        m = etl.main(argv, rt.spark(), files=None if whole_month else files)
        rt.checkpoint()  # a stop that came in while the job ran: its bookmark is not committed
    m["bookmark"] = {"option": option, "objects_seen": len(objects), "objects_processed": len(todo),
                     "whole_month": whole_month}
    return m


def run_aggregates(rt: Runtime, job: dict, month: str, run_id: str) -> dict:
    from spark_jobs.jobs import aggregates

    rt.checkpoint()
    return aggregates.main(_job_argv(job, rt.settings, month, "aggregates"), rt.spark())


def run_load_warehouse(rt: Runtime, job: dict, month: str, run_id: str) -> dict:
    """The job taxilab-load-warehouse (and taxilab-validate; Glue 5.0 jobs on AWS): its script's own entry point, in this process."""
    from taxilab.warehouse import glue_job as glue_load

    rt.checkpoint()
    return glue_load.main(_job_argv(job, rt.settings, month, job["name"]), rt.settings)


def run_crawler(rt: Runtime, crawler: dict, month: str, run_id: str) -> dict:
    """The crawler, one zone at a time: between zones is a safe point for a stop."""
    from emulation.glue import crawler as crawl_mod

    res = []
    for zone in crawler["zones"]:
        rt.checkpoint()
        res += crawl_mod.crawl(rt.settings, (zone,))
    return {"tables": {f"{r.database}.{r.table}": r.action for r in res},
            "partitions_added": sum(r.partitions_added for r in res)}


# "local" names of spark_jobs/jobgraph.json -> the lab's implementations. The warehouse jobs (load-warehouse,
# validate) run their script's main() in-process; Spark jobs run their script's main() on the lab's Spark.
# "crawler" runs every declared crawler.
LOCAL_JOBS: dict[str, Callable] = {"etl": run_etl, "aggregates": run_aggregates, "warehouse": run_load_warehouse,
                                   "validate": run_load_warehouse, "crawler": run_crawler}


# ---- running one node with retries and timeout ---------------------------------------------------------
def _attempt(rt: Runtime, fn: Callable, spec: dict, month: str, run: JobRun, timeout_s: float | None,
             stop_grace_s: float) -> dict:
    """Run fn in a worker thread; RUNNING is recorded when its code starts. Waits for the result while
    watching the timeout and the stop event."""
    def work():
        rt.checkpoint()  # a stop between STARTING and RUNNING: the job's code never starts
        _transition(rt.settings, run, "RUNNING")
        return fn(rt, spec, month, run.id)

    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"job-{run.job}")
    fut = pool.submit(work)
    deadline = None if timeout_s is None else time.monotonic() + timeout_s
    try:
        while True:
            if fut.done():
                return fut.result()
            if rt.stop.stopped:
                rt.cancel_spark()  # kills the job's Spark work; its next checkpoint raises JobStopped
                try:
                    return fut.result(timeout=stop_grace_s)
                except JobStopped:
                    raise
                except TimeoutError:
                    raise JobStopped(f"{rt.stop.reason}; the job did not reach a safe point within "
                                     f"{stop_grace_s:g} s and was abandoned") from None
                except Exception as e:  # noqa: BLE001 - cancelled Spark work surfaces as any error
                    raise JobStopped(f"{rt.stop.reason} ({type(e).__name__} after cancel)") from e
            if deadline is not None and time.monotonic() >= deadline:
                rt.cancel_spark()  # stop the runaway job's Spark work, as Glue stops the job
                raise JobTimeout(f"{run.job} exceeded its timeout of {timeout_s:g} s")
            wait = POLL_S if deadline is None else max(0.0, min(POLL_S, deadline - time.monotonic()))
            rt.stop.event.wait(wait)
    finally:
        pool.shutdown(wait=False)


def run_node(rt: Runtime, wf: WorkflowRun, defs: Definitions, node: str, backoff_s: float = 2.0,
             jobs: dict[str, Callable] | None = None, stop_grace_s: float = 120.0) -> str:
    """Run a job or crawler to a final state (with the job's retries); returns that state."""
    jobs = jobs or LOCAL_JOBS
    if node in defs.jobs:
        spec = defs.jobs[node]
        fn = jobs[spec["local"]]
        retries, timeout_s = int(spec.get("max_retries", 0)), float(spec["timeout_minutes"]) * 60
        timeout_s = float(spec.get("timeout_seconds", timeout_s))
    else:
        spec, fn, retries, timeout_s = defs.crawlers[node], jobs.get("crawler", run_crawler), 0, None
    attempt_no = [0]

    def one_attempt() -> None:
        prev = wf.runs[-1].id if attempt_no[0] and wf.runs and wf.runs[-1].job == node else None
        run = JobRun(f"jr_{uuid.uuid4().hex}", wf.id, node, wf.month, attempt_no[0], "STARTING", _now(),
                     previous_run_id=prev)
        attempt_no[0] += 1
        wf.runs.append(run)
        _record(rt.settings, run)  # STARTING: before any of the job's work
        t0 = time.monotonic()
        try:
            run.metrics = _attempt(rt, fn, spec, wf.month, run, timeout_s, stop_grace_s) or {}
            run.state = "SUCCEEDED"
        except JobStopped as e:
            run.state, run.error = "STOPPED", str(e)
            raise
        except JobTimeout as e:
            run.state, run.error = "TIMEOUT", str(e)
            raise
        except Exception as e:  # noqa: BLE001 - any job error is the run's FAILED state
            run.state, run.error = "FAILED", f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
            log.exception("job run %s of %s failed", run.id, node)
            raise JobFailed(run.error) from e
        finally:
            run.completed_on = _now()
            run.execution_seconds = round(time.monotonic() - t0, 2)
            _record(rt.settings, run)
            if wf.started_on:
                _save_run(rt.settings, wf)

    try:
        for attempt in Retrying(stop=stop_after_attempt(retries + 1), reraise=False,
                                wait=wait_exponential(multiplier=backoff_s, max=60),
                                sleep=lambda s: rt.stop.event.wait(s),
                                retry=retry_if_exception_type((JobFailed, JobTimeout))):
            with attempt:
                if attempt_no[0] and rt.stop.stopped:
                    break  # stopped during the backoff: no further attempt
                one_attempt()
    except (RetryError, JobStopped):
        pass
    return wf.runs[-1].state


def _conditions_met(trigger: dict, wf: WorkflowRun) -> bool:
    p = trigger["predicate"]
    results = [wf.final_state(c.get("job") or c.get("crawler")) == c["state"] for c in p["conditions"]]
    return all(results) if p.get("logical", "AND") == "AND" else any(results)


def run_workflow(settings: Settings, month: str, defs: Definitions | None = None, spark_factory=None,
                 bookmark_option: str | None = None, backoff_s: float = 2.0,
                 jobs: dict[str, Callable] | None = None, stop: StopControl | None = None,
                 started_by: str = "manual", stop_grace_s: float = 120.0,
                 on_start: Callable[[WorkflowRun], None] | None = None) -> WorkflowRun:
    """Start the workflow for a month (the start trigger's actions), then fire conditional triggers as
    their predicates become true, each at most once, until nothing more fires or the run is stopped."""
    from taxilab.orchestration.pipeline import month_lock

    paths.split_month(month)
    defs = defs or load_definitions()
    if bookmark_option is not None and bookmark_option not in bookmarks.OPTIONS:
        raise bookmarks.BookmarkError(f"--job-bookmark-option must be one of {', '.join(bookmarks.OPTIONS)}")
    control = stop or StopControl()
    wf = WorkflowRun(f"wr_{uuid.uuid4().hex}", defs.workflow["name"], month, started_by=started_by)
    rt = Runtime(settings, spark_factory, bookmark_option, control)
    with month_lock(settings, month), stop_on_signals(control), _watch_stop_file(settings, wf.id, control):
        wf.started_on = _now()
        _save_run(settings, wf)
        if on_start:
            on_start(wf)
        try:
            start = next(t for t in defs.triggers if t["type"] != "CONDITIONAL")
            queue = [a.get("job") or a.get("crawler") for a in start["actions"]]
            fired: set[str] = set()
            while queue and not control.stopped:
                node = queue.pop(0)
                run_node(rt, wf, defs, node, backoff_s, jobs, stop_grace_s)
                if control.stopped:
                    break  # a stopped workflow run fires nothing more
                for t in defs.triggers:
                    if t["type"] == "CONDITIONAL" and t["name"] not in fired and _conditions_met(t, wf):
                        fired.add(t["name"])
                        queue += [a.get("job") or a.get("crawler") for a in t["actions"]]
            failed = [r for r in wf.runs if r.state != "SUCCEEDED" and wf.final_state(r.job) != "SUCCEEDED"]
            if control.stopped:
                wf.status, wf.stop_reason = "STOPPED", control.reason
            else:
                wf.status = "FAILED" if failed else "COMPLETED"
        except BaseException:
            wf.status = "FAILED"
            raise
        finally:
            wf.completed_on = _now()
            _save_run(settings, wf)
            stop_file(settings, wf.id).unlink(missing_ok=True)
    return wf
