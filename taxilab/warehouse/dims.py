"""Dimension loads: taxi.dim_zone, dim_date, dim_payment_type, dim_rate_code (DDL in sql/ddl/03*).
Why: docs/adr/0009-warehouse-preaggregates.md.
"""

from __future__ import annotations

import csv
from datetime import date
from pathlib import Path

import psycopg
import pyarrow as pa
from psycopg import sql

from emulation.redshift.arrow_copy import copy_arrow
from spark_jobs.month import Month
from spark_jobs.schemas.contracts import AIRPORT_ZONES, PAYMENT_TYPES
from taxilab.core.settings import CANONICAL_SCHEMA, check_schema

# TLC data dictionary (RatecodeID); 99 is the TLC's "unknown / null" code.
RATE_CODES: dict[int, str] = {
    1: "Standard rate",
    2: "JFK",
    3: "Newark",
    4: "Nassau or Westchester",
    5: "Negotiated fare",
    6: "Group ride",
    99: "Unknown",
}
DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
DIM_TABLES = ("dim_zone", "dim_date", "dim_payment_type", "dim_rate_code")


class DimensionError(ValueError):
    """A dimension source is missing or malformed."""


def zone_rows(zones_csv: Path) -> pa.Table:
    """dim_zone rows from the TLC taxi_zone_lookup.csv (LocationID, Borough, Zone, service_zone)."""
    path = Path(zones_csv)
    if not path.exists():
        raise DimensionError(f"zone lookup {path} does not exist")
    with path.open(newline="") as f:
        reader = csv.DictReader(f)
        expected = {"LocationID", "Borough", "Zone", "service_zone"}
        if not expected <= set(reader.fieldnames or []):
            raise DimensionError(
                f"zone lookup {path}: expected columns {sorted(expected)}, got {reader.fieldnames}"
            )
        rows = list(reader)
    ids = []
    for line, r in enumerate(rows, start=2):
        try:
            ids.append(int(r["LocationID"]))
        except ValueError as e:
            raise DimensionError(
                f"zone lookup {path} line {line}: LocationID {r['LocationID']!r} is not an integer"
            ) from e
    if len(set(ids)) != len(ids):
        raise DimensionError(f"zone lookup {path}: duplicate LocationID values")
    return pa.table(
        {
            "location_id": pa.array(ids, pa.int32()),
            "borough": [r["Borough"] or None for r in rows],
            "zone": [r["Zone"] or None for r in rows],
            "service_zone": [r["service_zone"] or None for r in rows],
            "is_airport": [i in AIRPORT_ZONES for i in ids],
        }
    )


def date_rows(month: str) -> pa.Table:
    """dim_date rows for every date of month 'YYYY-MM'."""
    start, end = Month.parse(month).bounds()
    days = [date.fromordinal(o) for o in range(start.toordinal(), end.toordinal())]
    return pa.table(
        {
            "date_key": pa.array(days, pa.date32()),
            "year": [d.year for d in days],
            "month": [d.month for d in days],
            "day_of_month": [d.day for d in days],
            "iso_weekday": [d.isoweekday() for d in days],
            "day_name": [DAY_NAMES[d.weekday()] for d in days],
            "week_start": pa.array(
                [date.fromordinal(d.toordinal() - d.weekday()) for d in days], pa.date32()
            ),
            "is_weekend": [d.isoweekday() >= 6 for d in days],
            "month_label": [month] * len(days),
        }
    )


def code_rows(codes: dict[int, str], key: str, name: str) -> pa.Table:
    return pa.table({key: pa.array(list(codes), pa.int32()), name: list(codes.values())})


def load_dims(
    conn: psycopg.Connection, zones_csv: Path, month: str, schema: str = CANONICAL_SCHEMA
) -> dict[str, int]:
    """Rebuild the reference dimensions of `schema` (settings.warehouse_schema) and replace `month` in
    dim_date, in one transaction.

    Returns {table: rows loaded}. Idempotent: a rerun leaves the same rows.
    """
    start, end = Month.parse(month).bounds()
    schema = check_schema(schema)
    whole = {
        "dim_zone": zone_rows(zones_csv),
        "dim_payment_type": code_rows(PAYMENT_TYPES, "payment_type", "payment_type_name"),
        "dim_rate_code": code_rows(RATE_CODES, "ratecode_id", "rate_code_name"),
    }
    loaded: dict[str, int] = {}
    with conn.transaction():
        for table, rows in whole.items():
            conn.execute(sql.SQL("DELETE FROM {}.{}").format(sql.Identifier(schema), sql.Identifier(table)))
            loaded[table] = copy_arrow(conn, f"{schema}.{table}", rows.to_batches(), rows.column_names)
        conn.execute(
            sql.SQL("DELETE FROM {}.dim_date WHERE date_key >= %s AND date_key < %s").format(
                sql.Identifier(schema)
            ),
            [start, end],
        )
        dates = date_rows(month)
        loaded["dim_date"] = copy_arrow(conn, f"{schema}.dim_date", dates.to_batches(), dates.column_names)
    return loaded
