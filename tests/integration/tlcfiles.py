"""Tiny TLC yellow files in each era's exact physical schema (shared/docs/TLC_REFERENCE.md), for tests.

`trip()` is one valid 2024-style trip; `write_2024` / `write_era` turn a list of trip dicts into a
Parquet file with the Arrow types that era's files really have.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from spark_jobs.schemas.tlc import arrow_schema_2024

COLUMNS_2024 = arrow_schema_2024().names


def trip(pickup: datetime, minutes: float = 12, **overrides) -> dict:
    """One valid trip (accepted by every rule) picked up at `pickup`; overrides by 2024 column name."""
    row = {
        "VendorID": 2,
        "tpep_pickup_datetime": pickup,
        "tpep_dropoff_datetime": pickup + timedelta(minutes=minutes),
        "passenger_count": 1,
        "trip_distance": 2.5,
        "RatecodeID": 1,
        "store_and_fwd_flag": "N",
        "PULocationID": 161,
        "DOLocationID": 236,
        "payment_type": 1,
        "fare_amount": 14.2,
        "extra": 1.0,
        "mta_tax": 0.5,
        "tip_amount": 3.0,
        "tolls_amount": 0.0,
        "improvement_surcharge": 1.0,
        "total_amount": 22.2,
        "congestion_surcharge": 2.5,
        "Airport_fee": 0.0,
    }
    unknown = set(overrides) - set(row)
    assert not unknown, unknown
    row.update(overrides)
    return row


def table_2024(rows: list[dict], schema: pa.Schema | None = None) -> pa.Table:
    schema = schema or arrow_schema_2024()
    return pa.table({f.name: pa.array([r[f.name] for r in rows], f.type) for f in schema}, schema=schema)


def write_2024(path: Path, rows: list[dict], schema: pa.Schema | None = None) -> Path:
    pq.write_table(table_2024(rows, schema), path)
    return path


# --- era layouts -----------------------------------------------------------------------------------


def schema_2011_2023(airport_fee_null_typed: bool) -> pa.Schema:
    """2011 to 2023-01: int64 IDs, double passenger_count/RatecodeID, string flag, lower-case airport_fee
    (null-typed in 2019-01..2020-07), timestamp[ns]."""
    fields = []
    for f in arrow_schema_2024():
        name, typ = f.name, f.type
        if name in ("VendorID", "PULocationID", "DOLocationID", "payment_type"):
            typ = pa.int64()
        elif name in ("passenger_count", "RatecodeID"):
            typ = pa.float64()
        elif name == "store_and_fwd_flag":
            typ = pa.string()
        elif name.endswith("_datetime"):
            typ = pa.timestamp("ns")
        elif name == "Airport_fee":
            name, typ = "airport_fee", (pa.null() if airport_fee_null_typed else pa.float64())
        fields.append(pa.field(name, typ))
    return pa.schema(fields)


def schema_2011_2018() -> pa.Schema:
    """2011-2018: the 2011-2023-01 layout with a double airport_fee and a null-typed congestion_surcharge
    (one of the older files' null-typed fee columns: the surcharge began in 2019)."""
    s = schema_2011_2023(airport_fee_null_typed=False)
    i = s.get_field_index("congestion_surcharge")
    return s.set(i, pa.field("congestion_surcharge", pa.null()))


def schema_2025() -> pa.Schema:
    return arrow_schema_2024().append(pa.field("cbd_congestion_fee", pa.float64()))


def write_era(path: Path, era: str, rows: list[dict]) -> Path:
    """rows as trip() dicts -> a file in the physical schema of `era` ('2018', '2019', '2022', '2024', '2025')."""
    if era in ("2018", "2019", "2022"):
        schema = (
            schema_2011_2018() if era == "2018" else schema_2011_2023(airport_fee_null_typed=(era == "2019"))
        )
        data = {}
        for f, src in zip(schema, COLUMNS_2024, strict=True):
            vals = [None if pa.types.is_null(f.type) else r[src] for r in rows]
            data[f.name] = pa.array(vals, f.type)
        pq.write_table(
            pa.table(data, schema=schema),
            path,
            coerce_timestamps=None,
            allow_truncated_timestamps=False,
            version="2.6",
        )
        return path
    if era == "2025":
        schema = schema_2025()
        rows = [{"cbd_congestion_fee": 0.75, **r} for r in rows]
        return write_2024(path, rows, schema)
    return write_2024(path, rows)
