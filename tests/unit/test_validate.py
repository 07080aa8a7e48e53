"""validate.split(): every conformed row is either accepted or quarantined with every reason that applies."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from pyspark.sql import functions as F

from spark_jobs.schemas.contracts import CANONICAL_COLUMNS, QUARANTINE_COLUMNS, QUARANTINE_REASONS
from spark_jobs.transforms import conform as C
from spark_jobs.transforms import validate as V

pytestmark = pytest.mark.spark

PICKUP = datetime(2024, 2, 10, 8, 15)


def outcome(df, month="2024-02"):
    """{row label (its source_file): reason_codes, '' when accepted}, from one Spark job.

    A label appearing twice fails here; a lost row shows as a missing key in the caller's comparison.
    """
    accepted, rejected = V.split(df, month)
    rows = (
        accepted.select("source_file", F.lit("").alias("reason_codes"))
        .unionByName(rejected.select("source_file", "reason_codes"))
        .collect()
    )
    labels = [r["source_file"] for r in rows]
    assert len(labels) == len(set(labels)), f"a row was duplicated: {labels}"
    return {r["source_file"]: r["reason_codes"] for r in rows}


def trips(canonical_df, **cases):
    """One canonical trip per keyword: label=overrides."""
    return canonical_df(*[{**o, "source_file": label} for label, o in cases.items()])


def test_rule_list_is_the_documented_one_in_order():
    expected = [
        "MISSING_REQUIRED",
        "NONFINITE_AMOUNT",
        "PICKUP_OUTSIDE_MONTH",
        "NON_POSITIVE_DURATION",
        "DURATION_OVER_24H",
        "NEGATIVE_AMOUNT",
        "ZERO_DISTANCE",
        "DISTANCE_OVER_100MI",
        "FARE_OUTLIER",
        "SPEED_OUTLIER",
        "INVALID_LOCATION",
        "INVALID_VENDOR",
        "INVALID_PAYMENT_TYPE",
        "INVALID_RATECODE",
        "INVALID_PASSENGER_COUNT",
        "INVALID_STORE_AND_FWD_FLAG",
    ]
    assert V.RULE_CODES == expected == [code for code, _ in QUARANTINE_REASONS]
    assert all(r.description for r in V.RULES)


def test_valid_trip_is_accepted_with_canonical_columns(canonical_df):
    accepted, rejected = V.split(canonical_df(), "2024-02")
    assert accepted.dtypes == CANONICAL_COLUMNS
    assert rejected.dtypes == QUARANTINE_COLUMNS
    assert accepted.count() == 1 and rejected.count() == 0


def test_negative_fare_is_quarantined_with_reason_code(canonical_df):
    df = canonical_df({"fare_amount": Decimal("-15.60"), "total_amount": Decimal("-26.10")})
    accepted, rejected = V.split(df, "2024-02")
    assert accepted.count() == 0
    row = rejected.collect()[0]
    assert row["reason_codes"] == "NEGATIVE_AMOUNT" and row["primary_reason"] == "NEGATIVE_AMOUNT"
    assert row["fare_amount"] == Decimal("-15.60")  # the quarantined row keeps its values


def test_any_negative_money_component_is_quarantined(canonical_df):
    result = outcome(
        trips(
            canonical_df,
            tip={"tip_amount": Decimal("-1.00")},
            airport={"airport_fee": Decimal("-1.75")},
            cbd={"cbd_congestion_fee": Decimal("-0.75")},
            null_fee={"congestion_surcharge": None, "airport_fee": None},
        )
    )
    assert result == {
        "tip": "NEGATIVE_AMOUNT",
        "airport": "NEGATIVE_AMOUNT",
        "cbd": "NEGATIVE_AMOUNT",
        "null_fee": "",
    }


def test_rows_failing_two_rules_carry_both_codes_in_rule_order(canonical_df):
    df = canonical_df({"trip_distance": 0.0, "fare_amount": Decimal("-3.00"), "vendor_id": 3})
    row = V.split(df, "2024-02")[1].collect()[0]
    assert row["reason_codes"] == "NEGATIVE_AMOUNT,ZERO_DISTANCE,INVALID_VENDOR"
    assert row["primary_reason"] == "NEGATIVE_AMOUNT"


def test_null_required_columns_are_missing_required(canonical_df):
    result = outcome(
        trips(
            canonical_df,
            vendor={"vendor_id": None},
            pickup={"pickup_datetime": None},
            pu={"pu_location_id": None},
            payment={"payment_type": None},
            distance={"trip_distance": None},
            total={"total_amount": None},
            passengers={"passenger_count": None, "ratecode_id": None, "store_and_fwd_flag": None},
        )
    )
    assert result == {
        "vendor": "MISSING_REQUIRED",
        "pickup": "MISSING_REQUIRED",
        "pu": "MISSING_REQUIRED",
        "payment": "MISSING_REQUIRED",
        "distance": "MISSING_REQUIRED",
        "total": "MISSING_REQUIRED",
        "passengers": "",  # optional columns (the null block) may be null
    }


def test_nan_total_is_quarantined_not_lost(raw_df):
    conformed = C.conform(
        raw_df(
            {"total_amount": float("nan"), "source_file": "nan_total"},
            {"trip_distance": float("inf"), "source_file": "inf_distance"},
            {"fare_amount": float("nan"), "total_amount": None, "source_file": "nan_fare_null_total"},
            {"source_file": "ok"},
        )
    )
    assert outcome(conformed) == {
        "nan_total": "NONFINITE_AMOUNT",
        "inf_distance": "NONFINITE_AMOUNT",
        "nan_fare_null_total": "MISSING_REQUIRED,NONFINITE_AMOUNT",  # the null total is really missing
        "ok": "",
    }
    rejected = V.split(conformed, "2024-02")[1]
    assert rejected.dtypes == QUARANTINE_COLUMNS  # transient columns are dropped


def test_unreadable_ids_get_their_domain_code_not_missing_required(raw_df):
    era_2019 = {"VendorID": 2.0, "passenger_count": 1.0, "PULocationID": 161.0}  # doubles, as in old files
    conformed = C.conform(
        raw_df(
            {**era_2019, "VendorID": 2.5, "source_file": "vendor"},
            {**era_2019, "passenger_count": 1.5, "source_file": "passengers"},
            {**era_2019, "RatecodeID": 2**40, "source_file": "ratecode"},
            {**era_2019, "PULocationID": float("nan"), "source_file": "location"},
            types={"VendorID": "double", "passenger_count": "double", "PULocationID": "double"},
        )
    )
    assert outcome(conformed) == {
        "vendor": "INVALID_VENDOR",
        "passengers": "INVALID_PASSENGER_COUNT",
        "ratecode": "INVALID_RATECODE",
        "location": "INVALID_LOCATION",
    }


@pytest.mark.parametrize("tz", ["UTC", "America/New_York"])
def test_pickup_must_fall_within_the_processed_month(canonical_df, session_time_zone, tz):
    df = trips(
        canonical_df,
        first_instant={
            "pickup_datetime": datetime(2024, 2, 1),
            "dropoff_datetime": datetime(2024, 2, 1, 0, 10),
        },
        last_instant={
            "pickup_datetime": datetime(2024, 2, 29, 23, 59, 59, 999999),
            "dropoff_datetime": datetime(2024, 3, 1, 0, 10),
        },
        next_month={"pickup_datetime": datetime(2024, 3, 1), "dropoff_datetime": datetime(2024, 3, 1, 0, 10)},
        previous_month={
            "pickup_datetime": datetime(2024, 1, 31, 23, 59, 59),
            "dropoff_datetime": datetime(2024, 2, 1, 0, 10),
        },
        years_away={
            "pickup_datetime": datetime(2002, 2, 10, 8, 15),
            "dropoff_datetime": datetime(2002, 2, 10, 8, 30),
        },
    )
    with session_time_zone(tz):
        result = outcome(df)
    assert result == {
        "first_instant": "",
        "last_instant": "",
        "next_month": "PICKUP_OUTSIDE_MONTH",
        "previous_month": "PICKUP_OUTSIDE_MONTH",
        "years_away": "PICKUP_OUTSIDE_MONTH",
    }


def test_december_month_ends_at_new_year(canonical_df):
    df = trips(
        canonical_df,
        dec={
            "pickup_datetime": datetime(2024, 12, 31, 23, 0),
            "dropoff_datetime": datetime(2024, 12, 31, 23, 30),
        },
        jan={"pickup_datetime": datetime(2025, 1, 1, 0, 0), "dropoff_datetime": datetime(2025, 1, 1, 0, 30)},
    )
    assert outcome(df, "2024-12") == {"dec": "", "jan": "PICKUP_OUTSIDE_MONTH"}


def test_month_argument_must_be_year_dash_month(canonical_df):
    for bad in ("2024-2", "2024-13", "202402", "", None):
        with pytest.raises(ValueError, match="YYYY-MM"):
            V.split(canonical_df(), bad)


def test_duration_rules(canonical_df):
    df = trips(
        canonical_df,
        zero={"dropoff_datetime": PICKUP},
        backwards={"dropoff_datetime": PICKUP - timedelta(minutes=5)},
        exactly_24h={"dropoff_datetime": PICKUP + timedelta(hours=24)},
        over_24h={"dropoff_datetime": PICKUP + timedelta(hours=24, seconds=1)},
    )
    assert outcome(df) == {
        "zero": "NON_POSITIVE_DURATION",
        "backwards": "NON_POSITIVE_DURATION",
        "exactly_24h": "",
        "over_24h": "DURATION_OVER_24H",
    }


def test_distance_rules(canonical_df):
    df = trips(
        canonical_df,
        zero={"trip_distance": 0.0},
        negative={"trip_distance": -1.2},
        exactly_100={"trip_distance": 100.0, "dropoff_datetime": PICKUP + timedelta(hours=2)},
        over_100={"trip_distance": 100.01, "dropoff_datetime": PICKUP + timedelta(hours=2)},
    )
    assert outcome(df) == {
        "zero": "ZERO_DISTANCE",
        "negative": "ZERO_DISTANCE",
        "exactly_100": "",
        "over_100": "DISTANCE_OVER_100MI",
    }


def test_fare_outlier_thresholds(canonical_df):
    df = trips(
        canonical_df,
        fare_at_limit={"fare_amount": Decimal("1000.00"), "total_amount": Decimal("1010.00")},
        fare_over={"fare_amount": Decimal("1000.01"), "total_amount": Decimal("1010.00")},
        total_over={"fare_amount": Decimal("900.00"), "total_amount": Decimal("2000.01")},
        tip_over={"tip_amount": Decimal("500.01"), "total_amount": Decimal("520.00")},
    )
    assert outcome(df) == {
        "fare_at_limit": "",
        "fare_over": "FARE_OUTLIER",
        "total_over": "FARE_OUTLIER",
        "tip_over": "FARE_OUTLIER",
    }


def test_speed_outlier_over_100_mph(canonical_df):
    df = trips(
        canonical_df,
        # 10 miles in 6 minutes = 100 mph: allowed; in 5 minutes = 120 mph: not.
        at_100={"trip_distance": 10.0, "dropoff_datetime": PICKUP + timedelta(minutes=6)},
        at_120={"trip_distance": 10.0, "dropoff_datetime": PICKUP + timedelta(minutes=5)},
        zero_duration={"trip_distance": 10.0, "dropoff_datetime": PICKUP},
    )
    assert outcome(df) == {"at_100": "", "at_120": "SPEED_OUTLIER", "zero_duration": "NON_POSITIVE_DURATION"}


def test_domain_rules(canonical_df):
    df = trips(
        canonical_df,
        pu_0={"pu_location_id": 0},
        do_266={"do_location_id": 266},
        vendor_3={"vendor_id": 3},
        vendors_6_7={"vendor_id": 6},
        vendor_7={"vendor_id": 7},
        payment_7={"payment_type": 7},
        payment_neg={"payment_type": -1},
        ratecode_7={"ratecode_id": 7},
        ratecode_99={"ratecode_id": 99},
        ratecode_null={"ratecode_id": None},
        passengers_neg={"passenger_count": -1},
        passengers_10={"passenger_count": 10},
        passengers_9={"passenger_count": 9},
    )
    assert outcome(df) == {
        "pu_0": "INVALID_LOCATION",
        "do_266": "INVALID_LOCATION",
        "vendor_3": "INVALID_VENDOR",
        "vendors_6_7": "",
        "vendor_7": "",
        "payment_7": "INVALID_PAYMENT_TYPE",
        "payment_neg": "INVALID_PAYMENT_TYPE",
        "ratecode_7": "INVALID_RATECODE",
        "ratecode_99": "",
        "ratecode_null": "",
        "passengers_neg": "INVALID_PASSENGER_COUNT",
        "passengers_10": "INVALID_PASSENGER_COUNT",
        "passengers_9": "",
    }


def test_store_and_fwd_flag_other_than_y_or_n_is_quarantined_row_by_row(canonical_df):
    df = trips(
        canonical_df,
        y={"store_and_fwd_flag": "Y"},
        n={"store_and_fwd_flag": "N"},
        null={"store_and_fwd_flag": None},  # the TLC null block: allowed
        lower={"store_and_fwd_flag": "y"},  # exact match: no case folding
        padded={"store_and_fwd_flag": "N "},  # no trimming
        empty={"store_and_fwd_flag": ""},
        long={"store_and_fwd_flag": "YES" * 300},
        with_other={"store_and_fwd_flag": "1", "vendor_id": 3},
    )
    assert outcome(df) == {
        "y": "",
        "n": "",
        "null": "",
        "lower": "INVALID_STORE_AND_FWD_FLAG",
        "padded": "INVALID_STORE_AND_FWD_FLAG",
        "empty": "INVALID_STORE_AND_FWD_FLAG",
        "long": "INVALID_STORE_AND_FWD_FLAG",
        "with_other": "INVALID_VENDOR,INVALID_STORE_AND_FWD_FLAG",
    }
    rejected = V.split(df, "2024-02")[1]
    kept = {r["source_file"]: r["store_and_fwd_flag"] for r in rejected.collect()}
    assert kept["long"] == "YES" * 300 and kept["padded"] == "N "  # quarantined as delivered


def test_raw_store_and_fwd_flag_reaches_the_rule_unchanged_through_conform(raw_df):
    conformed = C.conform(
        raw_df(
            {"store_and_fwd_flag": "YES" * 300, "source_file": "long"},
            {"store_and_fwd_flag": "y", "source_file": "lower"},
            {"store_and_fwd_flag": None, "source_file": "null"},
            {"source_file": "ok"},
        )
    )
    assert outcome(conformed) == {
        "long": "INVALID_STORE_AND_FWD_FLAG",
        "lower": "INVALID_STORE_AND_FWD_FLAG",
        "null": "",
        "ok": "",
    }


def test_zero_passengers_unknown_zones_and_flex_fare_are_not_rejected(canonical_df):
    df = trips(
        canonical_df,
        zero_passengers={"passenger_count": 0},
        unknown_zone={"pu_location_id": 264, "do_location_id": 265},
        flex_fare={
            "payment_type": 0,
            "passenger_count": None,
            "ratecode_id": None,
            "store_and_fwd_flag": None,
            "congestion_surcharge": None,
            "airport_fee": None,
        },
    )
    assert outcome(df) == {"zero_passengers": "", "unknown_zone": "", "flex_fare": ""}


def test_every_row_is_exactly_accepted_or_rejected_even_when_all_null(canonical_df, spark):
    all_null = {name: None for name, _ in CANONICAL_COLUMNS}
    df = canonical_df(
        {**all_null, "source_file": "all_null"},
        {"source_file": "ok"},
        {"fare_amount": Decimal("-1.00"), "source_file": "bad"},
    )
    accepted, rejected = V.split(df, "2024-02")
    assert accepted.count() + rejected.count() == df.count() == 3
    codes = {r["source_file"]: r["reason_codes"] for r in rejected.collect()}
    assert codes["all_null"] == "MISSING_REQUIRED"
    assert set(codes) == {"all_null", "bad"}


def test_flag_then_split_flagged_equals_split(canonical_df):
    df = canonical_df({"source_file": "a"}, {"trip_distance": 0.0, "source_file": "b"})
    flagged = V.flag(df, "2024-02")
    assert dict(flagged.dtypes)[V.REASONS_COLUMN] == "string"
    accepted, rejected = V.split_flagged(flagged)
    assert [r["source_file"] for r in accepted.collect()] == ["a"]
    assert [(r["source_file"], r["primary_reason"]) for r in rejected.collect()] == [("b", "ZERO_DISTANCE")]
