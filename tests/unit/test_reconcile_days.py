"""Day-by-day reconciliation: the fingerprint's definition (DuckDB against a plain-Python rendering), how
differences are named, and the rule for which raw objects the etl reads (docs/adr/0019)."""

from __future__ import annotations

import hashlib
from datetime import datetime
from decimal import Decimal

import pyarrow as pa
import pytest

from spark_jobs.io import paths
from taxilab.validation import fingerprint as fp
from taxilab.validation.reconcile import compare_days


def python_fingerprint(rows: list[list]) -> int:
    """The ADR's definition written out: fields as integer text or '~', '|' between, first 15 hex digits
    of the MD5 as an integer, summed."""
    total = 0
    for r in rows:
        text = "|".join("~" if v is None else str(v) for v in r)
        total += int(hashlib.md5(text.encode()).hexdigest()[:15], 16)
    return total


def trip_table(rows: list[dict]) -> pa.Table:
    money = pa.decimal128(12, 2)
    types = {
        "vendor_id": pa.int32(),
        "pickup_datetime": pa.timestamp("us"),
        "dropoff_datetime": pa.timestamp("us"),
        "pu_location_id": pa.int32(),
        "do_location_id": pa.int32(),
        "payment_type": pa.int32(),
        "passenger_count": pa.int32(),
        "ratecode_id": pa.int32(),
        "fare_amount": money,
        "tip_amount": money,
        "tolls_amount": money,
        "total_amount": money,
    }
    return pa.table({c: pa.array([r.get(c) for r in rows], t) for c, t in types.items()})


ROWS = [
    {
        "vendor_id": 2,
        "pickup_datetime": datetime(2021, 3, 14, 23, 59, 59, 999999),  # floored to :59
        "dropoff_datetime": datetime(2021, 3, 15, 0, 10, 0, 500000),
        "pu_location_id": 132,
        "do_location_id": 236,
        "payment_type": 1,
        "passenger_count": 1,
        "ratecode_id": 1,
        "fare_amount": Decimal("-12.50"),  # negative amounts keep their sign
        "tip_amount": Decimal("0.05"),
        "tolls_amount": None,
        "total_amount": Decimal("-12.45"),
    },
    {"pickup_datetime": datetime(1969, 12, 31, 23, 59, 59, 500000), "total_amount": Decimal("9999999999.99")},
]


def test_duckdb_fingerprint_equals_the_definition_written_in_python():
    t = trip_table(ROWS)
    n = fp.normalize(t, fp.TRIP_FIELDS)
    days = fp.per_day([n], fp.TRIP_FIELDS, fp.SUMMED)
    expected_first = [2, 1615766399, 1615767000, 132, 236, 1, 1, 1, -1250, 5, None, -1245]
    expected_second = [None, -1, None, None, None, None, None, None, None, None, None, 999999999999]
    assert n.slice(0, 1).drop(["day"]).to_pylist()[0] == dict(
        zip(fp.TRIP_FIELDS, expected_first, strict=True)
    )
    assert set(days) == {"2021-03-14", "1969-12-31"}
    assert days["2021-03-14"].fingerprint == python_fingerprint([expected_first])
    assert days["2021-03-14"].sums == {"total_cents": -1245, "fare_cents": -1250, "tip_cents": 5}
    assert days["1969-12-31"].fingerprint == python_fingerprint([expected_second])


def test_fingerprint_does_not_depend_on_row_order_or_batching():
    t = trip_table(ROWS * 3)
    whole = fp.per_day([fp.normalize(t, fp.TRIP_FIELDS)], fp.TRIP_FIELDS)
    reversed_in_two = fp.per_day(
        [fp.normalize(t.take([5, 4, 3]), fp.TRIP_FIELDS), fp.normalize(t.take([2, 1, 0]), fp.TRIP_FIELDS)],
        fp.TRIP_FIELDS,
    )
    assert whole == reversed_in_two


