"""The resources of a profile, chosen once: the product talks to "AWS" only through them.
Why: docs/adr/0012-layout-and-layers.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from taxilab.core.settings import Settings
from taxilab.resources.base import (
    Crawler,
    JobRunner,
    ServiceError,
    Services,
    Warehouse,
    WorkflowRunner,
)

__all__ = [
    "Crawler",
    "JobRunner",
    "Resources",
    "ServiceError",
    "Services",
    "Warehouse",
    "WorkflowRunner",
    "for_settings",
    "warehouse",
]


@dataclass
class Resources:
    settings: Settings
    services: Services
    warehouse: Warehouse
    jobs: JobRunner
    crawler: Crawler
    workflows: WorkflowRunner


def for_settings(settings: Settings, spark_factory: Any = None) -> Resources:
    """The profile's resources. spark_factory: the local profile's SparkSession (created lazily)."""
    if settings.profile == "aws":
        from taxilab.resources import aws

        return Resources(
            settings,
            aws.NoServices(),
            aws.RedshiftWarehouse(settings),
            aws.GlueJobRunner(settings),
            aws.GlueCrawler(settings),
            aws.GlueWorkflows(settings),
        )
    from taxilab.resources import emulated

    if settings.profile == "compose":
        from taxilab.resources import compose

        return Resources(
            settings,
            compose.ComposeServices(),
            emulated.PostgresWarehouse(settings),
            compose.ContainerJobs(settings),
            emulated.LabCrawler(settings),
            emulated.LocalWorkflows(settings),
        )
    return Resources(
        settings,
        emulated.EmbeddedServices(),
        emulated.PostgresWarehouse(settings),
        emulated.LocalSparkJobs(settings, spark_factory),
        emulated.LabCrawler(settings),
        emulated.LocalWorkflows(settings),
    )


def warehouse(settings: Settings) -> Warehouse:
    return for_settings(settings).warehouse
