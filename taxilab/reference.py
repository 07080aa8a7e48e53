"""An independent single-node implementation of clean -> enrich -> aggregate in DuckDB SQL.
Why: docs/adr/0003-exact-money-and-reconciliation.md.
"""

from __future__ import annotations

import time
from pathlib import Path

import duckdb

from spark_jobs.schemas.contracts import DISTANCE_CATEGORIES, TIME_OF_DAY


def _case_time_of_day(hour: str) -> str:
    arms = " ".join(f"WHEN {hour} BETWEEN {lo} AND {hi} THEN '{name}'" for name, lo, hi in TIME_OF_DAY)
    return f"CASE {arms} END"


def _case_distance(d: str) -> str:
    arms = []
    for name, lo, hi in DISTANCE_CATEGORIES:
        cond = f"{d} >= {lo}" + (f" AND {d} < {hi}" if hi is not None else "")
        arms.append(f"WHEN {cond} THEN '{name}'")
    return f"CASE {' '.join(arms)} END"


def _cents(col: str) -> str:
    # Same rounding as the ETL (Spark's double -> decimal cast): half-up on the shortest decimal form.
    # Whole-cent values (nearly all) are exact via round(x * 100); others go through the text form.
    return (
        f"CASE WHEN NOT isfinite({col}) THEN NULL "
        f"WHEN abs({col} * 100 - round({col} * 100)) < 1e-6 THEN CAST(round({col} * 100) / 100 AS DECIMAL(12,2)) "
        f"ELSE CAST(round(CAST(CAST({col} AS VARCHAR) AS DECIMAL(38,10)), 2) AS DECIMAL(12,2)) END"
    )


