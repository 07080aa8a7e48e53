"""The whole pipeline for one month: services -> ingest -> the declared Glue workflow (spark_jobs/
jobgraph.json) with this module's job implementations as report stages; failures raise a StageError
naming the stage, the input and what to do. Why: docs/adr/0012-layout-and-layers.md.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from spark_jobs.io import paths
from spark_jobs.month import Month
from taxilab import faults, resources
from taxilab.core.jobgraph import declared_argv
from taxilab.core.runs import RunInProgress, month_lock, timed
from taxilab.core.settings import PROJECT_ROOT, Settings, load_settings
from taxilab.report import RunReport
from taxilab.validation import lakestats
from taxilab.validation.reconcile import ReconciliationError, reconcile

__all__ = [
    "Pipeline",
    "PipelineOptions",
    "ReconciliationError",
    "RunInProgress",
    "StageError",
    "brief_error",
    "month_lock",
    "reconcile",
]

log = logging.getLogger(__name__)
SQL_DIR = PROJECT_ROOT / "sql"
DEFAULT_ROWS = 3_007_526  # the real Feb 2024 count
ETL_JOB_NAME = "taxilab-etl"  # the declared etl job whose bookmark a whole-month run seeds


class StageError(RuntimeError):
    def __init__(self, stage: str, input_desc: str, problem: str, hint: str):
        super().__init__(f"stage '{stage}' failed on {input_desc}: {problem}\n  what to do: {hint}")
        self.stage, self.input_desc, self.problem, self.hint = stage, input_desc, problem, hint


@dataclass
class PipelineOptions:
    month: str = "2024-02"
    source: str = "synthetic"
    rows: int = DEFAULT_ROWS
    seed: int = 42
    progress: bool = True
    # The crawler's SchemaChangePolicy for this run ({"UpdateBehavior": "LOG"}, Glue's field names); None:
    # the one declared with the crawler in spark_jobs/jobgraph.json. E.g. LOG to complete a month whose
    # raw files bring an incompatible type change, with the conflict reported instead of failing the run.
    schema_change_policy: dict[str, str] | None = None


class Pipeline:
    def __init__(self, options: PipelineOptions, settings: Settings | None = None, console=None):
        self.opts = options
        self.settings = settings or load_settings()
        self.console = console
        self.report = RunReport(options.month, options.source, self.settings.profile)
        self.res = resources.for_settings(self.settings, self._new_spark)
        self._errors: dict[str, StageError] = {}

    # ---- helpers ----------------------------------------------------------------------------
    def say(self, msg: str) -> None:
        log.info(msg)
        if self.console:
            self.console.print(msg)

    @contextmanager
    def _stage(self, name: str, input_desc: str, hint: str) -> Iterator[Any]:
        st = self.report.stage(name)
        self.say(f"[bold]▶ {name}[/] — {input_desc}")
        with timed() as clock:
            try:
                yield st
                st.status = "succeeded"
            except StageError as e:
                st.status = "failed"
                self._errors[name] = e
                raise
            except Exception as e:  # noqa: BLE001 - every failure is reported with its stage
                st.status = "failed"
                st.error = brief_error(e)
                log.exception("stage %s failed", name)  # the whole trace (JVM included) goes to the log only
                self._errors[name] = StageError(name, input_desc, st.error, hint)
                raise self._errors[name] from e
        st.seconds = clock.seconds

    def _new_spark(self) -> Any:
        from emulation.spark import get_session

        return get_session(self.settings)

    def spark(self) -> Any:
        """The local job runner's SparkSession (the workflow runner cancels its jobs on stop/timeout)."""
        return self.res.jobs.spark() if hasattr(self.res.jobs, "spark") else None

    # ---- stages -------------------------------------------------------------------------------
    def services(self) -> None:
        services = self.res.services
        if not services.starts_with_pipeline:
            return
        with self._stage("services", services.name, "see .lab/logs/*.log; `make down` then retry") as st:
            self.settings, detail = services.ensure_running(self.settings)
            self.res = resources.for_settings(self.settings, self._new_spark)
            st.detail = {k: v for k, v in detail.items() if k != "lake_fresh"}
            if detail.get("lake_fresh"):
                self.report.notes.append(
                    "the S3/Glue emulator started empty (it keeps the lake in memory); the lake is rebuilt "
                    "from the local input cache by this run"
                )

    def ingest(self) -> None:
        o = self.opts
        with self._stage(
            "ingest",
            f"SOURCE={o.source} MONTH={o.month}",
            "check SOURCE/MONTH; for tlc, check the network; rerun (downloads resume)",
        ) as st:
            from taxilab.ingest import raw

            bar = _bar(
                "generate" if o.source == "synthetic" else "download",
                o.rows if o.source == "synthetic" else None,
                unit="rows" if o.source == "synthetic" else "B",
                enabled=o.progress,
            )
            progress = (
                (lambda n: bar.update(n))
                if o.source == "synthetic"
                else (lambda done, total: _set(bar, done, total))
            )
            src = raw.obtain_source(self.settings, o.month, o.source, o.rows, o.seed, progress=progress)
            bar.close()
            raw.ensure_bucket(self.settings)
            size = src.path.stat().st_size
            up = _bar("upload", size, unit="B", enabled=o.progress)

            # faults.checkpoint: a robustness kill point mid-upload (no-op unless TAXILAB_FAULT_KILL_AT is set)
            def uploaded(n: int) -> None:
                up.update(n)
                faults.checkpoint("ingest:upload", self.settings)

            landed = raw.land_month(self.settings, o.month, src, progress=uploaded)
            up.close()
            zones = raw.land_zone_lookup(self.settings)
            stats = lakestats.raw_stats(self.settings, o.month)
            st.rows_in = landed.rows
            st.rows_out = stats.rows
            st.total_amount = stats.total_amount
            st.detail = {
                "source": src.source,
                "cached_input": src.cached,
                "raw_key": landed.key,
                "sha256": landed.sha256,
                "action": landed.action,
                "version_id": landed.version_id,
                "zone_lookup": zones,
                "generate_or_download_seconds": round(src.seconds, 2),
            }
            if landed.action == "new-version":
                self.report.notes.append(
                    f"raw {landed.key}: new bytes (sha256 {landed.sha256[:12]}…) kept as a new "
                    f"version; previous {(landed.previous_sha256 or '')[:12]}… retained"
                )

    def etl(self, argv: list[str]) -> None:
        o, s = self.opts, self.settings
        raw_url = paths.s3_url(s.bucket, paths.raw_month_prefix(s.dataset, o.month))
        with self._stage(
            "etl", raw_url, "see .lab/logs/spark.log; fix or remove the bad raw file and rerun"
        ) as st:
            jobs = self.res.jobs
            objects_before = jobs.raw_objects(o.month)
            m = jobs.run("etl", argv)
            staged = lakestats.staging_stats(s, o.month)
            st.rows_in, st.rows_out, st.quarantined = m["rows_in"], staged.rows, m["quarantined"]
            st.quarantined_by_reason = m["quarantined_by_reason"]
            st.total_amount = staged.total_amount
            st.detail = {
                "files": m["files"],
                "job_seconds": m["seconds"],
                "phases": m["phases"],
                "stale_partitions_dropped": m["stale_partitions_dropped"],
                "job_runner": jobs.kind,
            }
            # A whole-month run processed every raw object of the month: committed to the etl job's Glue
            # bookmark, so a later bookmarked run (workflow, daily drops) does not append them a second time.
            st.detail["bookmark_seeded"] = jobs.seed_bookmark(
                ETL_JOB_NAME, objects_before, m["files"], f"pipeline:{self.report.run_id}"
            )

    def aggregates(self, argv: list[str]) -> None:
        o, s = self.opts, self.settings
        with self._stage(
            "aggregates",
            paths.s3_url(s.bucket, paths.staging_prefix(s.dataset)),
            "see .lab/logs/spark.log; rerun `taxilab etl` first if staging is missing",
        ) as st:
            m = self.res.jobs.run("aggregates", argv)
            st.rows_in = m["rows_in"]
            st.rows_out = sum(m["tables"].values())
            st.total_amount = lakestats.curated_stats(s, o.month, "daily_summary")["total_revenue"]
            st.detail = {"tables": m["tables"], "job_seconds": m["seconds"]}

    def crawl(self) -> None:
        s = self.settings
        with self._stage(
            "crawl",
            f"s3://{s.bucket} raw/staging/quarantine/curated -> Glue catalog",
            "a schema conflict named above: replace the month's file with one in a type the catalog has "
            "(or declare the crawler's schema_change_policy UpdateBehavior LOG in spark_jobs/jobgraph.json); "
            "a connection error: the warehouse (its Spectrum schemas follow the catalog) is down, `make up`; "
            "then rerun the month",
        ) as st:
            if self.opts.schema_change_policy is not None:
                self._override_crawler_policy(self.opts.schema_change_policy)
            try:
                results = (
                    self.res.crawler.crawl()
                )  # rows in/out stay empty: the crawler moves metadata, not rows
            except Exception as e:
                st.detail = _crawl_detail(getattr(e, "results", []))
                raise
            st.detail = _crawl_detail(results)
            if st.detail.get("schema_conflicts"):
                # UpdateBehavior LOG: the table kept its schema, each partition its own; the run goes on.
                self.report.notes.append(
                    "crawl: incompatible schema change(s) logged, not applied "
                    "(SchemaChangePolicy UpdateBehavior LOG): " + "; ".join(st.detail["schema_conflicts"])
                )
            # Spectrum's external schemas follow the catalog's new partitions (ADR 0008; Redshift: nothing to do).
            refreshed = self.res.warehouse.refresh_external_schemas()
            if refreshed:
                st.detail["spectrum_external_tables"] = refreshed

    def _override_crawler_policy(self, declared: dict[str, str]) -> None:
        from taxilab.core.jobgraph import schema_change_policy

        policy = schema_change_policy(
            {"name": "pipeline option", "schema_change_policy": declared},
            "PipelineOptions.schema_change_policy",
        )
        if not hasattr(self.res.crawler, "policy"):
            raise ValueError(
                f"profile {self.settings.profile}: the crawler's SchemaChangePolicy is the deployed "
                "crawler's; change it there (deploy_aws) instead of per run"
            )
        from emulation.glue.crawler import SchemaChangePolicy

        self.res.crawler.policy = SchemaChangePolicy(**policy)

    def warehouse(self) -> None:
        o, s = self.opts, self.settings
        with self._stage(
            "warehouse",
            f"s3://{s.bucket}/staging + curated -> {_redact(s.warehouse_dsn)}",
            "check the warehouse is up (`make up`); the load is transactional: just rerun",
        ) as st:
            res = self.res.warehouse.load_month(o.month, progress=o.progress)
            st.rows_in = res["rows_in"]
            st.rows_out = res["rows_loaded"]
            st.total_amount = res["fct_trips_total_amount"]
            st.detail = res["tables"]

    def validate(self) -> None:
        o, s = self.opts, self.settings
        with self._stage(
            "validate", f"lake + warehouse for {o.month}", "a mismatch is a bug: see the checks in the report"
        ) as st:
            checks = reconcile(s, o.month)
            self.report.checks.extend(checks)
            bad = [c for c in checks if not c.ok]
            st.rows_in = len(checks)
            st.rows_out = len(checks) - len(bad)
            st.detail = {"checks": len(checks), "mismatches": len(bad)}
            if bad:
                names = ", ".join(c.name for c in bad)
                raise ReconciliationError(f"{len(bad)} reconciliation check(s) failed: {names}")

    # ---- run ----------------------------------------------------------------------------------
    def _declared_jobs(self) -> dict[str, Callable]:
        """The declared graph's local names -> this run's stages (each fills its report stage)."""
        stages: dict[str, Callable] = {
            "etl": self.etl,
            "aggregates": self.aggregates,
            "crawler": self.crawl,
            "warehouse": self.warehouse,
            "validate": self.validate,
        }
        kill_point = {"etl": "etl", "aggregates": "aggregates", "crawler": "crawl", "warehouse": "warehouse"}

        def job(local: str) -> Callable:
            def run(rt: Any, spec: dict, month: str, run_id: str) -> dict:
                rt.checkpoint()
                if local in ("etl", "aggregates"):
                    if hasattr(self.res.jobs, "spark"):
                        rt.spark()  # registered with the runner, which cancels its Spark jobs on stop or timeout
                    stages[local](declared_argv(spec, self.settings, month))
                else:
                    stages[local]()
                if local in kill_point:
                    faults.checkpoint(f"after:{kill_point[local]}", self.settings)
                return {}

            return run

        return {name: job(name) for name in stages}

    def _run_workflow(self) -> None:
        wf = self.res.workflows.run(
            self.opts.month,
            jobs=self._declared_jobs(),
            spark_factory=self.spark if hasattr(self.res.jobs, "spark") else None,
            started_by=f"taxilab pipeline {self.report.run_id}",
            locked=True,
        )
        self.report.notes.append(f"workflow {wf.workflow} run {wf.id}: {wf.status}")
        if wf.status == "COMPLETED":
            return
        last = wf.runs[-1] if wf.runs else None
        stage = {"taxilab-crawler": "crawl", "taxilab-load-warehouse": "warehouse"}.get(
            last.job if last else "", (last.job.removeprefix("taxilab-") if last else "workflow")
        )
        half = half_done(self.opts.month, [r.job for r in wf.runs if r.state == "SUCCEEDED"])
        if half:
            self.report.notes.append(half)
            failed = self.report.get(stage)
            if failed is not None:
                failed.detail["half_done"] = half
        if stage in self._errors:
            raise self._errors[stage]
        raise StageError(
            stage,
            f"workflow run {wf.id}",
            f"{last.state if last else wf.status}: {(last.error if last else wf.stop_reason) or 'no detail'}",
            "see `taxilab glue workflow history` and .lab/logs; rerun when fixed",
        )

    def run(self) -> RunReport:
        Month.parse(self.opts.month)
        try:
            with month_lock(self.settings, self.opts.month):
                self.services()
                faults.arm(self.settings)  # robustness kill points; no-ops unless the setting is on
                self.ingest()
                faults.checkpoint("after:ingest", self.settings)
                self._run_workflow()
            self.report.finish("succeeded")
        except BaseException as e:
            self.report.finish("failed", str(e).splitlines()[0] if str(e) else type(e).__name__)
            raise
        finally:
            from taxilab import ops

            ops.after_run(self.settings, self.report)  # metrics, cost, alarms; never raises
            # A report saying validated is written only after the load it validated was durably committed:
            # the warehouse stage returns after its synchronous commit (loader.durable_commits, ADR 0020).
            self.report.write(self.settings.runs_dir)
        return self.report


