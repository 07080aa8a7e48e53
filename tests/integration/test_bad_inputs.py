"""A corpus of bad inputs through the real pipeline: each is refused with a clear error naming the file
and the problem (nothing landed, nothing downstream), or its rows are quarantined with reason codes and
reconciliation stays exact. Never an unhandled exception, never a hang.

Cheap refusals run the real Pipeline, which stops at ingest (no Spark); the row-level defects are
combined in one file, one Spark run, and each case's rows are found again by a marker (`extra` = the
case number, negated for the case that negates everything).

Decisions (docs/adr/0007-nothing-lost.md):
- exact duplicate rows are KEPT: TLC rows have no trip ID, so two identical rows can be two real trips;
  dropping one would lose a row and break raw = staging + quarantine.
- the same file delivered twice under two names is ONE delivery: ingest lands a month under one key,
  content-addressed by SHA-256, so the second delivery is 'unchanged' and nothing is counted twice.
"""

from __future__ import annotations

import math
import shutil
from dataclasses import dataclass
from datetime import datetime, timedelta

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from spark_jobs.io import paths
from taxilab.core import clients as aws
from taxilab.orchestration.pipeline import Pipeline, PipelineOptions, StageError
from taxilab.validation import lakestats
from tests.integration.tlcfiles import table_2024, trip, write_2024

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]

REFUSE_MONTH = "2015-07"  # nothing may ever land here
ROW_MONTH = "2024-09"
T0 = datetime(2024, 9, 10, 8, 0)


def _pipeline(settings, month, source):
    return Pipeline(PipelineOptions(month, str(source), 0, 1, progress=False), settings=settings)


def _valid(n=3):
    return [trip(datetime(2015, 7, 3, 8) + timedelta(minutes=i)) for i in range(n)]


def _write(path, rows, schema=None):
    return write_2024(path, rows, schema)


# --- file-level cases: refused at ingest ---------------------------------------------------------


def _empty(p):
    p.write_bytes(b"")


def _zero_rows(p):
    _write(p, [])


