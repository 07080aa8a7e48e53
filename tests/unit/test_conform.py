"""conform(): every TLC era (2011+) becomes canonical rows, one per source row, nothing lost silently."""

from __future__ import annotations

import calendar
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from pyspark.sql import functions as F

from spark_jobs.schemas.contracts import CANONICAL_COLUMNS, ContractError
from spark_jobs.transforms import conform as C

pytestmark = pytest.mark.spark

CANONICAL_AND_TRANSIENT = CANONICAL_COLUMNS + C.TRANSIENT_COLUMNS

# The 2011..2023-01 shape: lower-case airport_fee, int64 IDs, double passenger_count/RatecodeID.
RAW_2019 = [
    ("VendorID", "bigint", 1),
    ("tpep_pickup_datetime", "timestamp_ntz", datetime(2019, 3, 1, 23, 59, 59)),
    ("tpep_dropoff_datetime", "timestamp_ntz", datetime(2019, 3, 2, 0, 20, 0)),
    ("passenger_count", "double", 2.0),
    ("trip_distance", "double", 5.1),
    ("RatecodeID", "double", 99.0),
    ("store_and_fwd_flag", "string", "Y"),
    ("PULocationID", "bigint", 132),
    ("DOLocationID", "bigint", 264),
    ("payment_type", "bigint", 2),
    ("fare_amount", "double", 18.5),
    ("extra", "double", 0.5),
    ("mta_tax", "double", 0.5),
    ("tip_amount", "double", 0.0),
    ("tolls_amount", "double", 0.0),
    ("improvement_surcharge", "double", 0.3),
    ("total_amount", "double", 19.8),
    ("congestion_surcharge", "double", None),
    ("airport_fee", "void", None),
    ("source_file", "string", "yellow_tripdata_2019-03.parquet"),
]


def one(df):
    rows = df.collect()
    assert len(rows) == 1
    return rows[0]


def test_2024_file_is_conformed_to_canonical_names_order_and_types(raw_df):
    out = C.conform(raw_df())
    assert out.dtypes == CANONICAL_AND_TRANSIENT
    row = one(out)
    assert row["vendor_id"] == 2 and row["pu_location_id"] == 161 and row["payment_type"] == 1
    assert row["pickup_datetime"] == datetime(2024, 2, 10, 8, 15)
    assert row["fare_amount"] == Decimal("15.60") and row["total_amount"] == Decimal("26.10")
    assert row["airport_fee"] == Decimal("0.00")  # from the capitalised Airport_fee
    assert row["cbd_congestion_fee"] is None  # absent before 2025
    assert row["source_file"] == "yellow_tripdata_2024-02.parquet"
    assert row[C.NONFINITE_FLAG] is False and row[C.UNCONFORMED_MASK] == 0


def test_airport_fee_lower_case_era_is_conformed(raw_df):
    out = C.conform(raw_df({"airport_fee": None}, columns=RAW_2019, types={"airport_fee": "double"}))
    assert out.dtypes == CANONICAL_AND_TRANSIENT
    row = one(out)
    assert (row["vendor_id"], row["passenger_count"], row["ratecode_id"]) == (1, 2, 99)
    assert (row["pu_location_id"], row["do_location_id"]) == (132, 264)
    assert row["improvement_surcharge"] == Decimal("0.30") and row["congestion_surcharge"] is None
    assert row["airport_fee"] is None and row[C.UNCONFORMED_MASK] == 0

    with_fee = one(
        C.conform(raw_df({"airport_fee": 1.25}, columns=RAW_2019, types={"airport_fee": "double"}))
    )
    assert with_fee["airport_fee"] == Decimal("1.25")


def test_null_typed_column_becomes_a_typed_null(raw_df):
    out = C.conform(raw_df(columns=RAW_2019))  # airport_fee is a void column here
    assert dict(out.dtypes)["airport_fee"] == "decimal(12,2)"
    assert one(out)["airport_fee"] is None


def test_2025_cbd_congestion_fee_is_kept(raw_df):
    src = raw_df().withColumn("cbd_congestion_fee", F.lit(0.75))
    assert one(C.conform(src))["cbd_congestion_fee"] == Decimal("0.75")


