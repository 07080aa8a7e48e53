"""The aws profile's resources: Amazon Redshift through the Data API and AWS Glue job runs. Nothing here
imports emulation/ (docs/adr/0012-layout-and-layers.md; the Data API path in ADR 0008)."""

from __future__ import annotations

import time
from typing import Any

from taxilab.core.clients import client
from taxilab.core.settings import Settings


class NoServices:
    """On AWS the services exist already (deploy_aws/): nothing to start or stop."""

    name = "AWS (deployed by deploy_aws/)"
    starts_with_pipeline = False

    def ensure_running(self, settings: Settings) -> tuple[Settings, dict[str, Any]]:
        return settings, {}

    def stop(self, settings: Settings) -> list[str]:
        return []

    def up(self, settings: Settings, idle_minutes: float | None = None) -> list[str]:
        return [
            "nothing to start: the aws profile uses what `make deploy` created (deploy_aws/); "
            "Redshift Serverless bills no compute while idle"
        ]

    def down(self, settings: Settings) -> list[str]:
        return ["nothing to stop on the aws profile: `make destroy` removes the deployment"]

    def status(self, settings: Settings) -> dict[str, Any]:
        return {
            "profile": "aws",
            "region": settings.region,
            "bucket": settings.bucket,
            "redshift_workgroup": settings.redshift_workgroup,
        }


class RedshiftWarehouse:
    """Amazon Redshift (Serverless workgroup or provisioned cluster) through the Redshift Data API."""

    kind = "redshift"

    def __init__(self, settings: Settings, api_client: Any = None):
        self.settings = settings
        self._client = api_client

    def api(self) -> Any:
        from taxilab.warehouse.data_api import DataApiClient

        return DataApiClient(self.settings, client=self._client)

    def execute(self, sql_text: str, conn: Any = None) -> Any:
        return self.api().execute(sql_text)

    def run_named(self, query: Any, values: dict[str, str], conn: Any = None) -> Any:
        return self.api().run_named(query, values)

    def load_month(self, month: str, progress: bool = False, path: str | None = None) -> dict:
        """The Redshift SQL of sql/load in one transaction (BatchExecuteStatement). Only the SQL path exists
        on Redshift: the native path speaks PostgreSQL's COPY FROM STDIN."""
        from taxilab.warehouse import sql_load
        from taxilab.warehouse.loader import WarehouseUnavailable, summarize_load

        if path not in (None, "sql"):
            raise WarehouseUnavailable(
                "the native load speaks PostgreSQL's COPY FROM STDIN; on the aws profile "
                "the warehouse is Redshift: load with the SQL path"
            )
        res = sql_load.run_aws(self.settings, month, client=self._client)
        return summarize_load(res, self.stats(month))

    def load_dates(self, dates: list) -> dict:
        """Each affected month reloaded whole from the lake, one transaction per month (a Data API batch
        holds one month's script): the dates' rows are the lake's, the others rewritten as they were."""
        from taxilab.warehouse import sql_load

        dates = sorted(set(dates))
        if not dates:
            raise ValueError("load_dates needs at least one pickup date")
        months = sorted({f"{d:%Y-%m}" for d in dates})
        tables: dict[str, dict] = {}
        for month in months:
            res = sql_load.run_aws(self.settings, month, client=self._client)
            for name, t in res["tables"].items():
                tables.setdefault(name, {"rows": 0})["rows"] += t["rows"]
        return {
            "dates": [str(d) for d in dates],
            "months": months,
            "tables": tables,
            "rows_in": sum(t["rows"] for t in tables.values()),
        }

    def stats(self, month: str) -> dict[str, dict]:
        from taxilab.warehouse import sql_load

        return sql_load.stats_from_rows(self.api().execute(sql_load.stats_sql(self.settings, month)).rows)

    def refresh_external_schemas(self) -> dict[str, int]:
        return {}  # Redshift Spectrum reads the Glue catalog itself


class GlueJobError(RuntimeError):
    """A Glue job run ended in a state other than SUCCEEDED."""


class GlueJobRunner:
    """Job runs on AWS Glue: StartJobRun with the declared job's name and the run's arguments, polled until a
    final state (bounded by the job's own timeout plus a margin: never a hang)."""

    kind = "aws-glue"
    FINAL = ("SUCCEEDED", "FAILED", "TIMEOUT", "STOPPED", "ERROR", "EXPIRED")

    def __init__(
        self, settings: Settings, glue: Any = None, poll_s: float = 15.0, max_wait_s: float = 3 * 3600
    ):
        self.settings = settings
        self._glue = glue
        self.poll_s = poll_s
        self.max_wait_s = max_wait_s

    def run(self, job: str, argv: list[str], files: list[str] | None = None) -> dict:
        glue = self._glue or client("glue", self.settings)
        name = argv[argv.index("--JOB_NAME") + 1] if "--JOB_NAME" in argv else job
        name = name if name.startswith("taxilab-") else f"taxilab-{name}"
        args = {
            argv[i]: argv[i + 1]
            for i in range(1, len(argv) - 1, 2)
            if argv[i].startswith("--") and argv[i] != "--JOB_NAME"
        }
        run_id = glue.start_job_run(JobName=name, Arguments=args)["JobRunId"]
        deadline = time.monotonic() + self.max_wait_s
        while True:
            run = glue.get_job_run(JobName=name, RunId=run_id)["JobRun"]
            if run["JobRunState"] in self.FINAL:
                break
            if time.monotonic() > deadline:
                raise GlueJobError(
                    f"Glue job {name} run {run_id} still {run['JobRunState']} after "
                    f"{self.max_wait_s:.0f} s: stop it in the console or `aws glue batch-stop-job-run`"
                )
            time.sleep(self.poll_s)
        if run["JobRunState"] != "SUCCEEDED":
            raise GlueJobError(
                f"Glue job {name} run {run_id} {run['JobRunState']}: {run.get('ErrorMessage', '')}"
            )
        return {
            "job": name,
            "job_run_id": run_id,
            "seconds": run.get("ExecutionTime"),
            "files": [],
            "rows_in": None,
            "quarantined": None,
            "quarantined_by_reason": {},
            "phases": {},
            "stale_partitions_dropped": [],
            "tables": {},
        }

    def raw_objects(self, month: str) -> list[Any]:
        return []  # Glue keeps its own bookmarks on AWS

    def seed_bookmark(self, job_name: str, objects: list[Any], files: list[str], run_id: str) -> int:
        return 0


