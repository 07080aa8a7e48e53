"""enrich(): accepted trips -> staging rows with derived columns and zones; one staging row per trip."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest

from spark_jobs.schemas.contracts import STAGING_COLUMNS, ContractError
from spark_jobs.transforms import enrich as E

pytestmark = pytest.mark.spark


def by_label(staging, *cols):
    """{source_file: row} (trips are labelled through source_file)."""
    rows = staging.select("source_file", *cols).collect()
    assert len(rows) == len({r["source_file"] for r in rows}), "a trip was duplicated"
    return {r["source_file"]: r for r in rows}


def trips(canonical_df, **cases):
    return canonical_df(*[{**o, "source_file": label} for label, o in cases.items()])


def at(hour, minute=0, day=10):
    start = datetime(2024, 2, day, hour, minute)
    return {"pickup_datetime": start, "dropoff_datetime": start + timedelta(minutes=15)}


def test_staging_rows_match_the_contract(canonical_df, zones_df):
    staging = E.enrich(canonical_df(), zones_df)
    assert staging.dtypes == STAGING_COLUMNS
    row = staging.collect()[0]
    assert row["trip_duration_min"] == 15.0
    assert row["avg_speed_mph"] == pytest.approx(12.0)  # 3 miles in a quarter hour
    assert row["pickup_date"] == date(2024, 2, 10) and row["pickup_hour"] == 8
    assert row["tip_pct"] == pytest.approx(4.0 / 15.6 * 100)
    assert row["fare_per_mile"] == pytest.approx(5.2)
    assert (row["pu_borough"], row["pu_zone"]) == ("Manhattan", "Midtown Center")
    assert (row["do_borough"], row["do_zone"]) == ("Manhattan", "Upper East Side North")
    assert row["fare_amount"] == Decimal("15.60")  # canonical columns pass through untouched


def test_time_of_day_boundaries(canonical_df, zones_df):
    hours = [0, 5, 6, 9, 10, 15, 16, 19, 20, 23]
    df = trips(canonical_df, **{f"h{h}": at(h, 59 if h in (5, 9, 15, 19, 23) else 0) for h in hours})
    got = {
        label: r["time_of_day_category"]
        for label, r in by_label(E.enrich(df, zones_df), "time_of_day_category").items()
    }
    assert got == {
        "h0": "overnight",
        "h5": "overnight",
        "h6": "morning_rush",
        "h9": "morning_rush",
        "h10": "midday",
        "h15": "midday",
        "h16": "evening_rush",
        "h19": "evening_rush",
        "h20": "evening",
        "h23": "evening",
    }


def test_distance_category_boundaries(canonical_df, zones_df):
    miles = {
        "d0_5": 0.5,
        "d1": 1.0,
        "d2_99": 2.99,
        "d3": 3.0,
        "d5": 5.0,
        "d9_99": 9.99,
        "d10": 10.0,
        "d20": 20.0,
        "d99": 99.0,
    }
    df = trips(
        canonical_df,
        **{k: {"trip_distance": v, "dropoff_datetime": datetime(2024, 2, 10, 10)} for k, v in miles.items()},
    )
    got = {
        k: r["distance_category"] for k, r in by_label(E.enrich(df, zones_df), "distance_category").items()
    }
    assert got == {
        "d0_5": "0-1 mi",
        "d1": "1-3 mi",
        "d2_99": "1-3 mi",
        "d3": "3-5 mi",
        "d5": "5-10 mi",
        "d9_99": "5-10 mi",
        "d10": "10-20 mi",
        "d20": "20+ mi",
        "d99": "20+ mi",
    }


def test_weekday_is_iso_and_weekend_is_saturday_and_sunday(canonical_df, zones_df):
    df = trips(canonical_df, sat=at(12, day=10), sun=at(12, day=11), mon=at(12, day=12), fri=at(12, day=16))
    got = {
        k: (r["pickup_weekday"], r["is_weekend"])
        for k, r in by_label(E.enrich(df, zones_df), "pickup_weekday", "is_weekend").items()
    }
    assert got == {"sat": (6, True), "sun": (7, True), "mon": (1, False), "fri": (5, False)}


@pytest.mark.parametrize("tz", ["America/New_York", "Asia/Kolkata"])
def test_derived_time_columns_do_not_depend_on_session_time_zone(
    canonical_df, zones_df, session_time_zone, tz
):
    # The night New York springs forward: 01:30 -> 03:30 wall clock is two hours of recorded time.
    df = trips(
        canonical_df,
        dst={
            "pickup_datetime": datetime(2024, 3, 10, 1, 30),
            "dropoff_datetime": datetime(2024, 3, 10, 3, 30),
            "trip_distance": 20.0,
        },
        late={
            "pickup_datetime": datetime(2024, 2, 29, 23, 50),
            "dropoff_datetime": datetime(2024, 3, 1, 0, 20),
        },
    )
    cols = [
        "pickup_date",
        "pickup_hour",
        "pickup_weekday",
        "time_of_day_category",
        "trip_duration_min",
        "avg_speed_mph",
        "pickup_datetime",
    ]
    utc = by_label(E.enrich(df, zones_df), *cols)
    with session_time_zone(tz):
        other = by_label(E.enrich(df, zones_df), *cols)
    assert utc == other
    assert utc["dst"]["trip_duration_min"] == 120.0 and utc["dst"]["avg_speed_mph"] == 10.0
    assert (utc["dst"]["pickup_date"], utc["dst"]["pickup_hour"]) == (date(2024, 3, 10), 1)
    assert (utc["late"]["pickup_date"], utc["late"]["pickup_hour"]) == (date(2024, 2, 29), 23)
    assert utc["late"]["trip_duration_min"] == 30.0


def test_tip_pct_and_fare_per_mile_are_null_when_undefined(canonical_df, zones_df):
    df = trips(
        canonical_df,
        free={"fare_amount": Decimal("0.00"), "tip_amount": Decimal("0.00"), "total_amount": Decimal("0.00")},
        tipped={"fare_amount": Decimal("20.00"), "tip_amount": Decimal("5.00")},
        no_distance={"trip_distance": 0.0},
    )
    got = by_label(E.enrich(df, zones_df), "tip_pct", "fare_per_mile", "avg_speed_mph")
    assert got["free"]["tip_pct"] is None
    assert got["tipped"]["tip_pct"] == 25.0
    assert got["no_distance"]["fare_per_mile"] is None


def test_avg_speed_is_null_when_duration_is_not_positive(canonical_df, zones_df):
    df = canonical_df({"dropoff_datetime": datetime(2024, 2, 10, 8, 15)})
    row = E.enrich(df, zones_df).collect()[0]
    assert row["trip_duration_min"] == 0.0 and row["avg_speed_mph"] is None


def test_unknown_location_gets_unknown_borough_not_dropped(canonical_df, zones_df):
    df = trips(
        canonical_df,
        missing_pu={"pu_location_id": 150},
        missing_both={"pu_location_id": 7, "do_location_id": 8},
    )
    got = by_label(E.enrich(df, zones_df), "pu_borough", "pu_zone", "do_borough", "do_zone")
    assert set(got) == {"missing_pu", "missing_both"}
    assert (got["missing_pu"]["pu_borough"], got["missing_pu"]["pu_zone"]) == ("Unknown", "Unknown")
    assert got["missing_pu"]["do_zone"] == "Upper East Side North"
    assert (got["missing_both"]["do_borough"], got["missing_both"]["do_zone"]) == ("Unknown", "Unknown")


def test_duplicate_zone_rows_never_duplicate_trips(canonical_df, zones_df, spark):
    dup = zones_df.unionByName(
        spark.createDataFrame([(161, "Manhattan", "Midtown Center (dup)", "Yellow Zone")], zones_df.schema)
    )
    staging = E.enrich(canonical_df({"source_file": "a"}, {"source_file": "b"}), dup)
    rows = staging.select("source_file", "pu_zone").collect()
    assert sorted(r["source_file"] for r in rows) == ["a", "b"]
    assert {r["pu_zone"] for r in rows} == {"Midtown Center"}  # deterministic choice: the smallest


def test_na_zone_values_are_kept_as_text_and_flagged_unknown_zone(canonical_df, zones_df):
    df = trips(canonical_df, unknown={"pu_location_id": 264, "do_location_id": 265}, known={})
    got = by_label(
        E.enrich(df, zones_df), "pu_borough", "pu_zone", "do_borough", "do_zone", "is_unknown_zone"
    )
    u = got["unknown"]
    assert (u["pu_borough"], u["pu_zone"], u["do_borough"], u["do_zone"]) == (
        "Unknown",
        "N/A",
        "N/A",
        "Outside of NYC",
    )
    assert u["is_unknown_zone"] is True and got["known"]["is_unknown_zone"] is False


def test_trip_flags(canonical_df, zones_df):
    df = trips(
        canonical_df,
        jfk_pickup={"pu_location_id": 132},
        ewr_dropoff={"do_location_id": 1},
        lga_both={"pu_location_id": 138, "do_location_id": 138},
        flex={"payment_type": 0, "passenger_count": None, "ratecode_id": None},
        zero_passengers={"passenger_count": 0},
        plain={},
    )
    got = by_label(E.enrich(df, zones_df), "is_airport_trip", "is_flex_fare", "is_zero_passengers")
    flags = {k: (r["is_airport_trip"], r["is_flex_fare"], r["is_zero_passengers"]) for k, r in got.items()}
    assert flags == {
        "jfk_pickup": (True, False, False),
        "ewr_dropoff": (True, False, False),
        "lga_both": (True, False, False),
        "flex": (False, True, False),  # null passenger_count is not zero passengers
        "zero_passengers": (False, False, True),
        "plain": (False, False, False),
    }


def test_zone_lookup_csv_with_crlf_quotes_and_na_is_read_as_text(spark, tmp_path):
    path = tmp_path / "taxi_zone_lookup.csv"
    path.write_bytes(
        b'"LocationID","Borough","Zone","service_zone"\r\n'
        b'1,"EWR","Newark Airport","EWR"\r\n'
        b'264,"Unknown","N/A","N/A"\r\n'
        b'265,"N/A","Outside of NYC","N/A"\r\n'
    )
    raw = spark.read.option("header", True).csv(str(path))
    zones = E.zones_from_csv_df(raw)
    assert zones.dtypes == E.ZONE_COLUMNS
    rows = {r["LocationID"]: tuple(r)[1:] for r in zones.collect()}
    assert rows == {
        1: ("EWR", "Newark Airport", "EWR"),
        264: ("Unknown", "N/A", "N/A"),
        265: ("N/A", "Outside of NYC", "N/A"),
    }


def test_zone_lookup_without_a_required_column_is_refused(spark):
    raw = spark.createDataFrame(
        [("1", "EWR", "EWR")], "LocationID string, Borough string, service_zone string"
    )
    with pytest.raises(ContractError, match="Zone"):
        E.zones_from_csv_df(raw)


def test_every_accepted_trip_becomes_one_staging_row(canonical_df, zones_df):
    df = trips(
        canonical_df,
        **{f"t{i}": {"pu_location_id": loc} for i, loc in enumerate([1, 132, 150, 264, 265, 161])},
    )
    assert E.enrich(df, zones_df).count() == df.count() == 6