def test_missing_optional_columns_become_typed_nulls(raw_df):
    out = C.conform(raw_df(drop=("Airport_fee", "congestion_surcharge", "RatecodeID", "store_and_fwd_flag")))
    assert out.dtypes == CANONICAL_AND_TRANSIENT
    row = one(out)
    assert row["airport_fee"] is None and row["congestion_surcharge"] is None
    assert row["ratecode_id"] is None and row["store_and_fwd_flag"] is None


def test_amounts_are_rounded_half_up_to_cents(raw_df):
    out = C.conform(
        raw_df(
            {"fare_amount": 2.675, "tip_amount": -0.125, "extra": 1.005, "total_amount": 15.599999999999998},
        )
    )
    row = one(out)
    assert row["fare_amount"] == Decimal("2.68")
    assert row["tip_amount"] == Decimal("-0.13")
    assert row["extra"] == Decimal("1.01")
    assert row["total_amount"] == Decimal("15.60")


def test_nan_and_infinite_amounts_become_null_and_are_flagged(raw_df):
    nan, inf = float("nan"), float("inf")
    out = C.conform(
        raw_df(
            {"fare_amount": nan},
            {"total_amount": inf, "tip_amount": -inf},
            {"trip_distance": nan},
            {"tolls_amount": 1e12},  # finite but beyond decimal(12,2)
            {},
        )
    ).orderBy("fare_amount", "total_amount", "trip_distance", "tolls_amount")
    rows = out.collect()
    flagged = [r for r in rows if r[C.NONFINITE_FLAG]]
    assert len(rows) == 5 and len(flagged) == 4
    assert [r for r in rows if not r[C.NONFINITE_FLAG]][0][C.UNCONFORMED_MASK] == 0
    by_null = {
        name: [r for r in flagged if r[name] is None]
        for name in ("fare_amount", "total_amount", "tip_amount", "trip_distance", "tolls_amount")
    }
    assert all(len(v) == 1 for v in by_null.values()), by_null
    bit = 1 << [n for n, _ in CANONICAL_COLUMNS].index("total_amount")
    assert by_null["total_amount"][0][C.UNCONFORMED_MASK] & bit


def test_non_integral_and_out_of_range_ids_are_nulled_and_marked_unconformed(raw_df):
    out = C.conform(
        raw_df(
            {"passenger_count": 1.5, "RatecodeID": 2.0, "VendorID": 2**40},
            columns=RAW_2019,
            types={"airport_fee": "double"},
        )
    )
    row = one(out)
    assert row["passenger_count"] is None and row["vendor_id"] is None
    assert row["ratecode_id"] == 2
    names = [n for n, _ in CANONICAL_COLUMNS]
    assert row[C.UNCONFORMED_MASK] == (1 << names.index("passenger_count")) | (1 << names.index("vendor_id"))
    assert row[C.NONFINITE_FLAG] is False


def test_timestamp_with_time_zone_keeps_its_utc_wall_clock_in_any_session_time_zone(
    raw_df, session_time_zone
):
    # Spark reads INT96 / UTC-adjusted Parquet timestamps as instants (TimestampType).
    src = raw_df(
        {
            "tpep_pickup_datetime": datetime(2024, 2, 10, 8, 15, tzinfo=UTC),
            "tpep_dropoff_datetime": datetime(2024, 2, 10, 8, 30, tzinfo=UTC),
        },
        types={"tpep_pickup_datetime": "timestamp", "tpep_dropoff_datetime": "timestamp"},
    )
    with session_time_zone("UTC"):
        utc = one(C.conform(src))
    with session_time_zone("America/New_York"):
        ny = one(C.conform(src))
    assert dict(C.conform(src).dtypes)["pickup_datetime"] == "timestamp_ntz"
    assert utc["pickup_datetime"] == ny["pickup_datetime"] == datetime(2024, 2, 10, 8, 15)
    assert utc["dropoff_datetime"] == ny["dropoff_datetime"] == datetime(2024, 2, 10, 8, 30)


