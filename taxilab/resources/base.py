"""The resource protocols every profile implements (taxilab/resources/__init__.py picks one set per profile;
docs/adr/0012-layout-and-layers.md)."""

from __future__ import annotations

from typing import Any, Protocol

from taxilab.core.settings import Settings


class Services(Protocol):
    name: str
    starts_with_pipeline: bool  # `taxilab pipeline` starts them itself (else `make up` or a deployment does)

    def ensure_running(self, settings: Settings) -> tuple[Settings, dict[str, Any]]:
        """Start (or reuse) the profile's services; settings with their endpoints, and a detail dict."""
        ...

    def stop(self, settings: Settings) -> list[str]: ...

    def up(self, settings: Settings, idle_minutes: float | None = None) -> list[str]:
        """`taxilab up`: start them in the background; lines for the user."""
        ...

    def down(self, settings: Settings) -> list[str]: ...

    def status(self, settings: Settings) -> dict[str, Any]: ...


class ServiceError(RuntimeError):
    """A profile's services cannot do what was asked (the message says what to do instead)."""


class Warehouse(Protocol):
    kind: str

    def execute(self, sql_text: str, conn: Any = None) -> Any:
        """Run one Redshift statement (COPY, UNLOAD, CREATE EXTERNAL SCHEMA, any SQL)."""
        ...

    def run_named(self, query: Any, values: dict[str, str], conn: Any = None) -> Any:
        """A named analytics query (taxilab.warehouse.queries.NamedQuery) with its `:name` values as strings;
        the result has .columns and .rows. conn: an open connection to reuse (PostgreSQL only)."""
        ...

    def load_month(self, month: str, progress: bool = False, path: str | None = None) -> dict: ...

    def load_dates(self, dates: list) -> dict: ...

    def stats(self, month: str) -> dict[str, dict]: ...

    def refresh_external_schemas(self) -> dict[str, int]:
        """Rebuild the emulated Spectrum external tables from the catalog; {schema: tables} ({} on Redshift)."""
        ...


class JobRunner(Protocol):
    kind: str

    def run(self, job: str, argv: list[str], files: list[str] | None = None) -> dict:
        """Run the Glue job script spark_jobs/jobs/<job>.py with Glue-style argv; its metrics."""
        ...

    def raw_objects(self, month: str) -> list[Any]:
        """The month's raw data objects as the etl job's bookmark sees them (key + ETag)."""
        ...

    def seed_bookmark(self, job_name: str, objects: list[Any], files: list[str], run_id: str) -> int:
        """A whole-month run read these files: commit them to the job's bookmark; how many."""
        ...


class WorkflowRunner(Protocol):
    kind: str

    def run(self, month: str, jobs: dict[str, Any] | None = None, **kwargs: Any) -> Any:
        """Run the declared workflow (spark_jobs/jobgraph.json) for a month to a final state; the run record
        (.id, .workflow, .status COMPLETED|FAILED|STOPPED, .runs with each job run's .job/.state/.error).
        jobs: local implementations replacing the declared jobs' (local runner only)."""
        ...


class Crawler(Protocol):
    def crawl(self, zones: tuple[str, ...] | None = None) -> list[Any]:
        """Crawl the lake zones into the Glue Data Catalog; one result per table."""
        ...
