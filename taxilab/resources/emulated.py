"""The local and compose profiles' resources: the embedded services, the PostgreSQL warehouse with the
Redshift emulation (emulation.redshift), and the job scripts on the lab's own Spark
(docs/adr/0012-layout-and-layers.md; the why of each emulation in ADRs 0001, 0005 and 0008).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from taxilab.core.settings import Settings


class EmbeddedServices:
    """The moto server and PostgreSQL the lab starts itself (emulation.services)."""

    name = "embedded moto server + PostgreSQL"
    starts_with_pipeline = True

    def ensure_running(self, settings: Settings) -> tuple[Settings, dict[str, Any]]:
        from emulation import services

        state = services.ensure_running(settings)
        live = settings.with_endpoints(dict(state.endpoints), state.warehouse_dsn, state.warehouse_admin_dsn)
        return live, {
            "endpoint": state.endpoints["s3"],
            "warehouse_dsn": state.warehouse_dsn,
            "lake_fresh": state.lake_fresh,
        }

    def stop(self, settings: Settings) -> list[str]:
        from emulation import services

        return services.stop(settings)

    def up(self, settings: Settings, idle_minutes: float | None = None) -> list[str]:
        from emulation import services

        services.start_idle_watcher(settings, None)  # a new `up` sets (or clears) idle control afresh
        state = services.ensure_running(settings)
        lines = []
        if idle_minutes is not None:
            services.start_idle_watcher(settings, idle_minutes)
            lines.append(
                f"idle control: PostgreSQL stops after {idle_minutes:g} min without a connection "
                f"(see {settings.logs_dir / 'idle.log'}); the next command starts it again"
            )
        lines.append(f"S3/Glue/CloudWatch/SNS/SQS emulator: {state.endpoints['s3']}")
        lines.append(f"warehouse (PostgreSQL):             {state.warehouse_dsn}")
        if state.lake_fresh:
            lines.append(
                "[yellow]note:[/] the emulator keeps the lake in memory and started empty; "
                "`make pipeline` rebuilds it from the local input cache (.lab/cache)"
            )
        lines.append("stop them with `make down`")
        return lines

    def down(self, settings: Settings) -> list[str]:
        stopped = self.stop(settings)
        return ["stopped: " + (", ".join(stopped) if stopped else "nothing was running")]

    def status(self, settings: Settings) -> dict[str, Any]:
        from emulation import services

        return dict(services.status(settings))


class PostgresWarehouse:
    """Redshift's stand-in: the lab's PostgreSQL. Statements go through the Redshift emulation; a month
    loads by the native COPY path (default) or by the same Redshift SQL the aws profile sends (path="sql")."""

    kind = "postgres"

    def __init__(self, settings: Settings):
        self.settings = settings

    def connect(self) -> Any:
        from taxilab.warehouse import loader

        return loader.connect(self.settings)

    def execute(self, sql_text: str, conn: Any = None) -> Any:
        from emulation.redshift import engine

        if conn is not None:
            return engine.execute(conn, self.settings, sql_text)
        with self.connect() as own:
            return engine.execute(own, self.settings, sql_text)

    def run_named(self, query: Any, values: dict[str, str], conn: Any = None) -> Any:
        from taxilab.warehouse import queries

        if conn is not None:
            return queries.run(conn, query, values, schema=self.settings.warehouse_schema)
        with self.connect() as own:
            return queries.run(own, query, values, schema=self.settings.warehouse_schema)

    def load_month(self, month: str, progress: bool = False, path: str | None = None) -> dict:
        from taxilab.warehouse import loader

        if path in (None, "native"):
            return loader.load_month(self.settings, month, progress=progress)
        if path != "sql":
            raise ValueError(f"load path must be one of native, sql, got {path!r}")
        return loader.load_month_sql(self.settings, month)

    def load_dates(self, dates: list) -> dict:
        from taxilab.warehouse import loader

        return loader.load_dates(self.settings, dates)

    def stats(self, month: str) -> dict[str, dict]:
        from taxilab.warehouse import loader

        return loader.warehouse_stats(self.settings, month)

    def refresh_external_schemas(self) -> dict[str, int]:
        """Spectrum's external schemas follow the catalog's new partitions (ADR 0008)."""
        if not self.settings.warehouse_dsn:
            return {}
        from emulation.redshift import spectrum

        with self.connect() as conn:
            return dict(spectrum.refresh(conn, self.settings) or {})


class LabBookmarks:
    """The lab's Glue job bookmarks (emulation.glue.bookmarks), kept on local disk for local job runs."""

    settings: Settings

    def raw_objects(self, month: str) -> list[Any]:
        from emulation.glue import bookmarks
        from spark_jobs.io import paths

        return bookmarks.list_objects(self.settings, paths.raw_month_prefix(self.settings.dataset, month))

    def seed_bookmark(self, job_name: str, objects: list[Any], files: list[str], run_id: str) -> int:
        from emulation.glue import bookmarks

        done = [o for o in objects if o.key in set(files)]
        if done:
            bookmarks.commit(self.settings, job_name, "raw_source", done, run_id=run_id)
        return len(done)


class LabCrawler:
    """The lab's crawler (emulation.glue.crawler): Parquet footers + Hive folders into the Glue catalog API."""

    def __init__(self, settings: Settings, policy: Any = None):
        self.settings = settings
        self.policy = policy  # a crawler.SchemaChangePolicy; None: the declared crawler's (jobgraph.json)

    def crawl(self, zones: tuple[str, ...] | None = None) -> list[Any]:
        from emulation.glue import crawler

        policy = self.policy or crawler.SchemaChangePolicy.declared()
        return (
            crawler.crawl(self.settings, zones, policy)
            if zones
            else crawler.crawl(self.settings, policy=policy)
        )


class LocalSparkJobs(LabBookmarks):
    """The Glue job scripts' main() in this process, on the lab's SparkSession (S3A to the emulator)."""

    kind = "local-spark"

    def __init__(self, settings: Settings, spark_factory: Callable[[], Any] | None = None):
        self.settings = settings
        self._factory = spark_factory
        self._spark: Any = None

    def spark(self) -> Any:
        if self._spark is None:
            if self._factory is not None:
                self._spark = self._factory()
            else:
                from emulation.spark import get_session

                self._spark = get_session(self.settings)
        return self._spark

    def run(self, job: str, argv: list[str], files: list[str] | None = None) -> dict:
        from spark_jobs.jobs import aggregates, etl

        if job == "etl":
            return etl.main(argv, self.spark(), files=files)
        if job == "aggregates":
            return aggregates.main(argv, self.spark())
        raise ValueError(f"unknown Spark job {job!r}: expected etl or aggregates")


class LocalWorkflows:
    """The declared workflow on the emulated Glue runner (emulation.glue.workflow: trigger order, retries,
    timeouts, job-run states, stop requests)."""

    kind = "emulated-glue"

    def __init__(self, settings: Settings):
        self.settings = settings

    def run(self, month: str, jobs: dict[str, Any] | None = None, **kwargs: Any) -> Any:
        """jobs: the product's implementations (taxilab.orchestration.jobs) over the runner's own (Spark job
        scripts, crawler)."""
        from emulation.glue import workflow as wfm

        return wfm.run_workflow(
            self.settings, month, kwargs.pop("defs", None), jobs={**wfm.LOCAL_JOBS, **(jobs or {})}, **kwargs
        )
