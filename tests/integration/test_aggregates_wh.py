"""Warehouse-built pre-aggregates (sql/load, taxilab.warehouse.aggregates_wh) on a few inline trips."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from emulation.redshift.dialect import apply_ddl
from taxilab.warehouse.aggregates_wh import AGG_TABLES, build_aggregates

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


def test_a_malformed_month_is_refused_before_anything_runs(wh):
    with pytest.raises(ValueError, match="2023-13"):
        build_aggregates(wh, "2023-13")