def test_a_row_without_a_pickup_time_is_counted_under_no_date():
    n = fp.normalize(trip_table([{"vendor_id": 1}]), fp.RAW_FIELDS)
    assert fp.per_day([n], fp.RAW_FIELDS)[fp.NO_DATE].rows == 1


def test_raw_ids_and_times_are_read_as_conform_leaves_them():
    assert fp.conformed_int(pa.array([1.0, 1.5, float("nan"), None, 2.0**40])).to_pylist() == [
        1,
        None,
        None,
        None,
        None,
    ]
    assert fp.conformed_int(pa.array(["3", "x", None])).to_pylist() == [3, None, None]
    ns = pa.array([-1, 1_615_766_399_999_999_999], pa.timestamp("ns", tz="UTC"))
    assert fp.epoch_seconds(ns).to_pylist() == [-1, 1_615_766_399]


def test_a_differing_day_is_named_with_its_layer_day_and_differences():
    left = {"2021-03-14": fp.Day(1204, 7, {"total_cents": 100}), "2021-03-15": fp.Day(5, 1, {})}
    right = {"2021-03-14": fp.Day(1203, 8, {"total_cents": -250}), "2021-03-15": fp.Day(5, 1, {})}
    checks = compare_days("staging vs fct_trips", left, right)
    assert [c.name for c in checks] == [
        "staging vs fct_trips 2021-03-14: rows 1204 vs 1203 (-1), total 1.00 vs -2.50 (-3.50), fingerprint differs"
    ]
    assert not checks[0].ok


def test_a_lost_row_offset_by_a_duplicate_fails_on_the_fingerprint_alone():
    a, b, c = ([1, 100, 200, 4, 5, 1], [1, 101, 201, 4, 5, 1], [2, 100, 200, 4, 5, 1])
    left = {"2021-03-02": fp.Day(2, python_fingerprint([a, b]), {"total_cents": 10})}
    right = {"2021-03-02": fp.Day(2, python_fingerprint([a, a]), {"total_cents": 10})}
    assert [x.name for x in compare_days("raw vs staging", left, right)] == [
        "raw vs staging 2021-03-02: fingerprint differs"
    ]
    assert python_fingerprint([a, c]) == python_fingerprint([c, a])


def test_equal_days_make_one_passing_check():
    days = {"2021-03-01": fp.Day(3, 9, {"total_cents": 1}), fp.NO_DATE: fp.Day(1, 2, {})}
    [check] = compare_days("raw vs staging + quarantine", days, dict(days))
    assert check.ok and check.expected == check.actual == 4


def test_a_day_present_on_one_side_only_is_named():
    [check] = compare_days("staging vs fct_trips", {"2021-03-09": fp.Day(2, 5, {})}, {})
    assert check.name == "staging vs fct_trips 2021-03-09: rows 2 vs 0 (-2), fingerprint differs"


@pytest.mark.parametrize(
    ("relative", "reason"),
    [
        ("yellow_tripdata_2021-03.parquet", None),
        ("x.PARQUET", "does not end in '.parquet'"),
        ("late/yellow_tripdata_2021-03-15.parquet", "nested folder"),
        ("_tmp.parquet", "starts with '_' or '.'"),
        (".x.parquet", "starts with '_' or '.'"),
        ("notes.txt", "does not end in '.parquet'"),
    ],
)
def test_raw_objects_the_etl_does_not_read_are_named_with_why(relative, reason):
    problem = paths.raw_object_problem(relative)
    assert (problem is None) if reason is None else (reason in problem)


def test_ingest_refuses_a_raw_name_the_etl_would_not_read():
    from taxilab.core.settings import load_settings
    from taxilab.ingest.raw import IngestError, raw_key

    s = load_settings()
    assert raw_key(s, "2021-03", "yellow_tripdata_2021-03-02.parquet").endswith(
        "month=03/yellow_tripdata_2021-03-02.parquet"
    )
    with pytest.raises(
        IngestError, match=r"raw key raw/.*/month=03/x\.PARQUET: refused: its name does not end"
    ):
        raw_key(s, "2021-03", "x.PARQUET")
