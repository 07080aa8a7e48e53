"""Warehouse-built pre-aggregates: taxi.agg_* (DDL sql/ddl/04*_agg_*.sql), rebuilt for a month by the
Redshift SQL of sql/load/ right after that month's fct_trips load.
Why: docs/adr/0009-warehouse-preaggregates.md.
"""

from __future__ import annotations

from pathlib import Path

import psycopg
from psycopg import sql

from emulation.redshift.dialect import parse_redshift
from spark_jobs.month import Month
from taxilab.core.runs import timed
from taxilab.core.settings import CANONICAL_SCHEMA, PROJECT_ROOT, check_schema
from taxilab.warehouse.queries import NamedQuery, _placeholders

LOAD_DIR = PROJECT_ROOT / "sql" / "load"
AGG_TABLES = (
    "agg_trips_daily",
    "agg_trips_zone_pair",
    "agg_trips_hourly_profile",
    "agg_trip_speed_distribution",
    "agg_cbd_fee_daily",
)
# The pre-aggregate files of sql/load (04x_agg_*.sql); the other sql/load files load the lake (sql_load.py).
AGG_FILES = "04?_agg_*.sql"


class AggregateBuildError(RuntimeError):
    """A pre-aggregate could not be rebuilt, or disagrees with fct_trips; nothing of it was kept."""


def load_statements(load_dir: Path = LOAD_DIR) -> list[NamedQuery]:
    """The statements of every pre-aggregate file of sql/load, in file-name order, each as a one-statement query."""
    files = sorted(Path(load_dir).glob(AGG_FILES))
    if not files:
        raise FileNotFoundError(f"no .sql files in {load_dir}")
    out = []
    for f in files:
        for i, statement in enumerate(parse_redshift(f.read_text())):
            text = statement.sql(dialect="redshift", comments=False)
            out.append(NamedQuery(f"{f.stem}#{i + 1}", f, text, "", _placeholders(text)))
    return out


def _row(cursor: psycopg.Cursor) -> tuple:
    """The one row an aggregate query returns."""
    row = cursor.fetchone()
    if row is None:  # pragma: no cover - an aggregate without GROUP BY returns exactly one row
        raise AggregateBuildError("an aggregate check query returned no row")
    return tuple(row)


def _check(conn: psycopg.Connection, month: str, schema: str) -> dict[str, int]:
    """Trip count and revenue (agg_cbd_fee_daily: congestion fee) of every aggregate must equal fct_trips'
    for the month."""
    start, end = Month.parse(month).bounds()

    def table(name: str) -> sql.Composed:
        return sql.SQL("{}.{}").format(sql.Identifier(schema), sql.Identifier(name))

    # One scan of the month's facts serves every check.
    count, revenue, with_speed, fee = (
        conn.execute(
            sql.SQL(
                "SELECT count(*), sum(total_amount), count(avg_speed_mph), sum(cbd_congestion_fee) FROM {}"
                " WHERE pickup_date >= %s AND pickup_date < %s"
            ).format(table("fct_trips")),
            [start, end],
        ).fetchone()
        or ()
    )
    by_day = ("pickup_date >= %s AND pickup_date < %s", [start, end])
    # table: (its trip count, its money sum, fct_trips' money sum for the month, its month filter)
    checks = {
        "agg_trips_daily": ("sum(trip_count)", "sum(total_revenue)", revenue, *by_day),
        "agg_trips_zone_pair": (
            "sum(trip_count)",
            "sum(total_amount_sum)",
            revenue,
            "month_start = %s",
            [start],
        ),
        "agg_trips_hourly_profile": (
            "sum(trip_count)",
            "sum(total_amount_sum)",
            revenue,
            "month_start = %s",
            [start],
        ),
        "agg_cbd_fee_daily": ("sum(trip_count)", "sum(total_fee)", fee, *by_day),
    }
    for name, (trips, money, fct_money, where, params) in checks.items():
        got = (
            conn.execute(
                sql.SQL(f"SELECT coalesce({trips}, 0), {money} FROM {{}} WHERE {where}").format(table(name)),
                params,
            ).fetchone()
            or ()
        )
        if (int(got[0]), got[1]) != (int(count), fct_money):
            measure = "congestion fee" if name == "agg_cbd_fee_daily" else "revenue"
            raise AggregateBuildError(
                f"{schema}.{name} for {month}: {got[0]} trips / {got[1]} {measure},"
                f" fct_trips has {count} / {fct_money}"
            )
    speeds = (
        conn.execute(
            sql.SQL(
                "SELECT coalesce(sum(trip_count), 0), coalesce(max(trips_at_or_above), 0)"
                " FROM {} WHERE month_start = %s"
            ).format(table("agg_trip_speed_distribution")),
            [start],
        ).fetchone()
        or ()
    )
    if not (speeds[0] == speeds[1] == with_speed):
        raise AggregateBuildError(
            f"{schema}.agg_trip_speed_distribution for {month}: {speeds[0]} trips (running total {speeds[1]}),"
            f" fct_trips has {with_speed} with a speed"
        )
    rows = {}
    for name in AGG_TABLES:
        where, params = checks.get(name, (None, None, None, "month_start = %s", [start]))[3:]
        query = sql.SQL(f"SELECT count(*) FROM {{}} WHERE {where}").format(table(name))
        rows[name] = _row(conn.execute(query, params))[0]
    return rows


def build_aggregates(
    conn: psycopg.Connection, month: str, load_dir: Path = LOAD_DIR, schema: str = CANONICAL_SCHEMA
) -> dict:
    """Rebuild every pre-aggregate for `month` ('YYYY-MM') from fct_trips of `schema` (the files' `taxi.`
    tables are put there: settings.warehouse_schema), in one transaction.

    Returns {"rows": {table: rows for the month}, "seconds": build time}. Idempotent per month.
    Raises AggregateBuildError (everything rolled back) when a statement fails or a built table's
    trip count or money (revenue, congestion fee) differs from fct_trips'. The caller ANALYZEs the tables afterwards.
    """
    Month.parse(month)  # a malformed month is a clear error before anything runs
    schema = check_schema(schema)
    statements = load_statements(load_dir)
    try:
        with timed() as clock, conn.transaction():
            # One builder per month at a time: two concurrent rebuilds would both delete nothing.
            conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [f"{schema}.agg_*:{month}"])
            # The month's GROUP BYs hash ~3M rows: with the server's default work_mem they spill to disk
            # (measured 14.7 s -> 10.9 s for the four builds on Feb 2024). Local to this transaction.
            conn.execute("SET LOCAL work_mem = '512MB'")
            for q in statements:
                conn.execute(q.postgres(schema), {"month": month} if q.params else None)
            rows = _check(conn, month, schema)
    except psycopg.Error as e:
        raise AggregateBuildError(
            f"rebuilding the pre-aggregates for {month} failed, rolled back: {e}"
        ) from e
    return {"rows": rows, "seconds": clock.seconds}
