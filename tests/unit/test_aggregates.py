"""Curated tables: exact contract shape, one row per grain, and sums that reconcile with staging."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest
from pyspark.sql import functions as F

from spark_jobs.schemas.contracts import CURATED, CURATED_PARTITIONS
from spark_jobs.transforms import aggregates as A
from spark_jobs.transforms import enrich as E

pytestmark = pytest.mark.spark


def trip(day, hour, **overrides):
    start = datetime(2024, 2, day, hour, 10)
    return {"pickup_datetime": start, "dropoff_datetime": start + timedelta(minutes=20), **overrides}


@pytest.fixture
def staging(canonical_df, zones_df):
    """Five trips over two days (Sat 10th, Sun 11th of Feb 2024), enriched."""
    return E.enrich(
        canonical_df(
            # Sat 08:10, card, 3 mi, fare 15.60 tip 4.00 total 26.10 (defaults)
            trip(10, 8),
            # Sat 08:10, JFK pickup, card, 17 mi, fare 70.00 tip 14.00 total 91.75
            trip(
                10,
                8,
                pu_location_id=132,
                trip_distance=17.0,
                fare_amount=Decimal("70.00"),
                tip_amount=Decimal("14.00"),
                total_amount=Decimal("91.75"),
                passenger_count=2,
            ),
            # Sat 23:10, cash, no tip, zero fare (tip_pct undefined), unknown pickup zone
            trip(
                10,
                23,
                payment_type=2,
                pu_location_id=150,
                fare_amount=Decimal("0.00"),
                tip_amount=Decimal("0.00"),
                total_amount=Decimal("0.01"),
                passenger_count=0,
            ),
            # Sun 14:10, flex fare, null passengers, 0.5 mi
            trip(
                11,
                14,
                payment_type=0,
                passenger_count=None,
                trip_distance=0.5,
                fare_amount=Decimal("7.20"),
                tip_amount=Decimal("1.80"),
                total_amount=Decimal("13.99"),
            ),
            # Sun 14:10, card, 3 mi
            trip(11, 14, tip_amount=Decimal("0.00"), total_amount=Decimal("22.10")),
        ),
        zones_df,
    )


def as_dict(df, *keys):
    return {tuple(r[k] for k in keys): r for r in df.collect()}


def test_build_all_returns_every_curated_table_in_contract_shape(staging):
    tables = A.build_all(staging)
    assert list(tables) == list(CURATED)
    for name, df in tables.items():
        assert df.dtypes == CURATED[name].columns + CURATED_PARTITIONS, name
        assert df.columns[-1] == "pickup_month"


def test_curated_sums_equal_staging(staging):
    expected = staging.agg(
        F.count(F.lit(1)).alias("n"),
        F.sum("total_amount").alias("revenue"),
        F.sum("fare_amount").alias("fare"),
        F.sum("tip_amount").alias("tips"),
    ).collect()[0]
    assert expected["revenue"] == Decimal("153.95")
    for name, df in A.build_all(staging).items():
        got = df.agg(
            F.sum("trip_count").alias("n"),
            F.sum("total_revenue").alias("revenue"),
            F.sum("total_fare").alias("fare"),
            F.sum("total_tips").alias("tips"),
        ).collect()[0]
        assert (got["n"], got["revenue"], got["fare"], got["tips"]) == tuple(expected), name


def test_daily_summary_one_row_per_date_with_exact_measures(staging):
    rows = as_dict(A.daily_summary(staging), "pickup_date")
    assert set(rows) == {(date(2024, 2, 10),), (date(2024, 2, 11),)}
    sat = rows[(date(2024, 2, 10),)]
    assert (sat["pickup_weekday"], sat["is_weekend"], sat["trip_count"]) == (6, True, 3)
    assert sat["total_revenue"] == Decimal("117.86") and sat["total_fare"] == Decimal("85.60")
    assert sat["total_tips"] == Decimal("18.00")
    assert sat["total_passengers"] == 3 and sat["airport_trips"] == 1
    assert sat["total_distance"] == pytest.approx(23.0)
    assert sat["avg_fare"] == pytest.approx(85.60 / 3)
    assert sat["avg_duration_min"] == pytest.approx(20.0)
    # tip_pct is undefined for the zero fare and so left out of the average
    assert sat["avg_tip_pct"] == pytest.approx((4.0 / 15.6 * 100 + 20.0) / 2)
    sun = rows[(date(2024, 2, 11),)]
    assert sun["total_passengers"] == 1  # null passenger_count adds nothing
    assert sun["pickup_month"] == "2024-02"


def test_hourly_patterns_one_row_per_date_and_hour(staging):
    rows = as_dict(A.hourly_patterns(staging), "pickup_date", "pickup_hour")
    assert set(rows) == {(date(2024, 2, 10), 8), (date(2024, 2, 10), 23), (date(2024, 2, 11), 14)}
    morning = rows[(date(2024, 2, 10), 8)]
    assert (morning["trip_count"], morning["time_of_day_category"], morning["is_weekend"]) == (
        2,
        "morning_rush",
        True,
    )
    assert morning["avg_speed_mph"] == pytest.approx((9.0 + 51.0) / 2)  # 3 and 17 miles in 20 minutes
    assert rows[(date(2024, 2, 10), 23)]["time_of_day_category"] == "evening"


def test_payment_analysis_names_payment_types(staging):
    rows = as_dict(A.payment_analysis(staging), "pickup_date", "payment_type")
    sat_card = rows[(date(2024, 2, 10), 1)]
    assert (sat_card["payment_type_name"], sat_card["trip_count"], sat_card["tipped_trips"]) == (
        "Credit card",
        2,
        2,
    )
    assert rows[(date(2024, 2, 10), 2)]["payment_type_name"] == "Cash"
    assert rows[(date(2024, 2, 10), 2)]["tipped_trips"] == 0
    assert rows[(date(2024, 2, 10), 2)]["avg_tip_pct"] is None
    assert rows[(date(2024, 2, 11), 0)]["payment_type_name"] == "Flex Fare"
    sun_card = rows[(date(2024, 2, 11), 1)]
    assert (sun_card["tipped_trips"], sun_card["avg_tip_pct"]) == (0, 0.0)


def test_payment_codes_outside_the_table_are_named_unknown(staging):
    odd = staging.withColumn("payment_type", F.lit(9))
    names = {r["payment_type_name"] for r in A.payment_analysis(odd).collect()}
    assert names == {"Unknown"}


def test_distance_analysis_one_row_per_date_and_category(staging):
    rows = as_dict(A.distance_analysis(staging), "pickup_date", "distance_category")
    assert set(rows) == {
        (date(2024, 2, 10), "3-5 mi"),
        (date(2024, 2, 10), "10-20 mi"),
        (date(2024, 2, 11), "0-1 mi"),
        (date(2024, 2, 11), "3-5 mi"),
    }
    sat_short = rows[(date(2024, 2, 10), "3-5 mi")]
    assert sat_short["trip_count"] == 2 and sat_short["total_distance"] == 6.0
    assert sat_short["avg_fare_per_mile"] == pytest.approx((15.6 / 3 + 0.0) / 2)
    assert rows[(date(2024, 2, 10), "10-20 mi")]["avg_fare_per_mile"] == pytest.approx(70.0 / 17)


def test_location_analysis_keeps_unknown_pickup_zones(staging):
    rows = as_dict(A.location_analysis(staging), "pickup_date", "pu_location_id")
    unknown = rows[(date(2024, 2, 10), 150)]
    assert (unknown["pu_borough"], unknown["pu_zone"], unknown["trip_count"]) == ("Unknown", "Unknown", 1)
    jfk = rows[(date(2024, 2, 10), 132)]
    assert (jfk["pu_zone"], jfk["total_revenue"], jfk["avg_distance"]) == (
        "JFK Airport",
        Decimal("91.75"),
        17.0,
    )
    assert rows[(date(2024, 2, 11), 161)]["trip_count"] == 2