def build(con: duckdb.DuckDBPyConnection, parquet: Path, zones_csv: Path, month: str) -> None:
    """Create views: src, flagged, accepted (enriched), rejected, and the five curated tables."""
    year, mon = (int(x) for x in month.split("-"))
    start = f"{year:04d}-{mon:02d}-01"
    end = f"{year + (mon == 12):04d}-{mon % 12 + 1:02d}-01"
    # File paths are bound as parameters (or handed to DuckDB's relation API), never pasted into SQL text.
    cols = {
        c.lower(): c
        for c in con.execute("SELECT * FROM read_parquet(?) LIMIT 0", [str(parquet)]).df().columns
    }
    con.read_parquet(str(parquet)).create_view("raw_input", replace=True)

    def src(name: str, cast: str) -> str:
        c = cols.get(name)
        return f'CAST("{c}" AS {cast})' if c else f"CAST(NULL AS {cast})"

    money = [
        "fare_amount",
        "extra",
        "mta_tax",
        "tip_amount",
        "tolls_amount",
        "improvement_surcharge",
        "total_amount",
        "congestion_surcharge",
        "airport_fee",
        "cbd_congestion_fee",
    ]
    con.execute(f"""
        CREATE OR REPLACE TEMP VIEW src AS SELECT
          {src("vendorid", "INTEGER")} AS vendor_id,
          CAST({src("tpep_pickup_datetime", "TIMESTAMP")} AS TIMESTAMP) AS pickup_datetime,
          CAST({src("tpep_dropoff_datetime", "TIMESTAMP")} AS TIMESTAMP) AS dropoff_datetime,
          {src("passenger_count", "DOUBLE")} AS passenger_count,
          {src("trip_distance", "DOUBLE")} AS trip_distance,
          {src("ratecodeid", "DOUBLE")} AS ratecode_id,
          {src("store_and_fwd_flag", "VARCHAR")} AS store_and_fwd_flag,
          {src("pulocationid", "INTEGER")} AS pu_location_id,
          {src("dolocationid", "INTEGER")} AS do_location_id,
          {src("payment_type", "INTEGER")} AS payment_type,
          {", ".join(f"{src(m, 'DOUBLE')} AS {m}_raw" for m in money)}
        FROM raw_input
    """)
    money_cols = ", ".join(f"{_cents(m + '_raw')} AS {m}" for m in money)
    nonfinite = " OR ".join(f"({m}_raw IS NOT NULL AND NOT isfinite({m}_raw))" for m in money)
    con.execute(f"""
        CREATE OR REPLACE TEMP VIEW conformed AS SELECT *, {money_cols},
          ({nonfinite} OR (trip_distance IS NOT NULL AND NOT isfinite(trip_distance))) AS nonfinite,
          epoch(dropoff_datetime) - epoch(pickup_datetime) AS dur_s
        FROM src
    """)
    negative = " OR ".join(f"{m} < 0" for m in money)
    con.execute(f"""
        CREATE OR REPLACE TEMP VIEW flagged AS SELECT *,
          (NOT nonfinite AND (vendor_id IS NULL OR pickup_datetime IS NULL OR dropoff_datetime IS NULL
             OR pu_location_id IS NULL OR do_location_id IS NULL OR payment_type IS NULL
             OR trip_distance IS NULL OR fare_amount IS NULL OR total_amount IS NULL)) AS r_missing,
          nonfinite AS r_nonfinite,
          coalesce(NOT (pickup_datetime >= TIMESTAMP '{start}' AND pickup_datetime < TIMESTAMP '{end}'), false) AS r_month,
          coalesce(dur_s <= 0, false) AS r_dur,
          coalesce(dur_s > 86400, false) AS r_dur24,
          coalesce({negative}, false) AS r_neg,
          coalesce(trip_distance <= 0, false) AS r_zero,
          coalesce(trip_distance > 100, false) AS r_far,
          coalesce(fare_amount > 1000 OR total_amount > 2000 OR tip_amount > 500, false) AS r_fare,
          coalesce(dur_s > 0 AND trip_distance > 0 AND trip_distance / (dur_s / 3600.0) > 100, false) AS r_speed,
          coalesce(NOT (pu_location_id BETWEEN 1 AND 265 AND do_location_id BETWEEN 1 AND 265), false) AS r_loc,
          coalesce(vendor_id NOT IN (1, 2, 6, 7), false) AS r_vendor,
          coalesce(payment_type NOT BETWEEN 0 AND 6, false) AS r_pay,
          coalesce(ratecode_id IS NOT NULL AND ratecode_id NOT IN (1, 2, 3, 4, 5, 6, 99), false) AS r_rate,
          coalesce(passenger_count IS NOT NULL AND (passenger_count < 0 OR passenger_count > 9), false) AS r_pax,
          coalesce(store_and_fwd_flag IS NOT NULL AND store_and_fwd_flag NOT IN ('Y', 'N'), false) AS r_flag
        FROM conformed
    """)
    rules = (
        "r_missing OR r_nonfinite OR r_month OR r_dur OR r_dur24 OR r_neg OR r_zero OR r_far OR r_fare "
        "OR r_speed OR r_loc OR r_vendor OR r_pay OR r_rate OR r_pax OR r_flag"
    )
    con.execute(f"CREATE OR REPLACE TEMP VIEW rejected AS SELECT * FROM flagged WHERE {rules}")
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE zones AS
        SELECT CAST(LocationID AS INTEGER) AS location_id, Borough AS borough, Zone AS zone
        FROM read_csv(?, header = true, all_varchar = true, nullstr = '')
    """,
        [str(zones_csv)],
    )
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE accepted AS SELECT f.*,
          dur_s / 60.0 AS trip_duration_min,
          CASE WHEN dur_s > 0 THEN trip_distance / (dur_s / 3600.0) END AS avg_speed_mph,
          CAST(pickup_datetime AS DATE) AS pickup_date,
          hour(pickup_datetime) AS pickup_hour,
          isodow(pickup_datetime) AS pickup_weekday,
          isodow(pickup_datetime) >= 6 AS is_weekend,
          {_case_time_of_day("hour(pickup_datetime)")} AS time_of_day_category,
          CASE WHEN fare_amount > 0 THEN CAST(tip_amount AS DOUBLE) / CAST(fare_amount AS DOUBLE) * 100 END AS tip_pct,
          CASE WHEN trip_distance > 0 THEN CAST(fare_amount AS DOUBLE) / trip_distance END AS fare_per_mile,
          {_case_distance("trip_distance")} AS distance_category,
          coalesce(pz.borough, 'Unknown') AS pu_borough, coalesce(pz.zone, 'Unknown') AS pu_zone,
          coalesce(dz.borough, 'Unknown') AS do_borough, coalesce(dz.zone, 'Unknown') AS do_zone,
          (pu_location_id IN (1, 132, 138) OR do_location_id IN (1, 132, 138)) AS is_airport_trip
        FROM flagged f
        LEFT JOIN zones pz ON pz.location_id = f.pu_location_id
        LEFT JOIN zones dz ON dz.location_id = f.do_location_id
        WHERE NOT ({rules})
    """)
    measures = (
        "count(*) AS trip_count, sum(total_amount) AS total_revenue, sum(fare_amount) AS total_fare, "
        "sum(tip_amount) AS total_tips"
    )
    con.execute(f"""CREATE OR REPLACE TEMP TABLE daily_summary AS SELECT pickup_date, {measures},
        avg(CAST(fare_amount AS DOUBLE)) AS avg_fare, avg(trip_distance) AS avg_distance,
        avg(trip_duration_min) AS avg_duration_min, avg(tip_pct) AS avg_tip_pct,
        count(*) FILTER (WHERE is_airport_trip) AS airport_trips
        FROM accepted GROUP BY ALL""")
    con.execute(f"""CREATE OR REPLACE TEMP TABLE hourly_patterns AS SELECT pickup_date, pickup_hour, {measures},
        avg(avg_speed_mph) AS avg_speed_mph FROM accepted GROUP BY ALL""")
    con.execute(f"""CREATE OR REPLACE TEMP TABLE payment_analysis AS SELECT pickup_date, payment_type, {measures},
        count(*) FILTER (WHERE tip_amount > 0) AS tipped_trips FROM accepted GROUP BY ALL""")
    con.execute(f"""CREATE OR REPLACE TEMP TABLE distance_analysis AS SELECT pickup_date, distance_category, {measures},
        avg(fare_per_mile) AS avg_fare_per_mile FROM accepted GROUP BY ALL""")
    con.execute(f"""CREATE OR REPLACE TEMP TABLE location_analysis AS SELECT pickup_date, pu_location_id,
        pu_borough, pu_zone, {measures}, avg(CAST(fare_amount AS DOUBLE)) AS avg_fare FROM accepted GROUP BY ALL""")