class GlueCrawler:
    """The deployed crawlers (one per declared crawler and zone, `<name>-<zone>`, as jobgraph.to_aws and
    deploy_aws create them): StartCrawler each, then poll until READY again; each last crawl's outcome."""

    def __init__(
        self, settings: Settings, glue: Any = None, poll_s: float = 10.0, max_wait_s: float = 3600.0
    ):
        self.settings, self._glue, self.poll_s, self.max_wait_s = settings, glue, poll_s, max_wait_s

    def names(self, zones: tuple[str, ...] | None = None) -> list[str]:
        from taxilab.core.jobgraph import load as load_definitions

        return [
            f"{c['name']}-{z}"
            for c in load_definitions().raw.get("crawlers", [])
            for z in c["zones"]
            if zones is None or z in zones
        ]

    def crawl(self, zones: tuple[str, ...] | None = None) -> list[Any]:
        glue = self._glue or client("glue", self.settings)
        names = self.names(zones)
        for name in names:
            glue.start_crawler(Name=name)
        deadline = time.monotonic() + self.max_wait_s
        done: dict[str, dict] = {}
        while len(done) < len(names):
            for name in names:
                if name not in done:
                    crawler = glue.get_crawler(Name=name)["Crawler"]
                    if crawler["State"] == "READY" and crawler.get("LastCrawl"):
                        done[name] = crawler["LastCrawl"]
            if len(done) == len(names):
                break
            if time.monotonic() > deadline:
                waiting = sorted(set(names) - set(done))
                raise GlueJobError(
                    f"crawler(s) {', '.join(waiting)} still running after {self.max_wait_s:.0f} s"
                )
            time.sleep(self.poll_s)
        failed = {n: c for n, c in done.items() if c.get("Status") != "SUCCEEDED"}
        if failed:
            raise GlueJobError(
                "; ".join(
                    f"crawler {n} {c.get('Status')}: {c.get('ErrorMessage', '')}" for n, c in failed.items()
                )
            )
        return []


class GlueWorkflows:
    """The deployed workflow on AWS Glue: StartWorkflowRun with the month as a run property, polled until
    it ends (bounded: never a hang); its job runs read from the run's graph."""

    kind = "aws-glue"

    def __init__(
        self, settings: Settings, glue: Any = None, poll_s: float = 20.0, max_wait_s: float = 4 * 3600
    ):
        self.settings, self._glue, self.poll_s, self.max_wait_s = settings, glue, poll_s, max_wait_s

    def run(self, month: str, jobs: dict[str, Any] | None = None, **kwargs: Any) -> Any:
        from types import SimpleNamespace

        from taxilab.core.jobgraph import load as load_definitions

        name = load_definitions().workflow["name"]
        glue = self._glue or client("glue", self.settings)
        run_id = glue.start_workflow_run(Name=name, RunProperties={"month": str(month)})["RunId"]
        deadline = time.monotonic() + self.max_wait_s
        while True:
            run = glue.get_workflow_run(Name=name, RunId=run_id, IncludeGraph=True)["Run"]
            if run["Status"] in ("COMPLETED", "STOPPED", "ERROR"):
                break
            if time.monotonic() > deadline:
                raise GlueJobError(
                    f"Glue workflow {name} run {run_id} still {run['Status']} after {self.max_wait_s:.0f} s"
                )
            time.sleep(self.poll_s)
        runs = []
        for node in run.get("Graph", {}).get("Nodes", []):
            for jr in (node.get("JobDetails") or {}).get("JobRuns", []):
                runs.append(
                    SimpleNamespace(
                        job=jr["JobName"], state=jr["JobRunState"], error=jr.get("ErrorMessage"), id=jr["Id"]
                    )
                )
        failed = [r for r in runs if r.state != "SUCCEEDED"]
        status = "FAILED" if failed or run["Status"] == "ERROR" else run["Status"]
        return SimpleNamespace(
            id=run_id,
            workflow=name,
            month=str(month),
            status=status,
            runs=runs,
            stop_reason=run.get("ErrorMessage"),
        )