# What each declared job leaves behind for the month, in workflow order (for a run that stopped half-way).
_JOB_OUTCOMES = (
    ("taxilab-etl", "staging and quarantine written", "staging not written"),
    ("taxilab-aggregates", "curated aggregates written", "curated aggregates not written"),
    ("taxilab-crawler", "catalog updated", "catalog not updated"),
    ("taxilab-load-warehouse", "warehouse loaded", "warehouse not loaded"),
    ("taxilab-validate", "reconciled", "not reconciled"),
)


def half_done(month: str, succeeded_jobs: list[str]) -> str | None:
    """What a failed run leaves half-done for the month, and the command that repairs it (every stage
    replaces the month it writes, so a rerun of the month is the repair); None when nothing was done."""
    done = [ok for job, ok, _ in _JOB_OUTCOMES if job in succeeded_jobs]
    if not done:
        return None
    todo = [not_ok for job, _, not_ok in _JOB_OUTCOMES if job not in succeeded_jobs]
    return (
        f"half-done for {month}: {', '.join(done)}; {', '.join(todo)}: rerun `make pipeline MONTH={month}` "
        "(each stage replaces the month it writes)"
    )


def _crawl_detail(results: list[Any]) -> dict:
    detail: dict[str, Any] = {}
    for r in results:
        d = {
            "action": r.action,
            "partitions": r.partitions_total,
            "added": r.partitions_added,
            "removed": r.partitions_removed,
        }
        for key in ("widened", "new_columns", "partitions_kept"):
            if getattr(r, key, None):
                d[key] = list(getattr(r, key))
        if getattr(r, "partitions_updated", 0):
            d["updated"] = r.partitions_updated
        if getattr(r, "held_back", False):
            d["held_back"] = True  # UpdateBehavior LOG: the compatible changes were logged, not applied
        if getattr(r, "version", None):
            d["table_version"] = r.version
        detail[f"{r.database}.{r.table}"] = d
    conflicts = [str(c) for r in results for c in getattr(r, "conflicts", [])]
    if conflicts:
        detail["schema_conflicts"] = conflicts
    return detail


