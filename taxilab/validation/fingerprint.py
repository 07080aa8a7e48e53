"""Per-day figures of the lake's trips, computed by DuckDB over the lake's Parquet (read with pyarrow):
rows, exact money sums in cents and an order-independent row fingerprint, the same definition the
warehouse computes in SQL (sql/validation/fct_trips_daily_fingerprint.sql). The fingerprint and what it
can and cannot catch: docs/adr/0019-per-day-reconciliation-fingerprints.md.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

NULL_TOKEN = "~"
SEPARATOR = "|"
HEX_DIGITS = 15  # 60 bits of the MD5: a sum of 2^38 such values still fits DECIMAL(38,0) many times over
NO_DATE = "no date"
_INT_MIN, _INT_MAX = -(2**31), 2**31 - 1

# Fields that survive conform unchanged (ids as integers, timestamps as epoch seconds): raw is fingerprinted
# on these only, and staging + quarantine on the same (money is rounded at conform, so not comparable).
RAW_FIELDS = ["vendor_id", "pickup_s", "dropoff_s", "pu_location_id", "do_location_id", "payment_type"]
# staging vs fct_trips: the same plus the accepted row's other ids and its money in cents.
TRIP_FIELDS = RAW_FIELDS + [
    "passenger_count",
    "ratecode_id",
    "fare_cents",
    "tip_cents",
    "tolls_cents",
    "total_cents",
]
# canonical column each field is read from (money fields in cents, timestamps in epoch seconds)
SOURCE_COLUMN = {
    "vendor_id": "vendor_id",
    "pickup_s": "pickup_datetime",
    "dropoff_s": "dropoff_datetime",
    "pu_location_id": "pu_location_id",
    "do_location_id": "do_location_id",
    "payment_type": "payment_type",
    "passenger_count": "passenger_count",
    "ratecode_id": "ratecode_id",
    "fare_cents": "fare_amount",
    "tip_cents": "tip_amount",
    "tolls_cents": "tolls_amount",
    "total_cents": "total_amount",
}
SUMMED = ("total_cents", "fare_cents", "tip_cents")


@dataclass
class Day:
    """One pickup date's figures on one side of a comparison."""

    rows: int = 0
    fingerprint: int = 0
    sums: dict[str, int] = field(default_factory=dict)  # cents

    def add(self, other: Day) -> None:
        self.rows += other.rows
        self.fingerprint += other.fingerprint
        for k, v in other.sums.items():
            self.sums[k] = self.sums.get(k, 0) + v


# ---- normalisation: every field as a nullable int64, rendered identically by DuckDB and by SQL -------------


def epoch_seconds(arr: pa.Array | pa.ChunkedArray) -> pa.Array:
    """Whole epoch seconds (floored: 12:00:00.9 -> 12:00:00, also before 1970) of a timestamp (any unit,
    with or without a zone: the stored instant is UTC, the wall clock conform takes), date or string
    column; null where there is no value or it does not parse (as conform leaves it)."""
    arr = arr.combine_chunks() if isinstance(arr, pa.ChunkedArray) else arr
    t = arr.type
    if pa.types.is_null(t):
        return pa.nulls(len(arr), pa.int64())
    if pa.types.is_timestamp(t):
        per_second = {"s": 1, "ms": 1_000, "us": 1_000_000, "ns": 1_000_000_000}[t.unit]
        raw = arr.cast(pa.int64())
        values = np.floor_divide(raw.fill_null(0).to_numpy(zero_copy_only=False), per_second)
        return pa.array(values, pa.int64(), mask=raw.is_null().to_numpy(zero_copy_only=False))
    if pa.types.is_date(t):
        days = arr.cast(pa.date32()).cast(pa.int32()).cast(pa.int64())
        return pc.multiply(days, 86_400)
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        con = duckdb.connect()
        con.register("s", pa.table({"v": arr}))
        parsed = con.execute("SELECT try_cast(v AS TIMESTAMP) AS v FROM s").fetch_arrow_table()["v"]
        return epoch_seconds(parsed)
    if pa.types.is_integer(t):  # epoch nanoseconds (Spark's nanosAsLong); floored as conform floors them
        return epoch_seconds(arr.cast(pa.int64()).view(pa.timestamp("ns")))
    raise TypeError(f"cannot read a timestamp from a {t} column")


def conformed_int(arr: pa.Array | pa.ChunkedArray) -> pa.Array:
    """An id column as conform leaves it: integral values within INT, null otherwise (NaN, 1.5, 2^40, 'x')."""
    arr = arr.combine_chunks() if isinstance(arr, pa.ChunkedArray) else arr
    t = arr.type
    if pa.types.is_null(t):
        return pa.nulls(len(arr), pa.int64())
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        con = duckdb.connect()
        con.register("s", pa.table({"v": arr}))
        arr = (
            con.execute("SELECT try_cast(v AS DOUBLE) AS v FROM s").fetch_arrow_table()["v"].combine_chunks()
        )
        t = arr.type
    if pa.types.is_integer(t):
        x = arr.cast(pa.int64())
        ok = pc.and_(pc.greater_equal(x, _INT_MIN), pc.less_equal(x, _INT_MAX))
        return pc.if_else(ok, x, pa.scalar(None, pa.int64()))
    if pa.types.is_floating(t) or pa.types.is_decimal(t) or pa.types.is_boolean(t):
        f = arr.cast(pa.float64()).to_numpy(zero_copy_only=False)
        with np.errstate(invalid="ignore"):
            ok = np.isfinite(f) & (np.mod(f, 1) == 0) & (f >= _INT_MIN) & (f <= _INT_MAX)
        return pa.array(np.where(ok, f, 0).astype(np.int64), pa.int64(), mask=~ok)
    raise TypeError(f"cannot read an id from a {t} column")


