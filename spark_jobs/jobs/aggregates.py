"""Glue job "aggregates": staging month -> the five curated tables.
Why: docs/adr/0006-glue-crawler-bookmarks-workflow-run-by-the-lab.md.
"""

from __future__ import annotations

import sys
import time

from pyspark import StorageLevel
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from spark_jobs.io import lake, paths
from spark_jobs.month import Month
from spark_jobs.runtime import JobContext, get_resolved_options
from spark_jobs.schemas.contracts import CURATED_PARTITIONS
from spark_jobs.transforms import aggregates

ARGS = ["JOB_NAME", "bucket", "dataset", "month"]


def run(spark: SparkSession, args: dict[str, str]) -> dict:
    t0 = time.monotonic()
    bucket, dataset, month = args["bucket"], args["dataset"], args["month"]
    start, end = Month.parse(month).bounds()
    staging = lake.read_staging(spark, bucket, dataset)
    if staging is None:
        raise lake.MissingInputError(
            f"no staging data under {lake.url(bucket, paths.staging_prefix(dataset))}: run the etl job first"
        )
    # Partition pruning on pickup_date: only the month's staging folders are listed and read.
    staging = (
        staging.where((F.col("pickup_date") >= F.lit(start)) & (F.col("pickup_date") < F.lit(end)))
        .select(*aggregates.INPUT_COLUMNS)
        .persist(StorageLevel.MEMORY_AND_DISK)
    )
    try:
        rows_in = staging.count()
        out = {}
        for name, df in aggregates.build_all(staging).items():
            df = df.persist()
            out[name] = df.count()
            # The month's folder is replaced whole; pickup_month comes back from the folder name.
            lake.replace_path(
                df.drop(*[c for c, _ in CURATED_PARTITIONS]).coalesce(1),
                lake.url(bucket, paths.curated_month_prefix(name, month)),
                out[name],
            )
            df.unpersist()
    finally:
        staging.unpersist()
    return {
        "job": args["JOB_NAME"],
        "month": month,
        "rows_in": rows_in,
        "tables": out,
        "seconds": round(time.monotonic() - t0, 2),
    }


def main(argv: list[str] | None = None, spark: SparkSession | None = None) -> dict:
    args = get_resolved_options(argv if argv is not None else sys.argv, ARGS)
    with JobContext(args, spark) as ctx:
        return run(ctx.spark, args)


if __name__ == "__main__":  # spark-submit / Glue entry point
    # The last stdout line is the run's metrics (taxilab/resources/container_jobs.py parses it). Under a
    # plain spark-submit (no awsglue, e.g. the lab's pyspark job container) the session is the one
    # spark-submit configured from its --conf values; on Glue, GlueContext's; else the lab's local one.
    import importlib.util
    import json
    import os

    submitted = None
    if importlib.util.find_spec("awsglue") is None and os.environ.get("PYSPARK_GATEWAY_PORT"):
        submitted = SparkSession.builder.getOrCreate()
    print("TAXILAB_JOB_METRICS " + json.dumps(main(spark=submitted), default=str), flush=True)