def _truncated(p):
    _write(p, _valid(200))
    data = p.read_bytes()
    p.write_bytes(data[: len(data) // 2])


def _corrupt_footer(p):
    _write(p, _valid())
    data = bytearray(p.read_bytes())
    n = int.from_bytes(data[-8:-4], "little")
    start = len(data) - 8 - n
    for i in range(start, start + n, 3):
        data[i] ^= 0x5A  # scramble the thrift footer, keep the length and magic
    p.write_bytes(bytes(data))


def _bad_magic(p):
    _write(p, _valid())
    p.write_bytes(p.read_bytes()[:-4] + b"XXXX")


def _magic_only(p):
    p.write_bytes(b"PAR1PAR1")


def _csv(p):
    p.write_text("VendorID,tpep_pickup_datetime,fare_amount\n2,2015-07-03 08:00:00,14.2\n")


def _green(p):
    t = table_2024(_valid())
    names = [
        "lpep_pickup_datetime"
        if n == "tpep_pickup_datetime"
        else "lpep_dropoff_datetime"
        if n == "tpep_dropoff_datetime"
        else n
        for n in t.column_names
    ]
    t = t.rename_columns(names).append_column("trip_type", pa.array([1, 1, 1], pa.int64()))
    pq.write_table(t, p)


def _drop(col):
    def build(p):
        pq.write_table(table_2024(_valid()).drop_columns([col]), p)

    return build


def _retype(col, typ, values):
    def build(p):
        t = table_2024(_valid())
        i = t.schema.get_field_index(col)
        pq.write_table(t.set_column(i, pa.field(col, typ), pa.array(values, typ)), p)

    return build


def _case_dupe(p):
    t = table_2024(_valid())
    pq.write_table(t.append_column("vendorid", pa.array([1, 1, 1], pa.int32())), p)


def _era_2009(p):
    pq.write_table(
        pa.table(
            {
                "vendor_name": ["VTS"],
                "Trip_Pickup_DateTime": ["2009-01-04 02:52:00"],
                "Trip_Dropoff_DateTime": ["2009-01-04 03:02:00"],
                "Passenger_Count": [1],
                "Trip_Distance": [2.63],
                "Start_Lon": [-73.99],
                "Start_Lat": [40.72],
                "End_Lon": [-73.99],
                "End_Lat": [40.70],
                "Payment_Type": ["CASH"],
                "Fare_Amt": [8.9],
                "Total_Amt": [9.4],
            }
        ),
        p,
    )


def _era_2010(p):
    pq.write_table(
        pa.table(
            {
                "vendor_id": ["CMT"],
                "pickup_datetime": ["2010-01-26 07:41:00"],
                "dropoff_datetime": ["2010-01-26 07:45:00"],
                "passenger_count": [1],
                "trip_distance": [0.75],
                "pickup_longitude": [-73.95],
                "pickup_latitude": [40.76],
                "dropoff_longitude": [-73.96],
                "dropoff_latitude": [40.76],
                "payment_type": ["CAS"],
                "fare_amount": [4.5],
                "total_amount": [5.0],
            }
        ),
        p,
    )


def _non_utf8(p):
    rows = _valid(2)
    t = table_2024(rows)
    # Build a large_string array whose bytes are not UTF-8 (pyarrow does not validate from_buffers).
    data = b"N\xff"
    offsets = pa.array([0, 1, 2], pa.int64()).buffers()[1]
    bad = pa.Array.from_buffers(pa.large_string(), 2, [None, offsets, pa.py_buffer(data)])
    i = t.schema.get_field_index("store_and_fwd_flag")
    pq.write_table(t.set_column(i, t.schema.field(i), bad), p)


def _unrelated(p):
    pq.write_table(pa.table({"a": [1, 2], "b": ["x", "y"]}), p)


@dataclass(frozen=True)
class Refusal:
    name: str
    build: object
    says: str  # a fragment the error must contain (besides the file path)


REFUSALS = [
    Refusal("empty file", _empty, "not a valid Parquet file"),
    Refusal("zero-row Parquet", _zero_rows, "no rows"),
    Refusal("truncated Parquet", _truncated, "not a valid Parquet file"),
    Refusal("corrupted footer", _corrupt_footer, "not a valid Parquet file"),
    Refusal("bad trailing magic", _bad_magic, "not a valid Parquet file"),
    Refusal("magic bytes only", _magic_only, "not a valid Parquet file"),
    Refusal("CSV renamed .parquet", _csv, "not a valid Parquet file"),
    Refusal("green taxi in the yellow slot", _green, "green taxi"),
    Refusal("missing PULocationID", _drop("PULocationID"), "missing required"),
    Refusal("missing total_amount", _drop("total_amount"), "missing required"),
    Refusal("unrelated Parquet", _unrelated, "missing required"),
    Refusal(
        "strings in fare_amount",
        _retype("fare_amount", pa.string(), ["14.2", "abc", None]),
        "'fare_amount' has type string",
    ),
    Refusal(
        "strings in pickup time",
        _retype("tpep_pickup_datetime", pa.string(), ["2015-07-03"] * 3),
        "has type string",
    ),
    Refusal(
        "list in total_amount", _retype("total_amount", pa.list_(pa.float64()), [[1.0]] * 3), "has type list"
    ),
    Refusal(
        "bool store_and_fwd_flag", _retype("store_and_fwd_flag", pa.bool_(), [True] * 3), "has type bool"
    ),
    Refusal("null-typed fare_amount", _retype("fare_amount", pa.null(), [None] * 3), "null-typed"),
    Refusal("columns differing only in case", _case_dupe, "differ only in case"),
    Refusal("2009 era file", _era_2009, "2009-2010"),
    Refusal("2010 era file", _era_2010, "2009-2010"),
    Refusal("non-UTF-8 bytes in strings", _non_utf8, "not valid UTF-8"),
]


def _raw_keys(settings, month):
    s3 = aws.client("s3", settings)
    prefix = paths.raw_month_prefix(settings.dataset, month)
    return [
        o["Key"]
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=settings.bucket, Prefix=prefix)
        for o in page.get("Contents", [])
    ]


@pytest.mark.parametrize("case", REFUSALS, ids=[c.name for c in REFUSALS])
def test_unusable_file_is_refused_at_ingest_naming_file_and_problem(
    case, lab_settings, tmp_path, record_property
):
    path = tmp_path / f"{case.name.replace(' ', '_')}.parquet"
    case.build(path)
    with pytest.raises(StageError) as err:  # anything else is an unhandled crash
        _pipeline(lab_settings, REFUSE_MONTH, path).run()
    msg = str(err.value)
    assert err.value.stage == "ingest"
    assert str(path) in msg and case.says in msg, msg
    assert "Traceback" not in msg
    assert _raw_keys(lab_settings, REFUSE_MONTH) == []  # nothing landed, so nothing downstream
    record_property("robustness", {"kind": "input", "case": case.name, "outcome": "refused"})


def test_missing_and_directory_sources_are_refused(lab_settings, tmp_path, record_property):
    for source, says in ((tmp_path / "nope.parquet", "no such file"), (tmp_path, "is a directory")):
        with pytest.raises(StageError, match=says) as err:
            _pipeline(lab_settings, REFUSE_MONTH, source).run()
        assert str(source) in str(err.value)
        record_property("robustness", {"kind": "input", "case": f"source {says}", "outcome": "refused"})
    assert _raw_keys(lab_settings, REFUSE_MONTH) == []


# --- row-level cases: one file, one Spark run ------------------------------------------------------


@dataclass(frozen=True)
class RowCase:
    name: str
    rows: list  # trip dicts (extra is overwritten with the marker)
    codes: frozenset | None  # None: accepted; else reason codes that must all fire on every row


def _t(i):
    return datetime(2024, 9, 10, 8, i % 60)


NAN, INF = math.nan, math.inf
ROW_CASES = [
    RowCase("control: valid trips", [trip(_t(i)) for i in range(3)], None),
    RowCase("exact duplicate rows (kept)", [trip(_t(5))] * 2, None),
    RowCase(
        "zero passengers, unknown zones (flagged, kept)",
        [trip(_t(6), passenger_count=0, PULocationID=264, DOLocationID=265)],
        None,
    ),
    RowCase(
        "TLC null block / flex fare (kept)",
        [
            trip(
                _t(7),
                passenger_count=None,
                RatecodeID=None,
                store_and_fwd_flag=None,
                congestion_surcharge=None,
                Airport_fee=None,
                payment_type=0,
            )
        ],
        None,
    ),
    RowCase(
        "negative zero and sub-cent amounts (kept)", [trip(_t(8), tolls_amount=-0.0, tip_amount=0.005)], None
    ),
    RowCase("pickup exactly at month start (kept)", [trip(datetime(2024, 9, 1))], None),
    RowCase("NaN fare", [trip(_t(9), fare_amount=NAN)], frozenset({"NONFINITE_AMOUNT"})),
    RowCase("+inf total", [trip(_t(10), total_amount=INF)], frozenset({"NONFINITE_AMOUNT"})),
    RowCase("-inf tip", [trip(_t(11), tip_amount=-INF)], frozenset({"NONFINITE_AMOUNT"})),
    RowCase("NaN distance", [trip(_t(12), trip_distance=NAN)], frozenset({"NONFINITE_AMOUNT"})),
    RowCase(
        "amount beyond decimal(12,2)", [trip(_t(13), total_amount=1e15)], frozenset({"NONFINITE_AMOUNT"})
    ),
    RowCase(
        "all-null required values",
        [
            trip(
                _t(14),
                VendorID=None,
                PULocationID=None,
                fare_amount=None,
                total_amount=None,
                tpep_pickup_datetime=None,
            )
        ],
        frozenset({"MISSING_REQUIRED"}),
    ),
    RowCase("pickup in 1900", [trip(datetime(1900, 1, 1, 8))], frozenset({"PICKUP_OUTSIDE_MONTH"})),
    RowCase("pickup past 2262", [trip(datetime(2300, 9, 10, 8))], frozenset({"PICKUP_OUTSIDE_MONTH"})),
    RowCase(
        "pickup years away (2002, 2026)",
        [trip(datetime(2002, 9, 10, 8)), trip(datetime(2026, 9, 10, 8))],
        frozenset({"PICKUP_OUTSIDE_MONTH"}),
    ),
    RowCase(
        "pickup at next month's first instant",
        [trip(datetime(2024, 10, 1))],
        frozenset({"PICKUP_OUTSIDE_MONTH"}),
    ),
    RowCase("dropoff before pickup", [trip(_t(15), minutes=-5)], frozenset({"NON_POSITIVE_DURATION"})),
    RowCase("duration over 24h", [trip(_t(16), minutes=60 * 30)], frozenset({"DURATION_OVER_24H"})),
    RowCase(
        "extreme fare 863000",
        [trip(_t(17), fare_amount=863000.0, total_amount=863008.0)],
        frozenset({"FARE_OUTLIER"}),
    ),
    RowCase(
        "extreme distance 398000 mi",
        [trip(_t(18), trip_distance=398000.0)],
        frozenset({"DISTANCE_OVER_100MI", "SPEED_OUTLIER"}),
    ),
    RowCase(
        "negative everything",
        [
            trip(
                _t(19),
                VendorID=-1,
                passenger_count=-1,
                trip_distance=-2.5,
                RatecodeID=-1,
                PULocationID=-1,
                DOLocationID=-1,
                payment_type=-1,
                fare_amount=-14.2,
                mta_tax=-0.5,
                tip_amount=-3.0,
                tolls_amount=-1.0,
                improvement_surcharge=-1.0,
                total_amount=-22.2,
                congestion_surcharge=-2.5,
                Airport_fee=-1.75,
            )
        ],
        frozenset(
            {
                "NEGATIVE_AMOUNT",
                "ZERO_DISTANCE",
                "INVALID_LOCATION",
                "INVALID_VENDOR",
                "INVALID_PAYMENT_TYPE",
                "INVALID_RATECODE",
                "INVALID_PASSENGER_COUNT",
            }
        ),
    ),
    RowCase("zero distance", [trip(_t(20), trip_distance=0.0)], frozenset({"ZERO_DISTANCE"})),
    RowCase(
        "unknown vendor 5 and ratecode 7",
        [trip(_t(21), VendorID=5, RatecodeID=7)],
        frozenset({"INVALID_VENDOR", "INVALID_RATECODE"}),
    ),
    RowCase(
        "location 0 and 266",
        [trip(_t(22), PULocationID=0, DOLocationID=266)],
        frozenset({"INVALID_LOCATION"}),
    ),
    RowCase(
        "payment type 7, 13 passengers",
        [trip(_t(23), payment_type=7, passenger_count=13)],
        frozenset({"INVALID_PAYMENT_TYPE", "INVALID_PASSENGER_COUNT"}),
    ),
    RowCase("speed 500 mph", [trip(_t(24), minutes=1, trip_distance=9.0)], frozenset({"SPEED_OUTLIER"})),
    # Once a file-level refusal; now only the rows are quarantined, the rest of the file is processed.
    RowCase(
        "store_and_fwd_flag too long, lower case, empty",
        [
            trip(_t(25), store_and_fwd_flag="YES" * 300),
            trip(_t(26), store_and_fwd_flag="y"),
            trip(_t(27), store_and_fwd_flag=""),
        ],
        frozenset({"INVALID_STORE_AND_FWD_FLAG"}),
    ),
]


def _marked_rows():
    rows = []
    for n, case in enumerate(ROW_CASES, start=1):
        sign = -1 if case.name == "negative everything" else 1
        rows += [{**r, "extra": float(sign * n)} for r in case.rows]
    return rows


@pytest.fixture(scope="module")
def row_run(lab_settings, spark, tmp_path_factory):
    d = tmp_path_factory.mktemp("rowcases")
    # An unknown extra column rides along on every row: dropped by conform, never a failure.
    t = table_2024(_marked_rows()).append_column("mystery_col", pa.array(["?"] * len(_marked_rows())))
    path = d / "yellow_row_defects.parquet"
    pq.write_table(t, path)
    return path, _pipeline(lab_settings, ROW_MONTH, path).run()


def _where_marked(settings):
    """marker -> list of ('staging' | reason_codes) for every landed row of ROW_MONTH."""
    out: dict[int, list] = {}
    sd, flt = lakestats.staging_dataset(settings, ROW_MONTH)
    for r in sd.to_table(filter=flt, columns=["extra"]).to_pylist():
        out.setdefault(abs(int(r["extra"])), []).append("staging")
    qd = lakestats._dataset(settings, paths.quarantine_prefix(settings.dataset))
    q = qd.to_table(
        filter=(lakestats.ds.field("year") == 2024) & (lakestats.ds.field("month") == 9),
        columns=["extra", "reason_codes"],
    )
    for r in q.to_pylist():
        out.setdefault(abs(int(r["extra"])), []).append(frozenset(r["reason_codes"].split(",")))
    return out


def test_row_level_defects_land_each_row_in_staging_or_quarantine_with_reasons(
    row_run, lab_settings, record_property
):
    _, rep = row_run
    assert rep.status == "succeeded"
    assert rep.checks and all(c.ok for c in rep.checks), [c for c in rep.checks if not c.ok]
    landed = _where_marked(lab_settings)
    total = len(_marked_rows())
    assert sum(len(v) for v in landed.values()) == total  # rows lost: 0
    failures = []
    for n, case in enumerate(ROW_CASES, start=1):
        got = landed.get(n, [])
        ok = len(got) == len(case.rows) and (
            all(g == "staging" for g in got)
            if case.codes is None
            else all(g != "staging" and case.codes <= g for g in got)
        )
        if not ok:
            failures.append((case.name, case.codes, got))
        record_property(
            "robustness",
            {
                "kind": "input",
                "case": case.name,
                "outcome": "accepted" if case.codes is None else "quarantined",
            },
        )
    assert not failures, failures
    etl = rep.get("etl")
    assert etl.rows_in == total and etl.rows_out + etl.quarantined == total
    record_property("robustness", {"kind": "input", "case": "unknown extra column", "outcome": "accepted"})
    record_property(
        "robustness", {"kind": "rows", "rows_in": total, "rows_landed": sum(len(v) for v in landed.values())}
    )


def test_same_file_delivered_twice_under_another_name_is_one_delivery(
    row_run, lab_settings, tmp_path, record_property
):
    path, _ = row_run
    again = tmp_path / "yellow_tripdata_2024-09 (copy).parquet"
    shutil.copy(path, again)
    p = _pipeline(lab_settings, ROW_MONTH, again)
    p.services()
    p.ingest()
    ingest = p.report.get("ingest")
    assert ingest.detail["action"] == "unchanged"
    assert lakestats.raw_files(lab_settings, ROW_MONTH) == [
        paths.raw_month_prefix(lab_settings.dataset, ROW_MONTH) + paths.raw_file_name(ROW_MONTH)
    ]
    assert lakestats.raw_stats(lab_settings, ROW_MONTH).rows == len(_marked_rows())
    record_property(
        "robustness", {"kind": "input", "case": "same file twice, two names", "outcome": "deduplicated"}
    )


def test_duckdb_reference_quarantines_the_same_store_and_fwd_flag_rows(lab_settings, tmp_path):
    """The reference engine applies INVALID_STORE_AND_FWD_FLAG too, to the same values Spark's rule quarantines
    (tests/unit/test_validate.py), so Spark and DuckDB counts stay equal."""
    import duckdb

    from taxilab.reference import build

    flags = ["Y", "N", None, "YES" * 300, "y", "", "N "]
    path = tmp_path / "yellow_flags.parquet"
    write_2024(path, [trip(_t(30 + i), store_and_fwd_flag=f) for i, f in enumerate(flags)])
    con = duckdb.connect()
    build(con, path, lab_settings.zone_lookup_path, ROW_MONTH)
    accepted = con.execute("SELECT count(*) FROM accepted").fetchone()[0]
    rejected = sorted(r[0] for r in con.execute("SELECT store_and_fwd_flag FROM rejected").fetchall())
    con.close()
    assert accepted == 3
    assert rejected == sorted(["YES" * 300, "y", "", "N "])
