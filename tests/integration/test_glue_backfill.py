"""Backfill end to end: the declared workflow (etl -> aggregates -> crawler -> load-warehouse -> validate)
for each month of a range on real Spark, the moto server and PostgreSQL. Two tiny months of 2021 (no other
test uses 2021) in a bucket of their own; a third month with a broken raw object shows stop-on-failure."""

from __future__ import annotations

import uuid
from datetime import datetime

import pytest

from emulation.glue import crawler, workflow
from spark_jobs.io import paths
from spark_jobs.month import Month
from taxilab.core.clients import client
from taxilab.ingest import raw
from taxilab.ingest.raw import SourceFile
from taxilab.orchestration import backfill
from tests.integration.tlcfiles import trip, write_era

MONTHS = {"2021-09": 23, "2021-10": 17}  # month -> trips
BROKEN, AFTER = "2021-11", "2021-12"


@pytest.fixture(scope="module")
def bf_lab(lab_settings, tmp_path_factory):
    tag = uuid.uuid4().hex[:8]
    s = lab_settings.model_copy(
        update={
            "bucket": "taxilab-it-backfill",
            "state_dir": tmp_path_factory.mktemp("backfill-state"),
            "catalog_databases": {z: f"bf_{tag}_{z}" for z in crawler.ZONES},
        }
    )
    raw.ensure_bucket(s)
    raw.land_zone_lookup(s)
    return s


def land_tiny(settings, month: str, n: int, tmp_path) -> None:
    y, m = Month.parse(month).year, Month.parse(month).month
    rows = [
        trip(datetime(y, m, 1 + i % 28, 8 + i % 12, i % 60), fare_amount=10.0 + i, total_amount=15.5 + i)
        for i in range(n)
    ]
    f = write_era(tmp_path / f"{month}.parquet", "2022", rows)  # the 2011-2023 physical layout
    raw.land_month(settings, month, SourceFile(f, f"test:{month}"))


def test_backfill_runs_each_month_through_the_whole_workflow_in_order(bf_lab, spark, pg, tmp_path):
    for month, n in MONTHS.items():
        land_tiny(bf_lab, month, n, tmp_path)
    seen = []
    results = backfill.backfill(
        bf_lab, "2021-09", "2021-10", spark_factory=lambda: spark, on_month=seen.append
    )
    assert [(r.month, r.status) for r in results] == [("2021-09", "COMPLETED"), ("2021-10", "COMPLETED")]
    assert seen == results and all(r.seconds > 0 and r.workflow_run_id for r in results)

    # one workflow run per month, each job in trigger order, the months in range order
    runs = workflow.workflow_runs(bf_lab, "taxilab-monthly")
    assert [(r["month"], r["status"]) for r in runs] == [("2021-09", "COMPLETED"), ("2021-10", "COMPLETED")]
    assert all(r["started_by"] == "backfill 2021-09..2021-10" for r in runs)
    assert [j["job"] for j in runs[0]["job_runs"]] == [
        "taxilab-etl",
        "taxilab-aggregates",
        "taxilab-crawler",
        "taxilab-load-warehouse",
        "taxilab-validate",
    ]

    # the warehouse holds each month's trips exactly (the validate job reconciled lake and warehouse)
    for month, n in MONTHS.items():
        start, end = Month.parse(month).bounds()
        got = pg.execute(
            "SELECT count(*) FROM taxi.fct_trips WHERE pickup_date >= %s AND pickup_date < %s", [start, end]
        ).fetchone()[0]
        daily = pg.execute(
            "SELECT sum(trip_count) FROM taxi.daily_summary WHERE pickup_month = %s", [month]
        ).fetchone()[0]
        assert got == daily == n

    # a second backfill skips what is done
    again = backfill.backfill(bf_lab, "2021-09", "2021-10", spark_factory=lambda: spark)
    assert [r.status for r in again] == ["SKIPPED", "SKIPPED"]
    assert again[0].workflow_run_id == results[0].workflow_run_id


def test_a_failed_month_halts_the_backfill_unless_told_to_continue(bf_lab, spark, tmp_path):
    key = paths.raw_month_prefix(bf_lab.dataset, BROKEN) + "broken.parquet"
    client("s3", bf_lab).put_object(Bucket=bf_lab.bucket, Key=key, Body=b"not parquet at all")
    results = backfill.backfill(bf_lab, BROKEN, AFTER, spark_factory=lambda: spark, backoff_s=0.01)
    assert [(r.month, r.status) for r in results] == [(BROKEN, "FAILED"), (AFTER, "NOT_RUN")]
    assert "taxilab-etl FAILED" in results[0].note and "broken.parquet" in results[0].note
    assert [r["month"] for r in workflow.workflow_runs(bf_lab, "taxilab-monthly", AFTER)] == []
