"""Where each zone's data lives in the lake. Pure functions of (bucket, dataset, ...): the one place
paths are built, used by the Spark jobs (s3:// URLs) and the lab's Python side (bucket + key).
"""

from __future__ import annotations

from spark_jobs.month import Month

RAW, STAGING, QUARANTINE, CURATED, REFERENCE = "raw", "staging", "quarantine", "curated", "reference"


def raw_month_prefix(dataset: str, month: str) -> str:
    m = Month.parse(month)
    return f"{RAW}/dataset={dataset}/year={m.year:04d}/month={m.month:02d}/"


def raw_file_name(month: str) -> str:
    """Raw objects keep the TLC's own file name for the month."""
    return f"yellow_tripdata_{Month.parse(month)}.parquet"


RAW_DATA_SUFFIX = ".parquet"


def raw_object_problem(relative: str) -> str | None:
    """Why the etl does not read the object at `relative` (its key below the month's raw prefix), or None
    if it does: the rule of the etl's listing (spark_jobs.io.lake.list_files over the prefix), stated once
    for the ingest (which refuses such objects) and for validation (which fails on them)."""
    name = relative.rsplit("/", 1)[-1]
    if "/" in relative:
        return "it is in a nested folder: the etl reads only the objects directly under the month's prefix"
    if name.startswith(("_", ".")):
        return "its name starts with '_' or '.': Spark skips such files as hidden"
    if not name.endswith(RAW_DATA_SUFFIX):
        return f"its name does not end in {RAW_DATA_SUFFIX!r} (case-sensitive): the etl reads only such files"
    return None


def manifest_key(dataset: str, month: str) -> str:
    # Leading underscore: Spark and Hive skip it when reading the prefix as Parquet.
    return raw_month_prefix(dataset, month) + "_manifest.json"


def staging_prefix(dataset: str) -> str:
    return f"{STAGING}/{dataset}/"


def quarantine_prefix(dataset: str) -> str:
    return f"{QUARANTINE}/{dataset}/"


def quarantine_month_prefix(dataset: str, year: int, month: int) -> str:
    return f"{QUARANTINE}/{dataset}/year={year}/month={month}/"


def curated_prefix(table: str) -> str:
    return f"{CURATED}/{table}/"


def curated_month_prefix(table: str, month: str) -> str:
    return f"{CURATED}/{table}/pickup_month={Month.parse(month)}/"


def zone_lookup_key() -> str:
    return f"{REFERENCE}/taxi_zone_lookup/taxi_zone_lookup.csv"


def s3_url(bucket: str, key: str, scheme: str = "s3") -> str:
    return f"{scheme}://{bucket}/{key}"
