"""Incremental daily runs: daily drops -> S3 event -> SQS -> etl (bookmarks) -> aggregates -> warehouse
(affected dates only, one transaction), with freshness measured. Real moto server (S3 notifications to
SQS), real Spark, real PostgreSQL; own bucket so other tests' raw objects raise no events here."""

from __future__ import annotations

import json
import time
from datetime import UTC, date, datetime

import psycopg
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from spark_jobs.io import paths
from taxilab.core.clients import client
from taxilab.ingest import drops, raw
from taxilab.orchestration import drops as incremental
from taxilab.report import RunReport

ROWS_PER_DAY = 60  # tiny: the machine is shared


@pytest.fixture(scope="module")
def inc_settings(lab_settings):
    s = lab_settings.model_copy(update={"bucket": "taxilab-it-incr"})
    raw.ensure_bucket(s)
    raw.land_zone_lookup(s)
    return s


@pytest.fixture(scope="module")
def queue_url(inc_settings):
    return incremental.ensure_notifications(inc_settings)


def _objects(settings, prefix: str) -> dict[str, str]:
    s3 = client("s3", settings)
    out = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=settings.bucket, Prefix=prefix):
        out.update({o["Key"]: o["ETag"] for o in page.get("Contents", [])})
    return out


def test_split_month_file_writes_one_exact_schema_file_per_pickup_day(tmp_path):
    gen = drops.synthetic_drops("2024-04", 30, 20, tmp_path / "all", seed=3)
    month_table = pq.read_table(sorted((tmp_path / "all").glob("*.parquet"))[0])
    assert [d.day for d in gen] == drops.month_days("2024-04")
    assert sum(d.rows for d in gen) == 20 * 30  # every row in exactly one drop
    for d in gen:
        t = pq.read_table(d.path)
        assert t.schema.equals(month_table.schema, check_metadata=True)
        in_month = drops.days_in(t, "2024-04")
        assert in_month in ([d.day], [])  # outliers were clipped in, but no other in-month day


def test_split_refuses_a_file_without_pickup_timestamps(tmp_path):
    import pyarrow as pa

    bad = tmp_path / "bad.parquet"
    pq.write_table(pa.table({"x": [1]}), bad)
    with pytest.raises(drops.DropError, match="tpep_pickup_datetime"):
        drops.split_month_file(bad, "2024-04", tmp_path / "out")


def test_empty_queue_returns_within_the_bounded_wait(inc_settings, queue_url):
    t0 = time.monotonic()
    assert incremental.receive(inc_settings, queue_url, max_wait_s=1.0) == []
    assert time.monotonic() - t0 < 5


def test_daily_drops_reach_the_warehouse_touching_only_their_dates(inc_settings, queue_url, spark, tmp_path):
    s = inc_settings
    factory = lambda: spark  # noqa: E731
    report = RunReport("2024-04", "drops", s.profile)
    # Another month first: its staging and curated objects must survive April's drops untouched.
    july = drops.synthetic_drops("2024-07", 1, ROWS_PER_DAY, tmp_path / "jul", seed=5)
    key = incremental.land_drop(s, july[0].path, "2024-07")
    incremental.consume(s, queue_url, factory, max_wait_s=30, expect_keys={key}, report=report, crawl=False)
    april = drops.synthetic_drops("2024-04", 2, ROWS_PER_DAY, tmp_path / "apr", seed=5)

    key1 = incremental.land_drop(s, april[0].path, "2024-04")
    [r1] = incremental.consume(s, queue_url, factory, max_wait_s=30, expect_keys={key1}, report=report)
    assert r1.dates == ["2024-04-01"]
    assert r1.rows_visible > 0 and r1.freshness_s is not None and 0 < r1.freshness_s < 120
    before = {
        p: _objects(s, p)
        for p in (
            paths.staging_prefix(s.dataset) + "pickup_date=2024-04-01/",
            paths.staging_prefix(s.dataset) + "pickup_date=2024-07-01/",
            paths.curated_month_prefix("daily_summary", "2024-07"),
        )
    }
    assert all(before.values())

    key2 = incremental.land_drop(s, april[1].path, "2024-04")
    [r2] = incremental.consume(s, queue_url, factory, max_wait_s=30, expect_keys={key2}, report=report)
    assert r2.dates == ["2024-04-02"]
    # Unaffected staging dates and other months' curated partitions: same keys, same ETags.
    assert {p: _objects(s, p) for p in before} == before
    assert _objects(s, paths.staging_prefix(s.dataset) + "pickup_date=2024-04-02/")

    with psycopg.connect(s.warehouse_dsn) as conn:
        per_day = dict(
            conn.execute(
                "SELECT pickup_date, count(*) FROM taxi.fct_trips WHERE pickup_date = ANY(%s) GROUP BY 1",
                [[date(2024, 4, 1), date(2024, 4, 2), date(2024, 7, 1)]],
            ).fetchall()
        )
        audit = conn.execute(
            "SELECT partition_spec FROM taxi.load_audit WHERE table_name = 'taxi.fct_trips' ORDER BY loaded_at DESC, "
            "ctid DESC LIMIT 1"
        ).fetchone()[0]
        daily = dict(
            conn.execute(
                "SELECT pickup_date, trip_count FROM taxi.daily_summary WHERE pickup_date = ANY(%s)",
                [[date(2024, 4, 1), date(2024, 4, 2)]],
            ).fetchall()
        )
    assert per_day[date(2024, 4, 1)] == r1.rows_visible and per_day[date(2024, 4, 2)] == r2.rows_visible
    assert date(2024, 7, 1) in per_day
    assert json.loads(audit) == {"pickup_date": ["2024-04-02"]}  # only the drop's date was replaced
    assert daily == {date(2024, 4, 1): r1.rows_visible, date(2024, 4, 2): r2.rows_visible}
    # Staging rows of each drop = what the warehouse shows for it (nothing lost, nothing doubled).
    import pyarrow.dataset as pads

    from taxilab.core.clients import arrow_s3_filesystem
    from taxilab.warehouse.loader import STAGING_PARTITIONING

    st = pads.dataset(
        f"{s.bucket}/{paths.staging_prefix(s.dataset).rstrip('/')}",
        format="parquet",
        filesystem=arrow_s3_filesystem(s),
        partitioning=STAGING_PARTITIONING,
    )
    src = st.to_table(columns=["source_file"])["source_file"]
    assert pc.sum(pc.equal(src, f"s3://{s.bucket}/{key2}")).as_py() == r2.rows_visible

    # A redelivered event for a drop already processed appends nothing (the bookmark).
    again = incremental.process(
        s, [incremental.DropEvent(s.bucket, key2, "", 0, datetime.now(UTC), "x")], factory, crawl=False
    )
    assert again[0].rows_visible == r2.rows_visible
    assert len(report.drops) == 3 and all(d["freshness_s"] is not None for d in report.drops)
