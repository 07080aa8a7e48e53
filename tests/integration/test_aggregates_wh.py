"""Warehouse-built pre-aggregates (sql/load, taxilab.warehouse.aggregates_wh) on a few inline trips."""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from emulation.redshift.dialect import apply_ddl
from taxilab.warehouse.aggregates_wh import AGG_TABLES, LOAD_DIR, AggregateBuildError, build_aggregates

pytestmark = pytest.mark.integration
DDL_DIR = Path(__file__).resolve().parents[2] / "sql" / "ddl"

# (pickup day of Jan 2023, pu, do, speed mph, total)
TRIPS = [
    (3, 161, 236, 10.0, "12.50"),
    (3, 161, 236, 30.0, "20.00"),
    (4, 132, 161, 30.0, "70.25"),
    (4, 132, 161, None, "5.00"),
]


@pytest.fixture
def wh(pg_conn_factory):
    with pg_conn_factory() as conn:
        conn.execute("DROP SCHEMA IF EXISTS taxi CASCADE")
        apply_ddl(conn, DDL_DIR)
        for day, pu, do, speed, total in TRIPS:
            conn.execute(
                "INSERT INTO taxi.fct_trips (pickup_datetime, pickup_date, time_of_day_category, pu_location_id,"
                " do_location_id, avg_speed_mph, total_amount) VALUES (%s, %s, 'morning', %s, %s, %s, %s)",
                [datetime(2023, 1, day, 8), date(2023, 1, day), pu, do, speed, Decimal(total)],
            )
        yield conn


def test_rebuilding_a_month_twice_leaves_the_same_rows_and_totals(wh):
    first = build_aggregates(wh, "2023-01")
    snapshot = {t: wh.execute(f"SELECT * FROM taxi.{t} ORDER BY 1, 2, 3").fetchall() for t in AGG_TABLES}
    second = build_aggregates(wh, "2023-01")
    assert (
        first["rows"]
        == second["rows"]
        == {
            "agg_trips_daily": 2,
            "agg_trips_zone_pair": 2,
            "agg_trips_hourly_profile": 1,
            "agg_trip_speed_distribution": 2,
            "agg_cbd_fee_daily": 2,
        }
    )
    assert snapshot == {
        t: wh.execute(f"SELECT * FROM taxi.{t} ORDER BY 1, 2, 3").fetchall() for t in AGG_TABLES
    }
    assert wh.execute(
        "SELECT sum(trip_count), sum(total_amount_sum) FROM taxi.agg_trips_zone_pair"
    ).fetchone() == (4, Decimal("107.75"))
    # trips at or above each speed: 30 mph -> 2 trips, 10 mph -> 3 (the trip without a speed is left out)
    assert wh.execute(
        "SELECT avg_speed_mph, trips_at_or_above FROM taxi.agg_trip_speed_distribution ORDER BY 1"
    ).fetchall() == [(10.0, 3), (30.0, 2)]


def fee_on_jan_4(wh) -> None:
    """Jan 4's two trips record the congestion fee: 0.75 on the 70.25 trip, 0.00 on the other; Jan 3 none."""
    wh.execute(
        "UPDATE taxi.fct_trips SET cbd_congestion_fee = CASE WHEN total_amount > 50 THEN 0.75 ELSE 0.00 END"
        " WHERE pickup_date = '2023-01-04'"
    )


def test_the_congestion_fee_is_rolled_up_per_day_with_no_sum_where_no_trip_records_it(wh):
    fee_on_jan_4(wh)
    build_aggregates(wh, "2023-01")
    assert wh.execute(
        "SELECT pickup_date, trip_count, fee_recorded_trips, charged_trips, total_fee"
        " FROM taxi.agg_cbd_fee_daily ORDER BY 1"
    ).fetchall() == [(date(2023, 1, 3), 2, 0, 0, None), (date(2023, 1, 4), 2, 2, 1, Decimal("0.75"))]


@pytest.mark.parametrize(
    ("good", "bad", "message"),
    [  # one more trip on each of the two days: 6; the fee doubled: 1.50
        ("       COUNT(*),", "       COUNT(*) + 1,", "6 trips / 0.75 congestion fee, fct_trips has 4 / 0.75"),
        ("SUM(cbd_congestion_fee)\n", "SUM(cbd_congestion_fee) * 2\n", "4 trips / 1.50 congestion fee"),
    ],
    ids=["trip count", "fee sum"],
)
def test_a_fee_roll_up_that_disagrees_with_fct_trips_fails_the_build_and_keeps_the_previous_rows(
    wh, tmp_path, good, bad, message
):
    fee_on_jan_4(wh)
    build_aggregates(wh, "2023-01")
    before = {t: wh.execute(f"SELECT * FROM taxi.{t} ORDER BY 1, 2, 3").fetchall() for t in AGG_TABLES}
    for f in LOAD_DIR.glob("04?_agg_*.sql"):  # the real files, one of them broken
        text = f.read_text()
        if f.name == "044_agg_cbd_fee_daily.sql":
            assert text.count(good) == 1
            text = text.replace(good, bad)
        (tmp_path / f.name).write_text(text)
    with pytest.raises(
        AggregateBuildError, match=re.escape(f"taxi.agg_cbd_fee_daily for 2023-01: {message}")
    ):
        build_aggregates(wh, "2023-01", load_dir=tmp_path)
    assert before == {
        t: wh.execute(f"SELECT * FROM taxi.{t} ORDER BY 1, 2, 3").fetchall() for t in AGG_TABLES
    }


def test_a_malformed_month_is_refused_before_anything_runs(wh):
    with pytest.raises(ValueError, match="2023-13"):
        build_aggregates(wh, "2023-13")
