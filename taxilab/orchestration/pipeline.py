"""The whole pipeline for one month: services -> ingest -> etl -> aggregates -> crawl -> warehouse -> validate.

Each stage records rows in/out, quarantined rows by reason, sum(total_amount) and wall time in the
run report; any failure is raised as a StageError naming the stage, the input and what to do.
"""

from __future__ import annotations

import fcntl
import logging
import os
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from spark_jobs.io import paths
from spark_jobs.schemas.contracts import CURATED
from taxilab import faults
from taxilab.core.settings import PROJECT_ROOT, Settings, load_settings
from taxilab.report import Check, RunReport
from taxilab.validation import lakestats

log = logging.getLogger(__name__)
SQL_DIR = PROJECT_ROOT / "sql"
DEFAULT_ROWS = 3_007_526  # the real Feb 2024 count


class StageError(RuntimeError):
    def __init__(self, stage: str, input_desc: str, problem: str, hint: str):
        super().__init__(f"stage '{stage}' failed on {input_desc}: {problem}\n  what to do: {hint}")
        self.stage, self.input_desc, self.problem, self.hint = stage, input_desc, problem, hint


class RunInProgress(RuntimeError):
    pass


class ReconciliationError(RuntimeError):
    pass


@dataclass
class PipelineOptions:
    month: str = "2024-02"
    source: str = "synthetic"
    rows: int = DEFAULT_ROWS
    seed: int = 42
    progress: bool = True


@contextmanager
def month_lock(settings: Settings, month: str):
    """One pipeline run at a time per month (a second start is refused, not queued)."""
    lock_dir = settings.state_dir / "locks"
    lock_dir.mkdir(parents=True, exist_ok=True)
    path = lock_dir / f"pipeline-{settings.dataset}-{month}.lock"
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = Path(path).read_text().strip() or "another process"
            raise RunInProgress(
                f"a pipeline run for {month} is already in progress ({holder}); wait for it or stop it first"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"pid {os.getpid()}".encode())
        yield
    finally:
        os.close(fd)


def job_args(name: str, **kwargs) -> list[str]:
    """Glue-style argv for a job script."""
    argv = [f"{name}.py", "--JOB_NAME", name]
    for k, v in kwargs.items():
        argv += [f"--{k}", str(v)]
    return argv