def run_reference(
    parquet: Path, zones_csv: Path, month: str, out_dir: Path | None = None, threads: int | None = None
) -> dict:
    """Clean/enrich/aggregate the file; optionally write staging + curated Parquet to out_dir.
    Returns counts and wall time."""
    t0 = time.monotonic()
    con = duckdb.connect()
    if threads:
        con.execute(f"SET threads = {int(threads)}")
    build(con, parquet, zones_csv, month)
    tables = [
        "daily_summary",
        "hourly_patterns",
        "payment_analysis",
        "distance_analysis",
        "location_analysis",
    ]
    if out_dir:
        out_dir.mkdir(parents=True, exist_ok=True)
        con.execute(
            "COPY accepted TO ? (FORMAT parquet, PARTITION_BY (pickup_date, time_of_day_category), "
            "OVERWRITE_OR_IGNORE)",
            [str(out_dir / "staging")],
        )
        con.execute("COPY rejected TO ? (FORMAT parquet)", [str(out_dir / "quarantine.parquet")])
        for t in tables:  # t: one of the fixed table names above
            con.execute(f"COPY {t} TO ? (FORMAT parquet)", [str(out_dir / (t + ".parquet"))])

    def count(table: str) -> int:  # table: one of the fixed names above, never user text
        row = con.execute(f"SELECT count(*) FROM {table}").fetchone()
        return int(row[0]) if row else 0

    result = {
        "raw_rows": count("src"),
        "accepted": count("accepted"),
        "rejected": count("rejected"),
        "tables": {t: count(t) for t in tables},
        "seconds": round(time.monotonic() - t0, 2),
    }
    con.close()
    return result