def brief_error(e: BaseException, limit: int = 2000) -> str:
    """`Type: message` for people: a Py4J/JVM error keeps its first line, the Java exception's line and its
    root cause, never the Java stack (that stays in the log)."""
    text = str(e)
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    if len(lines) > 1 and any(ln.startswith("at ") for ln in lines):
        keep = [lines[0]]
        java = next((ln for ln in lines[1:] if ln.startswith(":")), None)
        if java:
            keep.append(java.lstrip(": "))
        causes = [ln for ln in lines if ln.startswith("Caused by:")]
        if causes:
            keep.append(causes[-1])
        text = " | ".join(keep)
    text = f"{type(e).__name__}: {text}"
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _redact(dsn: str | None) -> str:
    if not dsn:
        return "warehouse (no DSN)"
    from urllib.parse import urlsplit

    u = urlsplit(dsn)
    return f"{u.scheme}://{u.hostname}:{u.port}{u.path}"


class _NoBar:
    def update(self, n=1):
        pass

    def close(self):
        pass


def _bar(desc: str, total: int | None, unit: str, enabled: bool):
    if not enabled:
        return _NoBar()
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit=unit, unit_scale=True, leave=False, dynamic_ncols=True)


def _set(bar, done: int, total: int | None) -> None:
    if hasattr(bar, "total") and total and bar.total != total:
        bar.total = total
    if hasattr(bar, "n"):
        bar.update(done - bar.n)