class Pipeline:
    def __init__(self, options: PipelineOptions, settings: Settings | None = None, console=None):
        self.opts = options
        self.settings = settings or load_settings()
        self.console = console
        self.report = RunReport(options.month, options.source, self.settings.profile)
        self._spark = None

    # ---- helpers ----------------------------------------------------------------------------
    def say(self, msg: str) -> None:
        log.info(msg)
        if self.console:
            self.console.print(msg)

    @contextmanager
    def _stage(self, name: str, input_desc: str, hint: str):
        st = self.report.stage(name)
        t0 = time.monotonic()
        self.say(f"[bold]▶ {name}[/] — {input_desc}")
        try:
            yield st
            st.status = "succeeded"
        except StageError:
            st.status = "failed"
            raise
        except Exception as e:  # noqa: BLE001 - every failure is reported with its stage
            st.status = "failed"
            st.error = brief_error(e)
            log.exception("stage %s failed", name)  # the whole trace (JVM included) goes to the log only
            raise StageError(name, input_desc, st.error, hint) from e
        finally:
            st.seconds = round(time.monotonic() - t0, 2)

    def spark(self):
        if self._spark is None:
            from emulation.spark import get_session

            self._spark = get_session(self.settings)
        return self._spark

    # ---- stages -------------------------------------------------------------------------------
    def services(self) -> None:
        if self.settings.profile != "local":
            return
        with self._stage("services", "embedded moto server + PostgreSQL", "see .lab/logs/*.log; `make down` then retry") as st:
            from emulation import services

            state = services.ensure_running(self.settings)
            self.settings = self.settings.with_endpoints(state.endpoints, state.warehouse_dsn)
            st.detail = {"endpoint": state.endpoints["s3"], "warehouse_dsn": state.warehouse_dsn}
            if state.lake_fresh:
                self.report.notes.append(
                    "the S3/Glue emulator started empty (it keeps the lake in memory); the lake is rebuilt "
                    "from the local input cache by this run"
                )

    def ingest(self) -> None:
        o = self.opts
        with self._stage("ingest", f"SOURCE={o.source} MONTH={o.month}",
                         "check SOURCE/MONTH; for tlc, check the network; rerun (downloads resume)") as st:
            from taxilab.ingest import raw

            bar = _bar("generate" if o.source == "synthetic" else "download", o.rows if o.source == "synthetic" else None,
                       unit="rows" if o.source == "synthetic" else "B", enabled=o.progress)
            progress = (lambda n: bar.update(n)) if o.source == "synthetic" else (lambda done, total: _set(bar, done, total))
            src = raw.obtain_source(self.settings, o.month, o.source, o.rows, o.seed, progress=progress)
            bar.close()
            raw.ensure_bucket(self.settings)
            size = src.path.stat().st_size
            up = _bar("upload", size, unit="B", enabled=o.progress)
            # faults.checkpoint: a robustness kill point mid-upload (no-op unless TAXILAB_FAULT_KILL_AT is set)
            landed = raw.land_month(self.settings, o.month, src,
                                    progress=lambda n: (up.update(n), faults.checkpoint("ingest:upload", self.settings)))
            up.close()
            zones = raw.land_zone_lookup(self.settings)
            stats = lakestats.raw_stats(self.settings, o.month)
            st.rows_in = landed.rows
            st.rows_out = stats.rows
            st.total_amount = stats.total_amount
            st.detail = {"source": src.source, "cached_input": src.cached, "raw_key": landed.key,
                         "sha256": landed.sha256, "action": landed.action, "version_id": landed.version_id,
                         "zone_lookup": zones, "generate_or_download_seconds": round(src.seconds, 2)}
            self.zone_url = zones
            if landed.action == "new-version":
                self.report.notes.append(f"raw {landed.key}: new bytes (sha256 {landed.sha256[:12]}…) kept as a new "
                                         f"version; previous {landed.previous_sha256[:12]}… retained")

    def etl(self) -> None:
        o, s = self.opts, self.settings
        raw_url = paths.s3_url(s.bucket, paths.raw_month_prefix(s.dataset, o.month))
        with self._stage("etl", raw_url, "see .lab/logs/spark.log; fix or remove the bad raw file and rerun") as st:
            from emulation.glue import bookmarks
            from spark_jobs.jobs import etl

            zone_url = getattr(self, "zone_url", None) or paths.s3_url(s.bucket, paths.zone_lookup_key())
            objects_before = bookmarks.list_objects(s, paths.raw_month_prefix(s.dataset, o.month))
            m = etl.main(job_args("etl", bucket=s.bucket, dataset=s.dataset, month=o.month, zone_lookup=zone_url), self.spark())
            staged = lakestats.staging_stats(s, o.month)
            st.rows_in, st.rows_out, st.quarantined = m["rows_in"], staged.rows, m["quarantined"]
            st.quarantined_by_reason = m["quarantined_by_reason"]
            st.total_amount = staged.total_amount
            st.detail = {"files": m["files"], "job_seconds": m["seconds"], "phases": m["phases"],
                         "stale_partitions_dropped": m["stale_partitions_dropped"]}
            st.detail["bookmark_seeded"] = self._seed_bookmark(objects_before, m["files"])

    def _seed_bookmark(self, objects, files: list[str]) -> int:
        """A whole-month run processed every raw object of the month: commit them to the etl job's Glue
        bookmark, so a later bookmarked run (workflow, daily drops) does not append them a second time."""
        from emulation.glue import bookmarks
        from taxilab.orchestration.drops import ETL_JOB

        done = [o for o in objects if o.key in set(files)]
        if done:
            bookmarks.commit(self.settings, ETL_JOB, "raw_source", done, run_id=f"pipeline:{self.report.run_id}")
        return len(done)

    def aggregates(self) -> None:
        o, s = self.opts, self.settings
        with self._stage("aggregates", paths.s3_url(s.bucket, paths.staging_prefix(s.dataset)),
                         "see .lab/logs/spark.log; rerun `taxilab etl` first if staging is missing") as st:
            from spark_jobs.jobs import aggregates

            m = aggregates.main(job_args("aggregates", bucket=s.bucket, dataset=s.dataset, month=o.month), self.spark())
            st.rows_in = m["rows_in"]
            st.rows_out = sum(m["tables"].values())
            st.total_amount = lakestats.curated_stats(s, o.month, "daily_summary")["total_revenue"]
            st.detail = {"tables": m["tables"], "job_seconds": m["seconds"]}

    def crawl(self) -> None:
        s = self.settings
        with self._stage("crawl", f"s3://{s.bucket} raw/staging/quarantine/curated -> Glue catalog",
                         "see the message: an incompatible column type change must be fixed in the data") as st:
            from emulation.glue import crawler

            results = crawler.crawl(s)  # rows in/out stay empty: the crawler moves metadata, not rows
            st.detail = {f"{r.database}.{r.table}": {"action": r.action, "partitions": r.partitions_total,
                                                     "added": r.partitions_added, "removed": r.partitions_removed}
                         for r in results}
            if s.profile != "aws" and s.warehouse_dsn:
                # Local Spectrum: external schemas' views follow the catalog's new partitions (ADR 0008).
                from emulation.redshift import spectrum
                from taxilab.warehouse import loader

                with loader.connect(s) as conn:
                    refreshed = spectrum.refresh(conn, s)
                if refreshed:
                    st.detail["spectrum_external_tables"] = refreshed

    def warehouse(self) -> None:
        o, s = self.opts, self.settings
        with self._stage("warehouse", f"s3://{s.bucket}/staging + curated -> {_redact(s.warehouse_dsn)}",
                         "check the warehouse is up (`make up`); the load is transactional: just rerun") as st:
            from taxilab.warehouse import loader

            res = loader.load_month(s, o.month, progress=o.progress)
            st.rows_in = res["rows_in"]
            st.rows_out = res["rows_loaded"]
            st.total_amount = res["fct_trips_total_amount"]
            st.detail = res["tables"]

    def validate(self) -> None:
        o, s = self.opts, self.settings
        with self._stage("validate", f"lake + warehouse for {o.month}", "a mismatch is a bug: see the checks in the report") as st:
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
    def run(self) -> RunReport:
        paths.split_month(self.opts.month)
        try:
            with month_lock(self.settings, self.opts.month):
                self.services()
                faults.arm(self.settings)  # robustness kill points; no-ops unless the setting is on
                for stage in (self.ingest, self.etl, self.aggregates, self.crawl, self.warehouse):
                    stage()
                    faults.checkpoint(f"after:{stage.__name__}", self.settings)
                self.validate()
            self.report.finish("succeeded")
        except BaseException as e:
            self.report.finish("failed", str(e).splitlines()[0] if str(e) else type(e).__name__)
            raise
        finally:
            self.report.write(self.settings.runs_dir)
        return self.report


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


