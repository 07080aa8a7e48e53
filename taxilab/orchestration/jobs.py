"""Run the declared workflow (spark_jobs/jobgraph.json) for a month on the profile's workflow runner, with the
product's implementation of the warehouse jobs for the local runner (on AWS the deployed jobs run). Every
caller (`taxilab glue workflow run`, backfill, the scheduler, daily drops) goes through here or hands the
runner its own implementations (`taxilab pipeline`): one graph, one runner (docs/adr/0012-layout-and-layers.md).
"""

from __future__ import annotations

from typing import Any

from taxilab import resources
from taxilab.core.jobgraph import declared_argv
from taxilab.core.settings import Settings


def run_load_warehouse(rt: Any, job: dict, month: str, run_id: str) -> dict:
    """taxilab-load-warehouse and taxilab-validate (Glue 5.0 jobs on AWS): the script's main(), in-process."""
    from taxilab.warehouse import glue_job

    rt.checkpoint()
    return glue_job.main(declared_argv(job, rt.settings, month, job["name"]), rt.settings)


# The declared graph's local names the product implements; the runner has its own for the Spark job
# scripts and the crawler.
PRODUCT_JOBS: dict[str, Any] = {"warehouse": run_load_warehouse, "validate": run_load_warehouse}


def run_workflow(
    settings: Settings, month: str, defs: Any = None, jobs: dict[str, Any] | None = None, **kwargs: Any
) -> Any:
    """The declared workflow for a month; `jobs` replaces declared jobs' local implementations."""
    if defs is not None:
        kwargs["defs"] = defs
    return resources.for_settings(settings).workflows.run(
        month, jobs={**PRODUCT_JOBS, **(jobs or {})}, **kwargs
    )


def local_jobs() -> dict[str, Any]:
    """The product's implementations for the local runner (the scheduler's runs)."""
    return dict(PRODUCT_JOBS)
