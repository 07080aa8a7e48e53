"""The local runner of the declared Glue workflow (spark_jobs/jobgraph.json) with Glue's trigger semantics.
Why: docs/adr/0006-glue-crawler-bookmarks-workflow-run-by-the-lab.md.
"""

from __future__ import annotations

import contextlib
import logging
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict  # noqa: F401 - callers format job runs with workflow.asdict

from tenacity import RetryError, Retrying, retry_if_exception_type, stop_after_attempt, wait_exponential

from emulation.glue import bookmarks
from emulation.glue.job_runs import (  # noqa: F401 - the run records' API, re-exported for callers
    FINAL_JOB_STATES,
    FINAL_WORKFLOW_STATES,
    POLL_S,
    JobRun,
    StopControl,
    StopError,
    WorkflowRun,
    history,
    history_file,
    record,
    request_stop,
    runs_dir,
    save_run,
    stop_file,
    stop_on_signals,
    transition,
    transitions,
    watch_stop_file,
    workflow_runs,
)
from spark_jobs.io import paths
from spark_jobs.month import Month
from taxilab.core.jobgraph import Definitions, declared_argv
from taxilab.core.jobgraph import load as load_definitions
from taxilab.core.runs import month_lock, now_iso, timed
from taxilab.core.settings import Settings

log = logging.getLogger(__name__)


class JobFailed(RuntimeError):
    pass


class JobTimeout(RuntimeError):
    pass


class JobStopped(RuntimeError):
    """Raised at a job's safe point once its workflow run was asked to stop."""


# ---- the local implementations of the declared jobs -------------------------------------------------
class Runtime:
    """What local job runs share: settings, a lazily started Spark session, the bookmark override, and the
    run's stop event (jobs call checkpoint() at their safe points)."""

    def __init__(
        self,
        settings: Settings,
        spark_factory: Callable | None = None,
        bookmark_option: str | None = None,
        stop: StopControl | None = None,
    ):
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


def job_argv_for(job: dict, settings: Settings, month: str, name: str) -> list[str]:
    """The declared job's Glue argv for a month (taxilab.core.jobgraph.declared_argv)."""
    return declared_argv(job, settings, month, name)


def run_etl(rt: Runtime, job: dict, month: str, run_id: str) -> dict:
    """The etl job with Glue bookmarks: only raw objects of the month not committed for (job, context)."""
    from spark_jobs.jobs import etl

    s = rt.settings
    option = rt.bookmark_option or job.get("bookmark", bookmarks.DISABLE)
    argv = job_argv_for(job, s, month, "etl") + ["--job-bookmark-option", option, "--JOB_RUN_ID", run_id]
    objects = bookmarks.list_objects(s, paths.raw_month_prefix(s.dataset, month))
    rt.checkpoint()
    with bookmarks.bookmarked(s, job["name"], "raw_source", objects, option, run_id) as todo:
        files = [o.key for o in todo]
        # Without a bookmark, or when a processed object changed (a new version of the same key), the whole
        # month is redone with its replace semantics: appending would keep the old version's rows.
        whole_month = option == bookmarks.DISABLE or bool(
            bookmarks.changed(s, job["name"], "raw_source", todo)
        )
        m = etl.main(argv, rt.spark(), files=None if whole_month else files)
        rt.checkpoint()  # a stop that came in while the job ran: its bookmark is not committed
    m["bookmark"] = {
        "option": option,
        "objects_seen": len(objects),
        "objects_processed": len(todo),
        "whole_month": whole_month,
    }
    return m


def run_aggregates(rt: Runtime, job: dict, month: str, run_id: str) -> dict:
    from spark_jobs.jobs import aggregates

    rt.checkpoint()
    return aggregates.main(job_argv_for(job, rt.settings, month, "aggregates"), rt.spark())


def run_crawler(rt: Runtime, crawler: dict, month: str, run_id: str) -> dict:
    """The crawler with its declared SchemaChangePolicy, one zone at a time: between zones is a safe point
    for a stop. Every zone is crawled; schema conflicts the policy cannot absorb fail the run at the end."""
    from emulation.glue import crawler as crawl_mod

    policy = crawl_mod.SchemaChangePolicy.of(crawler)
    res, errors = [], []
    for zone in crawler["zones"]:
        rt.checkpoint()
        try:
            res += crawl_mod.crawl(rt.settings, (zone,), policy)
        except crawl_mod.CrawlError as e:
            res += getattr(e, "results", [])
            errors.append(e)
    if errors:
        raise errors[0] if len(errors) == 1 else crawl_mod.CrawlError("; ".join(str(e) for e in errors))
    return {
        "tables": {f"{r.database}.{r.table}": r.action for r in res},
        "partitions_added": sum(r.partitions_added for r in res),
        "widened": {f"{r.database}.{r.table}": r.widened for r in res if r.widened},
        "schema_conflicts": [str(c) for r in res for c in r.conflicts],
    }


# "local" names of spark_jobs/jobgraph.json -> the emulated Glue's own implementations: the Spark job
# scripts' main() on the lab's Spark, and the crawler. The product adds its warehouse jobs
# (taxilab.orchestration.jobs); the runner never imports the product (docs/adr/0012).
LOCAL_JOBS: dict[str, Callable] = {"etl": run_etl, "aggregates": run_aggregates, "crawler": run_crawler}


