"""Binary COPY from Arrow (emulation/redshift/arrow_copy.py): exact values at the edges of each type, the
CSV fallback for a type without a binary encoding, and a value a column cannot hold refused by name.
Each test uses a temporary table of its own on the scratch database (no month of the shared schema)."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime
from decimal import Decimal

import pyarrow as pa
import pytest

from emulation.redshift.arrow_copy import (
    _PG_SIGNATURE,
    _PG_TRAILER,
    WarehouseLoadError,
    _Unsupported,
    column_types,
    copy_arrow,
    encode_binary_rows,
)

pytestmark = pytest.mark.integration

EDGES_DDL = """CREATE TEMP TABLE edges (
    money numeric(12,2), big_sum numeric(22,2), dist double precision, at timestamp, day date,
    note varchar(16), flag boolean, small smallint, n integer, total bigint)"""


def edge_rows() -> pa.RecordBatch:
    return pa.RecordBatch.from_pydict(
        {
            "money": pa.array(
                [Decimal("0.01"), Decimal("-12.50"), None, Decimal("9999999999.99"), Decimal("-0.01")],
                pa.decimal128(12, 2),
            ),
            # the first value's unscaled form (cents) is beyond int64
            "big_sum": pa.array(
                [Decimal("-123456789012345678.91"), Decimal("1.00"), None, Decimal("0.10"), Decimal("0")],
                pa.decimal128(22, 2),
            ),
            "dist": pa.array([1 / 3, math.inf, None, 0.1 + 0.2, -math.inf]),
            "at": pa.array(
                [
                    datetime(1999, 12, 31, 23, 59, 59, 999999),  # before PostgreSQL's epoch
                    datetime(2000, 1, 1),
                    None,
                    datetime(2024, 3, 10, 2, 30, 0, 123456),  # a wall-clock time DST skips in New York
                    datetime(1970, 1, 1),
                ],
                pa.timestamp("us"),
            ),
            "day": pa.array(
                [date(1900, 1, 1), date(2000, 1, 1), None, date(2024, 2, 29), date(1999, 12, 31)]
            ),
            "note": pa.array(["", None, "Ñandú", 'a,"b"\n\\N', "x"]),
            "flag": pa.array([True, False, None, True, False]),
            "small": pa.array([-32768, 32767, None, 0, 1], pa.int16()),
            "n": pa.array([1, -2, None, 2**31 - 1, -(2**31)], pa.int64()),  # int64 into integer
            "total": pa.array([2**62, -(2**63), None, 0, 7], pa.int64()),
        }
    )


@pytest.fixture()
def conn(pg_conn_factory):
    with pg_conn_factory() as c:
        c.execute("SET TimeZone = 'America/New_York'")  # a wall-clock timestamp must land unchanged
        yield c


def expected(batch: pa.RecordBatch) -> list[tuple]:
    return sorted(zip(*batch.to_pydict().values(), strict=True), key=repr)


def stored(conn) -> list[tuple]:
    return sorted(conn.execute("SELECT * FROM edges").fetchall(), key=repr)


def test_binary_encoding_of_each_type_reads_back_exactly(conn):
    batch = edge_rows().slice(1, 4)  # a slice: every column read from an offset
    conn.execute(EDGES_DDL)
    types = column_types(conn, "edges")
    data = encode_binary_rows(batch, [types[c] for c in batch.schema.names])

    with conn.cursor() as cur:
        with cur.copy("COPY edges FROM STDIN WITH (FORMAT binary)") as copy:
            copy.write(_PG_SIGNATURE)
            copy.write(data)
            copy.write(_PG_TRAILER)

    assert stored(conn) == expected(batch)
    assert ("9999999999.99", "0.10") in conn.execute(
        "SELECT money::text, big_sum::text FROM edges"
    ).fetchall()


def test_copy_arrow_keeps_nulls_empty_strings_money_and_wall_clock_times(conn):
    batch = edge_rows()
    conn.execute(EDGES_DDL)

    assert copy_arrow(conn, "edges", [batch], batch.schema.names) == 5

    assert stored(conn) == expected(batch)
    assert conn.execute(
        "SELECT count(*) FILTER (WHERE note = ''), count(*) FILTER (WHERE note IS NULL) FROM edges"
    ).fetchone() == (1, 1)


def test_a_zoned_timestamp_has_no_binary_encoding_and_loads_through_csv(conn):
    conn.execute("CREATE TEMP TABLE zoned (at timestamp, n integer)")
    batch = pa.RecordBatch.from_pydict(
        {
            "at": pa.array([datetime(2024, 3, 10, 7, 30, tzinfo=UTC), None], pa.timestamp("us", tz="UTC")),
            "n": pa.array([1, None], pa.int32()),
        }
    )
    types = column_types(conn, "zoned")
    with pytest.raises(_Unsupported):
        encode_binary_rows(batch, [types["at"], types["n"]])

    assert copy_arrow(conn, "zoned", [batch], ["at", "n"]) == 2

    # the CSV path's rule, as before binary COPY: the UTC wall-clock value, zone dropped
    assert conn.execute("SELECT at, n FROM zoned ORDER BY n").fetchall() == [
        (datetime(2024, 3, 10, 7, 30), 1),
        (None, None),
    ]


def test_a_value_beyond_the_column_type_fails_naming_the_table_and_loads_nothing(conn):
    conn.execute("CREATE TEMP TABLE narrow (n integer)")
    conn.commit()
    good = pa.RecordBatch.from_pydict({"n": pa.array([1, 2], pa.int64())})
    too_big = pa.RecordBatch.from_pydict({"n": pa.array([2**31], pa.int64())})

    with pytest.raises(WarehouseLoadError, match="narrow"):
        copy_arrow(conn, "narrow", [good, too_big], ["n"])

    assert conn.execute("SELECT count(*) FROM narrow").fetchone() == (0,)


def test_a_column_the_table_lacks_is_named(conn):
    conn.execute("CREATE TEMP TABLE narrow (n integer)")
    batch = pa.RecordBatch.from_pydict({"n": [1], "m": [2]})

    with pytest.raises(WarehouseLoadError, match=r"no columns \['m'\]"):
        copy_arrow(conn, "narrow", [batch], ["n", "m"])


def test_record_batches_of_one_load_must_share_a_schema(conn):
    conn.execute("CREATE TEMP TABLE narrow (n integer)")
    conn.commit()
    ints = pa.RecordBatch.from_pydict({"n": pa.array([1], pa.int32())})
    longs = pa.RecordBatch.from_pydict({"n": pa.array([2], pa.int64())})

    with pytest.raises(WarehouseLoadError, match="differ in schema"):
        copy_arrow(conn, "narrow", [ints, longs], ["n"])

    assert conn.execute("SELECT count(*) FROM narrow").fetchone() == (0,)


def test_copy_arrow_in_a_transaction_of_its_own_leaves_the_session_time_zone_as_it_was(conn):
    conn.execute(EDGES_DDL)
    conn.commit()
    copy_arrow(conn, "edges", [edge_rows()], edge_rows().schema.names)

    assert conn.execute("SHOW TimeZone").fetchone() == ("America/New_York",)