def test_nanosecond_timestamps_read_as_long_are_conformed(raw_df):
    # spark.sql.legacy.parquet.nanosAsLong=true turns TIMESTAMP(NANOS) columns into epoch nanoseconds.
    pickup_ns = calendar.timegm(datetime(2019, 3, 1, 23, 59, 59).timetuple()) * 10**9
    out = C.conform(
        raw_df(
            {
                "tpep_pickup_datetime": pickup_ns + 123_456_789,
                "tpep_dropoff_datetime": pickup_ns + 60 * 10**9,
            },
            columns=RAW_2019,
            types={
                "tpep_pickup_datetime": "bigint",
                "tpep_dropoff_datetime": "bigint",
                "airport_fee": "double",
            },
        )
    )
    row = one(out)
    assert row["pickup_datetime"] == datetime(2019, 3, 1, 23, 59, 59, 123_456)
    assert row["dropoff_datetime"] == datetime(2019, 3, 2, 0, 0, 59)


def test_unknown_columns_are_dropped_and_reported(raw_df):
    src = raw_df().withColumn("ehail_fee", F.lit(1.0)).withColumnRenamed("extra", "Extra")
    assert C.unknown_columns(src) == ["ehail_fee"]
    out = C.conform(src)
    assert [n for n, _ in out.dtypes] == [n for n, _ in CANONICAL_AND_TRANSIENT]
    assert one(out)["extra"] == Decimal("2.50")  # 'Extra' matched case-insensitively


def test_missing_required_columns_are_named_and_refused(raw_df):
    src = raw_df(drop=("PULocationID", "fare_amount"))
    assert C.missing_required(src) == ["pulocationid", "fare_amount"]
    assert C.missing_required(raw_df()) == []
    with pytest.raises(ContractError, match="pulocationid"):
        C.conform(src)


def test_two_source_columns_for_one_canonical_column_are_refused(raw_df):
    src = raw_df(columns=[*RAW_2019[:-1], ("Airport_fee", "double", 1.0), RAW_2019[-1]])
    with pytest.raises(ContractError, match="airport_fee"):
        C.conform(src)


def test_missing_source_file_column_is_refused(raw_df):
    with pytest.raises(ContractError, match="source_file"):
        C.conform(raw_df(drop=("source_file",)))


def test_unconformable_column_type_is_refused_with_its_name(raw_df):
    with pytest.raises(ContractError, match="tpep_pickup_datetime"):
        C.conform(raw_df({"tpep_pickup_datetime": True}, types={"tpep_pickup_datetime": "boolean"}))


def test_conform_keeps_every_row(raw_df):
    src = raw_df({}, {"fare_amount": float("nan")}, {"VendorID": None}, {"PULocationID": -5})
    assert C.conform(src).count() == src.count() == 4


def test_string_typed_numbers_are_parsed_and_unparseable_ones_flagged(raw_df):
    out = C.conform(
        raw_df(
            {
                "passenger_count": "2",
                "fare_amount": "12.345",
                "total_amount": "n/a",
                "tpep_pickup_datetime": "x",
            },
            types={
                "passenger_count": "string",
                "fare_amount": "string",
                "total_amount": "string",
                "tpep_pickup_datetime": "string",
            },
        )
    )
    assert out.dtypes == CANONICAL_AND_TRANSIENT
    row = one(out)
    assert row["passenger_count"] == 2 and row["fare_amount"] == Decimal("12.35")
    assert row["total_amount"] is None and row[C.NONFINITE_FLAG] is True
    assert row["pickup_datetime"] is None
    names = [n for n, _ in CANONICAL_COLUMNS]
    assert row[C.UNCONFORMED_MASK] == (1 << names.index("total_amount")) | (
        1 << names.index("pickup_datetime")
    )


def test_store_and_fwd_flag_values_pass_through_unchanged_never_nulled(raw_df):
    # Values other than Y/N are validate's business (INVALID_STORE_AND_FWD_FLAG): conform keeps them as
    # delivered and does not mark them unconformed.
    values = ["Y", "N", None, "y", "", "N ", "YES" * 300]
    out = C.conform(raw_df(*[{"store_and_fwd_flag": v} for v in values]))
    rows = out.collect()
    assert [r["store_and_fwd_flag"] for r in rows] == values
    assert all(r[C.UNCONFORMED_MASK] == 0 for r in rows)
