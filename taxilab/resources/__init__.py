"""The resources of a profile, chosen once: the product talks to "AWS" only through them.

| resource  | local (default)                        | compose                              | aws                            |
|-----------|----------------------------------------|--------------------------------------|--------------------------------|
| services  | embedded moto server + PostgreSQL      | the docker-compose.yml stack          | none (deploy_aws/ creates them)|
| warehouse | PostgreSQL + the Redshift emulation    | the same, in its container           | Amazon Redshift (Data API)     |
| jobs      | the job scripts on the lab's Spark     | spark-submit in the `glue` container | AWS Glue job runs              |
| crawler   | the lab's crawler (Glue catalog API)   | the same                             | the deployed Glue crawler      |
| workflows | the emulated Glue runner               | the same                             | AWS Glue workflow runs         |

S3, the Glue Data Catalog, CloudWatch, SNS and SQS need no resource of their own: the same boto3 and
pyarrow calls run everywhere, pointed by settings' endpoints (taxilab.core.clients). `for_settings` is
the one place that looks at `settings.profile`; nothing under emulation/ is imported on the aws profile
(docs/adr/0012-layout-and-layers.md).
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
