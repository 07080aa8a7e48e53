"""`make bench`'s warm daily drop: a small synthetic drop timed from landing to queryable and validated in
the warehouse, against DuckDB on the same drop file; the rows it added are counted, not assumed. Real
moto (S3 events to SQS), real Spark, real PostgreSQL; a lake and catalog of its own, month 2020-07."""

from __future__ import annotations

import psycopg
import pytest

from spark_jobs.io import paths
from taxilab.bench import measure_drop, remove_bench_drops
from taxilab.core.clients import client
from taxilab.ingest import raw

MONTH = "2020-07"
ROWS = 2_000


@pytest.fixture()
def drop_settings(fresh_lake):
    s = fresh_lake("taxilab-benchdrop", "it_benchdrop")
    raw.ensure_bucket(s)
    raw.land_zone_lookup(s)
    return s


def _fct_rows_from(settings, source_file: str) -> int:
    with psycopg.connect(settings.warehouse_dsn) as conn:
        return conn.execute(
            "SELECT count(*) FROM taxi.fct_trips WHERE source_file = %s", [source_file]
        ).fetchone()[0]


def test_a_drop_is_timed_to_queryable_against_duckdb_and_its_warehouse_rows_are_the_files_accepted_rows(
    drop_settings, spark, tmp_path
):
    s = drop_settings

    m = measure_drop(s, MONTH, ROWS, seed=7, spark_factory=lambda: spark, work_dir=tmp_path)

    assert m["problems"] == []
    assert m["rows"] == ROWS and m["accepted"] + m["rejected"] == ROWS and 0 < m["accepted"] < ROWS
    assert m["dates"] == ["2020-07-01"]
    assert _fct_rows_from(s, f"s3://{s.bucket}/{m['key']}") == m["accepted"] == m["warehouse_from_drop"]
    assert m["warehouse_after"] - m["warehouse_before"] == m["accepted"]
    assert 0 < m["freshness_s"] <= m["seconds"] and m["duckdb_s"] > 0
    assert m["ratio"] == m["seconds"] / m["duckdb_s"]

    # A second drop for the same day: timed alone, the day's rows grow by its accepted rows only.
    again = measure_drop(s, MONTH, ROWS, seed=8, spark_factory=lambda: spark, work_dir=tmp_path / "2")
    assert again["problems"] == [] and again["key"] != m["key"]
    assert again["warehouse_before"] == m["warehouse_after"]
    assert again["warehouse_after"] == m["warehouse_after"] + again["accepted"]
    assert not again["whole_month"]

    # The next bench run of the month removes the bench's drop files from raw, and only those.
    s3 = client("s3", s)
    prefix = paths.raw_month_prefix(s.dataset, MONTH)
    s3.put_object(Bucket=s.bucket, Key=prefix + "yellow_tripdata_2020-07-02.parquet", Body=b"not the bench's")
    assert sorted(remove_bench_drops(s, MONTH)) == sorted([m["key"], again["key"]])
    left = [o["Key"] for o in s3.list_objects_v2(Bucket=s.bucket, Prefix=prefix).get("Contents", [])]
    assert left == [prefix + "yellow_tripdata_2020-07-02.parquet"]


def test_on_a_fresh_lab_without_its_bucket_there_is_no_earlier_drop_to_remove(lab_settings):
    import uuid

    s = lab_settings.model_copy(update={"bucket": f"taxilab-benchdrop-none-{uuid.uuid4().hex[:8]}"})

    assert remove_bench_drops(s, MONTH) == []
