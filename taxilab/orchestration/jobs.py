"""Run the declared workflow (spark_jobs/jobgraph.json) for a month on the profile's workflow runner: the
emulated Glue runner with the product's job implementations locally, AWS Glue on the aws profile
(taxilab.resources). Every caller (`taxilab pipeline`, `taxilab glue workflow run`, backfill, the scheduler,
daily drops) goes through here: one graph, one runner (docs/adr/0012-layout-and-layers.md).
"""

from __future__ import annotations

from typing import Any

from taxilab import resources
from taxilab.core.settings import Settings


def run_workflow(settings: Settings, month: str, defs: Any = None, jobs: dict[str, Any] | None = None,
                 **kwargs: Any) -> Any:
    """The declared workflow for a month; `jobs` replaces declared jobs' local implementations."""
    if defs is not None:
        kwargs["defs"] = defs
    return resources.for_settings(settings).workflows.run(month, jobs=jobs, **kwargs)


def local_jobs() -> dict[str, Any]:
    """The local implementations of the declared jobs (for the scheduler's runs)."""
    from taxilab.resources.emulated import local_jobs as jobs

    return jobs()
