"""Glue job "etl": raw TLC month -> staging (accepted, enriched) + quarantine (rejected, with reasons).
Why: docs/adr/0006-glue-crawler-bookmarks-workflow-run-by-the-lab.md.
"""

from __future__ import annotations

import sys
import time

from pyspark import StorageLevel
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from spark_jobs.io import lake, paths
from spark_jobs.month import Month
from spark_jobs.runtime import JobContext, get_resolved_options
from spark_jobs.schemas import tlc
from spark_jobs.schemas.contracts import STAGING_PARTITIONS, ContractError
from spark_jobs.transforms import conform, enrich, validate

ARGS = ["JOB_NAME", "bucket", "dataset", "month", "zone_lookup"]


def read_raw_month(
    spark: SparkSession, bucket: str, dataset: str, month: str, files: list[str] | None = None
) -> tuple[DataFrame, list[str]]:
    """All raw files of the month (or just `files`, e.g. the ones a job bookmark has not seen) conformed to
    the canonical schema, each row tagged with its file."""
    prefix = lake.url(bucket, paths.raw_month_prefix(dataset, month))
    files = lake.list_files(spark, prefix) if files is None else list(files)
    if not files:
        raise lake.MissingInputError(f"no raw Parquet files under {prefix}: ingest the month first")
    parts = []
    for f in files:
        # Ingest refuses unusable files before landing them (taxilab.ingest.raw.refuse_unusable); this
        # guards files put in raw by other means: each is refused by name, before anything is written.
        try:
            raw = lake.read_parquet(spark, f)
        except Exception as e:  # noqa: BLE001 - AnalysisException/Py4JJavaError on an unreadable footer
            raise ContractError(f"{f}: not readable as Parquet: {str(e).splitlines()[0][:300]}") from None
        era = tlc.detect_era(raw.columns)
        if era is not None and not era.supported:
            raise ContractError(f"{f}: a {era.name} TLC file: {era.mapping}")
        missing = conform.missing_required(raw)
        if missing:
            raise ContractError(f"{f}: missing required TLC columns {missing}; found {raw.columns}")
        try:
            parts.append(conform.conform(raw.withColumn("source_file", F.lit(f))))
        except ContractError as e:
            raise ContractError(f"{f}: {e}") from None
    df = parts[0]
    for p in parts[1:]:
        df = df.unionByName(p)
    return df, files


def run(spark: SparkSession, args: dict[str, str], files: list[str] | None = None) -> dict:
    """Run the job; returns its metrics (rows in/out, quarantined by reason, seconds per phase).

    files: None = the whole month (the month owns its staging dates and quarantine folder: both are
    replaced). A list = only those raw files, none processed before (job bookmarks, daily drops): their
    staging and quarantine rows are appended, as a Glue job with bookmarks appends, and nothing else of the
    month is touched; an empty list is a run with no new data. (A raw file that changed must be
    reprocessed with files=None, or its old rows would stay: the bookmark runner does that.)
    """
    t0 = time.monotonic()
    phases: dict[str, float] = {}
    clock = [t0]

    def lap(name: str) -> None:
        now = time.monotonic()
        phases[name] = round(now - clock[0], 2)
        clock[0] = now

    bucket, dataset, month = args["bucket"], args["dataset"], args["month"]
    m = Month.parse(month)
    year, mon = m.year, m.month
    if files is not None and not files:
        return {
            "job": args["JOB_NAME"],
            "month": month,
            "files": [],
            "rows_in": 0,
            "rows_out": 0,
            "quarantined": 0,
            "quarantined_by_reason": {},
            "stale_partitions_dropped": [],
            "phases": {},
            "seconds": 0.0,
        }
    subset = files is not None
    conformed, files = read_raw_month(spark, bucket, dataset, month, files)
    raw_rows = conformed.count()  # answered from the Parquet footers: no column is read
    # Every rule is evaluated once: the flagged rows are cached and both outputs are cut from them
    # (uncached, Spark would inline the whole rule logic into each side's filter and re-read the source).
    flagged = validate.flag(conformed, month).persist(StorageLevel.MEMORY_AND_DISK)
    try:
        accepted, rejected = validate.split_flagged(flagged)
        quarantined = rejected.count()
        lap("read_validate")
        write_quarantine = lake.append_path if subset else lake.replace_path
        write_quarantine(
            rejected.coalesce(1),
            lake.url(bucket, paths.quarantine_month_prefix(dataset, year, mon)),
            quarantined,
        )
        by_reason = {
            r["code"]: r["n"]
            for r in rejected.select(F.explode(F.split("reason_codes", ",")).alias("code"))
            .groupBy("code")
            .agg(F.count(F.lit(1)).alias("n"))
            .collect()
        }
        lap("quarantine_write")
        zones = enrich.zones_from_csv_df(lake.read_zone_lookup(spark, args["zone_lookup"]))
        staging = enrich.enrich(accepted, zones)
        staging_url = lake.url(bucket, paths.staging_prefix(dataset))
        written_since = int(time.time() * 1000)
        if subset:  # only new raw files: their rows are added to the dates they touch
            lake.append_path(staging, staging_url, None, [c for c, _ in STAGING_PARTITIONS])
        else:
            lake.write_partitioned(staging, staging_url, [c for c, _ in STAGING_PARTITIONS])
        lap("staging_write")
    finally:
        flagged.unpersist()
    # The month owns its pickup_date partitions: ones a rerun no longer produces are removed.
    month_dir = f"pickup_date={year:04d}-{mon:02d}-"
    stale = (
        []
        if subset
        else lake.drop_stale_partitions(spark, staging_url, lambda p: p.startswith(month_dir), written_since)
    )
    lap("stale_partitions")
    return {
        "job": args["JOB_NAME"],
        "month": month,
        "files": files,
        "rows_in": raw_rows,
        "rows_out": raw_rows - quarantined,
        "quarantined": quarantined,
        "quarantined_by_reason": dict(sorted(by_reason.items())),
        "stale_partitions_dropped": stale,
        "phases": phases,
        "seconds": round(time.monotonic() - t0, 2),
    }


def main(
    argv: list[str] | None = None, spark: SparkSession | None = None, files: list[str] | None = None
) -> dict:
    args = get_resolved_options(argv if argv is not None else sys.argv, ARGS)
    with JobContext(args, spark) as ctx:
        return run(ctx.spark, args, files)


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
