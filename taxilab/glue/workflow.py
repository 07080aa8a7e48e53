"""The pipeline as a Glue workflow, run locally with Glue's trigger semantics.

The graph comes from glue/definitions.json: one start trigger (ON_DEMAND or SCHEDULED, Glue cron) and
CONDITIONAL triggers on predecessors' final states. Each job run is recorded like a Glue JobRun (id,
state STARTING/RUNNING/SUCCEEDED/FAILED/TIMEOUT/STOPPED, start/end, attempt, error) in
settings.state_dir/glue/job_runs.jsonl; a failed attempt is retried up to the job's max_retries with
exponential backoff, each retry a new run with the next attempt number; a job over its timeout is TIMEOUT
(its Spark jobs are cancelled). A job that ends FAILED/TIMEOUT fires no SUCCEEDED-conditioned successor.
One workflow run at a time per month (taxilab.pipeline.month_lock: a second start is refused).
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime

from tenacity import RetryError, Retrying, retry_if_exception_type, stop_after_attempt, wait_exponential

from spark_jobs.io import paths
from taxilab.glue import bookmarks
from taxilab.glue.definitions import Definitions, job_arguments
from taxilab.glue.definitions import load as load_definitions
from taxilab.settings import Settings

log = logging.getLogger(__name__)
_HISTORY_LOCK = threading.Lock()


class JobFailed(RuntimeError):
    pass


class JobTimeout(RuntimeError):
    pass


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


@dataclass
class WorkflowRun:
    id: str
    workflow: str
    month: str
    runs: list[JobRun] = field(default_factory=list)
    status: str = "RUNNING"

    def final_state(self, node: str) -> str | None:
        mine = [r for r in self.runs if r.job == node]
        return mine[-1].state if mine else None


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def history_file(settings: Settings):
    return settings.state_dir / "glue" / "job_runs.jsonl"


def _record(settings: Settings, run: JobRun) -> None:
    p = history_file(settings)
    p.parent.mkdir(parents=True, exist_ok=True)
    with _HISTORY_LOCK, p.open("a") as f:
        f.write(json.dumps(asdict(run)) + "\n")


def history(settings: Settings, job: str | None = None, limit: int = 50) -> list[dict]:
    """Latest state of each job run (the file holds every transition), newest last."""
    p = history_file(settings)
    if not p.exists():
        return []
    latest: dict[str, dict] = {}
    for line in p.read_text().splitlines():
        r = json.loads(line)
        latest[r["id"]] = r
    out = [r for r in latest.values() if job is None or r["job"] == job]
    return out[-limit:]


# ---- the local implementations of the declared jobs -------------------------------------------------
class Runtime:
    """What local job runs share: settings, a lazily started Spark session, the bookmark override."""

    def __init__(self, settings: Settings, spark_factory: Callable | None = None, bookmark_option: str | None = None):
        self.settings = settings
        self._spark_factory = spark_factory
        self._spark = None
        self.bookmark_option = bookmark_option

    def spark(self):
        if self._spark is None:
            if self._spark_factory is None:
                from emulation.spark import get_session

                self._spark = get_session(self.settings)
            else:
                self._spark = self._spark_factory()
        return self._spark


def run_etl(rt: Runtime, job: dict, month: str, run_id: str) -> dict:
    """The etl job with Glue bookmarks: only raw objects of the month not committed for (job, context)."""
    from spark_jobs.jobs import etl
    from taxilab.pipeline import job_args

    s = rt.settings
    option = rt.bookmark_option or job.get("bookmark", bookmarks.DISABLE)
    args = job_arguments(job, {"bucket": s.bucket, "dataset": s.dataset, "month": month})
    argv = job_args("etl", **{k[2:]: v for k, v in args.items() if k != "--job-bookmark-option"})
    argv += ["--job-bookmark-option", option, "--JOB_RUN_ID", run_id]
    objects = bookmarks.list_objects(s, paths.raw_month_prefix(s.dataset, month))
    with bookmarks.bookmarked(s, job["name"], "raw_source", objects, option, run_id) as todo:
        files = [o.key for o in todo]
        # Without a bookmark, or when a processed object changed (a new version of the same key), the whole
        # month is redone with its replace semantics: appending would keep the old version's rows.
        whole_month = option == bookmarks.DISABLE or bool(bookmarks.changed(s, job["name"], "raw_source", todo))
        m = etl.main(argv, rt.spark(), files=None if whole_month else files)
    m["bookmark"] = {"option": option, "objects_seen": len(objects), "objects_processed": len(todo),
                     "whole_month": whole_month}
    return m


def run_aggregates(rt: Runtime, job: dict, month: str, run_id: str) -> dict:
    from spark_jobs.jobs import aggregates
    from taxilab.pipeline import job_args

    s = rt.settings
    args = job_arguments(job, {"bucket": s.bucket, "dataset": s.dataset, "month": month})
    return aggregates.main(job_args("aggregates", **{k[2:]: v for k, v in args.items()
                                                      if k != "--job-bookmark-option"}), rt.spark())


def run_crawler(rt: Runtime, crawler: dict, month: str, run_id: str) -> dict:
    from taxilab.glue import crawler as crawl_mod

    res = crawl_mod.crawl(rt.settings, tuple(crawler["zones"]))
    return {"tables": {f"{r.database}.{r.table}": r.action for r in res},
            "partitions_added": sum(r.partitions_added for r in res)}


LOCAL_JOBS: dict[str, Callable] = {"etl": run_etl, "aggregates": run_aggregates}


# ---- running one node with retries and timeout ---------------------------------------------------------
def _attempt(rt: Runtime, fn: Callable, spec: dict, month: str, run: JobRun, timeout_s: float | None) -> dict:
    pool = ThreadPoolExecutor(max_workers=1)
    fut = pool.submit(fn, rt, spec, month, run.id)
    try:
        return fut.result(timeout=timeout_s)
    except FutureTimeout:
        if rt._spark is not None:  # stop the runaway job's Spark work, as Glue stops the job
            rt._spark.sparkContext.cancelAllJobs()
        raise JobTimeout(f"{run.job} exceeded its timeout of {timeout_s:g} s") from None
    finally:
        pool.shutdown(wait=False)


def run_node(rt: Runtime, wf: WorkflowRun, defs: Definitions, node: str, backoff_s: float = 2.0,
             jobs: dict[str, Callable] | None = None) -> str:
    """Run a job or crawler to a final state (with the job's retries); returns that state."""
    jobs = jobs or LOCAL_JOBS
    if node in defs.jobs:
        spec = defs.jobs[node]
        fn = jobs[spec["local"]]
        retries, timeout_s = int(spec.get("max_retries", 0)), float(spec["timeout_minutes"]) * 60
        timeout_s = float(spec.get("timeout_seconds", timeout_s))
    else:
        spec, fn, retries, timeout_s = defs.crawlers[node], run_crawler, 0, None
    attempt_no = [0]

    def one_attempt() -> None:
        run = JobRun(f"jr_{uuid.uuid4().hex}", wf.id, node, wf.month, attempt_no[0], "RUNNING", _now())
        attempt_no[0] += 1
        wf.runs.append(run)
        _record(rt.settings, run)
        t0 = time.monotonic()
        try:
            run.metrics = _attempt(rt, fn, spec, wf.month, run, timeout_s) or {}
            run.state = "SUCCEEDED"
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

    try:
        for attempt in Retrying(stop=stop_after_attempt(retries + 1), reraise=False,
                                wait=wait_exponential(multiplier=backoff_s, max=60),
                                retry=retry_if_exception_type((JobFailed, JobTimeout))):
            with attempt:
                one_attempt()
    except RetryError:
        pass
    return wf.runs[-1].state


def _conditions_met(trigger: dict, wf: WorkflowRun) -> bool:
    p = trigger["predicate"]
    results = [wf.final_state(c.get("job") or c.get("crawler")) == c["state"] for c in p["conditions"]]
    return all(results) if p.get("logical", "AND") == "AND" else any(results)


def run_workflow(settings: Settings, month: str, defs: Definitions | None = None, spark_factory=None,
                 bookmark_option: str | None = None, backoff_s: float = 2.0,
                 jobs: dict[str, Callable] | None = None) -> WorkflowRun:
    """Start the workflow for a month (the start trigger's actions), then fire conditional triggers as
    their predicates become true, each at most once, until nothing more fires."""
    from taxilab.pipeline import month_lock

    paths.split_month(month)
    defs = defs or load_definitions()
    if bookmark_option is not None and bookmark_option not in bookmarks.OPTIONS:
        raise bookmarks.BookmarkError(f"--job-bookmark-option must be one of {', '.join(bookmarks.OPTIONS)}")
    wf = WorkflowRun(f"wr_{uuid.uuid4().hex}", defs.workflow["name"], month)
    rt = Runtime(settings, spark_factory, bookmark_option)
    with month_lock(settings, month):
        start = next(t for t in defs.triggers if t["type"] != "CONDITIONAL")
        queue = [a.get("job") or a.get("crawler") for a in start["actions"]]
        fired: set[str] = set()
        while queue:
            node = queue.pop(0)
            run_node(rt, wf, defs, node, backoff_s, jobs)
            for t in defs.triggers:
                if t["type"] == "CONDITIONAL" and t["name"] not in fired and _conditions_met(t, wf):
                    fired.add(t["name"])
                    queue += [a.get("job") or a.get("crawler") for a in t["actions"]]
    failed = [r for r in wf.runs if r.state != "SUCCEEDED" and wf.final_state(r.job) != "SUCCEEDED"]
    wf.status = "FAILED" if failed else "COMPLETED"
    return wf