def exact_cents(arr: pa.Array | pa.ChunkedArray) -> pa.Array:
    """A DECIMAL(12,2) money column (staging, quarantine, curated) as integer cents; exact."""
    arr = arr.combine_chunks() if isinstance(arr, pa.ChunkedArray) else arr
    if pa.types.is_null(arr.type):
        return pa.nulls(len(arr), pa.int64())
    if not pa.types.is_decimal(arr.type) or arr.type.scale > 2:
        raise TypeError(f"money must be a decimal with at most 2 places, got {arr.type}")
    # decimal128 stores the unscaled integer: at scale 2 that is the number of cents (|cents| < 2^63 here)
    d = arr.cast(pa.decimal128(38, 2))
    words = np.frombuffer(d.buffers()[1], dtype=np.int64)[2 * d.offset : 2 * (d.offset + len(d))]
    mask = d.is_null().to_numpy(zero_copy_only=False)
    return pa.array(words[0::2].copy(), pa.int64(), mask=mask)


def normalize(table: pa.Table, fields: list[str], day: pa.Array | None = None) -> pa.Table:
    """`table` (canonical column names, lower case) -> the fingerprint fields as int64 + a `day` column
    ('YYYY-MM-DD' text; `day` given, or the pickup date of pickup_s; NO_DATE where it has none)."""
    cols: dict[str, pa.Array] = {}
    for f in fields:
        src = SOURCE_COLUMN[f]
        a = table[src] if src in table.column_names else pa.nulls(table.num_rows)
        if f.endswith("_s"):
            cols[f] = epoch_seconds(a)
        elif f.endswith("_cents"):
            cols[f] = exact_cents(a)
        else:
            cols[f] = conformed_int(a)
    if day is None:
        secs = cols["pickup_s"] if "pickup_s" in cols else epoch_seconds(table["pickup_datetime"])
        days = pc.floor(pc.divide(secs.cast(pa.float64()), 86_400.0)).cast(pa.int32()).cast(pa.date32())
        day = pc.fill_null(days.cast(pa.string()), NO_DATE)
    else:
        day = day.combine_chunks() if isinstance(day, pa.ChunkedArray) else day
        day = pc.fill_null(day.cast(pa.string()), NO_DATE)
    cols["day"] = day
    return pa.table(cols)


def render_sql(fields: Iterable[str]) -> str:
    """DuckDB text of one row: each field as its integer text or the NULL token, '|' between fields."""
    parts = [f"COALESCE(CAST({f} AS VARCHAR), '{NULL_TOKEN}')" for f in fields]
    return f" || '{SEPARATOR}' || ".join(parts)


def row_hash_sql(fields: Iterable[str]) -> str:
    """The 60-bit row value: the first 15 hex digits of the MD5 of the row's text, as an integer."""
    return f"CAST('0x' || substr(md5({render_sql(fields)}), 1, {HEX_DIGITS}) AS BIGINT)"


def per_day(tables: Iterable[pa.Table], fields: list[str], sums: Iterable[str] = ()) -> dict[str, Day]:
    """Rows, sums (cents) and fingerprint per day of normalized tables, computed by DuckDB."""
    sums = [s for s in sums if s in fields]
    out: dict[str, Day] = {}
    con = duckdb.connect()
    try:
        for t in tables:
            if t.num_rows == 0:
                continue
            con.register("t", t)
            extra = "".join(f", CAST(SUM({s}) AS HUGEINT)" for s in sums)
            q = (
                f"SELECT day, COUNT(*), CAST(SUM(CAST({row_hash_sql(fields)} AS HUGEINT)) AS HUGEINT){extra} "
                "FROM t GROUP BY day"
            )
            for row in con.execute(q).fetchall():
                d = Day(
                    int(row[1]), int(row[2]), {s: int(v or 0) for s, v in zip(sums, row[3:], strict=True)}
                )
                out.setdefault(str(row[0]), Day()).add(d)
            con.unregister("t")
    finally:
        con.close()
    return out


def from_rows(rows: Iterable[tuple], sums: Iterable[str] = ()) -> dict[str, Day]:
    """Per-day figures from the warehouse's rows (pickup_date, rows, *sums, fingerprint)."""
    sums = list(sums)
    out: dict[str, Day] = {}
    for row in rows:
        values = list(row)
        fp = values[-1]
        out[str(values[0])] = Day(
            int(values[1]),
            int(Decimal(fp)) if fp is not None else 0,
            {s: int(v or 0) for s, v in zip(sums, values[2:-1], strict=True)},
        )
    return out