# ---- running one node with retries and timeout ---------------------------------------------------------
def _attempt(
    rt: Runtime,
    fn: Callable,
    spec: dict,
    month: str,
    run: JobRun,
    timeout_s: float | None,
    stop_grace_s: float,
) -> dict:
    """Run fn in a worker thread; RUNNING is recorded when its code starts. Waits for the result while
    watching the timeout and the stop event."""

    def work():
        rt.checkpoint()  # a stop between STARTING and RUNNING: the job's code never starts
        transition(rt.settings, run, "RUNNING")
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
                    raise JobStopped(
                        f"{rt.stop.reason}; the job did not reach a safe point within "
                        f"{stop_grace_s:g} s and was abandoned"
                    ) from None
                except Exception as e:  # noqa: BLE001 - cancelled Spark work surfaces as any error
                    raise JobStopped(f"{rt.stop.reason} ({type(e).__name__} after cancel)") from e
            if deadline is not None and time.monotonic() >= deadline:
                rt.cancel_spark()  # stop the runaway job's Spark work, as Glue stops the job
                raise JobTimeout(f"{run.job} exceeded its timeout of {timeout_s:g} s")
            wait = POLL_S if deadline is None else max(0.0, min(POLL_S, deadline - time.monotonic()))
            rt.stop.event.wait(wait)
    finally:
        pool.shutdown(wait=False)


def run_node(
    rt: Runtime,
    wf: WorkflowRun,
    defs: Definitions,
    node: str,
    backoff_s: float = 2.0,
    jobs: dict[str, Callable] | None = None,
    stop_grace_s: float = 120.0,
) -> str:
    """Run a job or crawler to a final state (with the job's retries); returns that state."""
    jobs = jobs or LOCAL_JOBS
    if node in defs.jobs:
        spec = defs.jobs[node]
        if spec["local"] not in jobs:
            raise KeyError(
                f"job {node}: no local implementation for {spec['local']!r} (have {', '.join(sorted(jobs))})"
            )
        fn = jobs[spec["local"]]
        retries, timeout_s = int(spec.get("max_retries", 0)), float(spec["timeout_minutes"]) * 60
        timeout_s = float(spec.get("timeout_seconds", timeout_s))
    else:
        spec, fn, retries, timeout_s = defs.crawlers[node], jobs.get("crawler", run_crawler), 0, None
    attempt_no = [0]

    def one_attempt() -> None:
        prev = wf.runs[-1].id if attempt_no[0] and wf.runs and wf.runs[-1].job == node else None
        run = JobRun(
            f"jr_{uuid.uuid4().hex}",
            wf.id,
            node,
            wf.month,
            attempt_no[0],
            "STARTING",
            now_iso(),
            previous_run_id=prev,
        )
        attempt_no[0] += 1
        wf.runs.append(run)
        record(rt.settings, run)  # STARTING: before any of the job's work
        try:
            with timed() as clock:  # measured on success and on failure alike
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
            run.completed_on = now_iso()
            run.execution_seconds = clock.seconds
            record(rt.settings, run)
            if wf.started_on:
                save_run(rt.settings, wf)

    try:
        for attempt in Retrying(
            stop=stop_after_attempt(retries + 1),
            reraise=False,
            wait=wait_exponential(multiplier=backoff_s, max=60),
            sleep=lambda s: None if rt.stop.event.wait(s) else None,
            retry=retry_if_exception_type((JobFailed, JobTimeout)),
        ):
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


def run_workflow(
    settings: Settings,
    month: str,
    defs: Definitions | None = None,
    spark_factory=None,
    bookmark_option: str | None = None,
    backoff_s: float = 2.0,
    jobs: dict[str, Callable] | None = None,
    stop: StopControl | None = None,
    started_by: str = "manual",
    stop_grace_s: float = 120.0,
    on_start: Callable[[WorkflowRun], None] | None = None,
    on_end: Callable[[WorkflowRun], None] | None = None,
    locked: bool = False,
    run_as: str | None = None,
) -> WorkflowRun:
    """Start the workflow for a month (the start trigger's actions), then fire conditional triggers as
    their predicates become true, each at most once, until nothing more fires or the run is stopped.
    `locked`: the caller already holds the month's run lock (taxilab pipeline holds it from ingest on)."""
    month = str(Month.parse(month))
    defs = defs or load_definitions()
    if bookmark_option is not None and bookmark_option not in bookmarks.OPTIONS:
        raise bookmarks.BookmarkError(f"--job-bookmark-option must be one of {', '.join(bookmarks.OPTIONS)}")
    control = stop or StopControl()
    # run_as: the name the run is recorded under (daily drops record theirs apart from the monthly runs,
    # whose COMPLETED ones backfill and the scheduler count as months done).
    wf = WorkflowRun(f"wr_{uuid.uuid4().hex}", run_as or defs.workflow["name"], month, started_by=started_by)
    rt = Runtime(settings, spark_factory, bookmark_option, control)
    lock = contextlib.nullcontext() if locked else month_lock(settings, month)
    with lock, stop_on_signals(control), watch_stop_file(settings, wf.id, control):
        wf.started_on = now_iso()
        save_run(settings, wf)
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
            wf.completed_on = now_iso()
            save_run(settings, wf)
            stop_file(settings, wf.id).unlink(missing_ok=True)
            if on_end:
                on_end(wf)  # e.g. the product's metrics and alarms for the run (taxilab.ops.workflow)
    return wf