def reconcile(settings: Settings, month: str) -> list[Check]:
    """Exact reconciliation across layers; every check independent of what the jobs reported."""
    from taxilab.warehouse import loader

    checks: list[Check] = []

    def check(name, expected, actual):
        checks.append(Check(name, expected, actual, expected == actual))

    raw = lakestats.raw_stats(settings, month)
    staging = lakestats.staging_stats(settings, month)
    quarantine, _ = lakestats.quarantine_stats(settings, month)
    check("raw rows = staging + quarantine rows", raw.rows, staging.rows + quarantine.rows)
    # Non-finite raw amounts are quarantined with a null amount, so they drop out on both sides.
    check("raw total_amount = staging + quarantine", raw.total_amount, staging.total_amount + quarantine.total_amount)
    curated = {t: lakestats.curated_stats(settings, month, t) for t in CURATED}
    for t, c in curated.items():
        check(f"curated {t}: trips = staging rows", staging.rows, c["trip_count"])
        check(f"curated {t}: revenue = staging total_amount", staging.total_amount, c["total_revenue"])
    wh = loader.warehouse_stats(settings, month)
    check("warehouse fct_trips rows = staging rows", staging.rows, wh["fct_trips"]["rows"])
    check("warehouse fct_trips total_amount = staging", staging.total_amount, wh["fct_trips"]["total_amount"])
    for t, c in curated.items():
        w = wh[t]
        check(f"warehouse {t} rows = curated rows", c["rows"], w["rows"])
        check(f"warehouse {t} trips = curated trips", c["trip_count"], w["trip_count"])
        check(f"warehouse {t} revenue = curated revenue", c["total_revenue"], w["total_revenue"])
    return checks


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
