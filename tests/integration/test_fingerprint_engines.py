"""The reconciliation fingerprint is engine-independent: the warehouse's named query
(sql/validation/fct_trips_daily_fingerprint.sql, translated for PostgreSQL) and DuckDB over the same rows
give the same rows, cents and fingerprint per day, NULLs, negative amounts and sub-second and pre-1970
timestamps included (docs/adr/0019)."""

from __future__ import annotations

import re

import pytest

from taxilab.validation import fingerprint as fp
from taxilab.warehouse import queries
from tests.unit.test_reconcile_days import ROWS, trip_table

pytestmark = pytest.mark.integration

COLUMNS = """vendor_id INTEGER, pickup_datetime TIMESTAMP, dropoff_datetime TIMESTAMP, pu_location_id INTEGER,
    do_location_id INTEGER, payment_type INTEGER, passenger_count INTEGER, ratecode_id INTEGER,
    fare_amount DECIMAL(12,2), tip_amount DECIMAL(12,2), tolls_amount DECIMAL(12,2), total_amount DECIMAL(12,2),
    pickup_date DATE"""


def test_postgres_and_duckdb_give_the_same_figures_per_day(pg):
    rows = [
        *ROWS,
        {**ROWS[0], "tolls_amount": ROWS[0]["fare_amount"], "vendor_id": None},
        {**ROWS[1], "pickup_datetime": ROWS[0]["pickup_datetime"], "passenger_count": 0},
    ]
    t = trip_table(rows)
    days = [None if r.get("pickup_datetime") is None else r["pickup_datetime"].date() for r in rows]
    lake = fp.per_day([fp.normalize(t, fp.TRIP_FIELDS)], fp.TRIP_FIELDS, fp.SUMMED)

    q = queries.load_query("fct_trips_daily_fingerprint", queries.VALIDATION_DIR)
    text = re.sub(r"\b\w+\.fct_trips\b", "pg_temp.fct_trips", q.postgres())
    # a month-wide window over the test rows' days: the query's own filter is for one month
    text = re.sub(r"WHERE .*? GROUP BY", "GROUP BY", text, flags=re.S)
    with pg.transaction():
        pg.execute(f"CREATE TEMP TABLE fct_trips ({COLUMNS}) ON COMMIT DROP")
        with pg.cursor() as cur:
            cur.executemany(
                "INSERT INTO pg_temp.fct_trips VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                [[r.get(c) for c in t.column_names] + [d] for r, d in zip(rows, days, strict=True)],
            )
        got = pg.execute(text).fetchall()
    warehouse = fp.from_rows(got, ("total_cents", "fare_cents", "tip_cents"))
    assert warehouse == lake
    assert len(warehouse) == 2 and all(d.fingerprint > 0 for d in warehouse.values())
