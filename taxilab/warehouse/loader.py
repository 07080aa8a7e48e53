"""Load one month of the lake into the warehouse (fct_trips, curated tables, dims, pre-aggregates) in ONE
transaction committed durably, by the native COPY path or the Redshift SQL of sql/load. Why:
docs/adr/0020-atomic-durable-month-load.md and docs/adr/0008-copy-unload-data-api.md ("Loading on aws").
"""

from __future__ import annotations

import psycopg
import pyarrow as pa
import pyarrow.dataset as ds
from tqdm import tqdm

from emulation.redshift.arrow_copy import replace_partition, table_stats
from emulation.redshift.dialect import apply_ddl
from spark_jobs.io import paths
from spark_jobs.month import Month
from spark_jobs.schemas.contracts import CURATED, CURATED_PARTITIONS, STAGING_COLUMNS
from taxilab.core import clients as aws
from taxilab.core.runs import timed
from taxilab.core.settings import PROJECT_ROOT, Settings
from taxilab.warehouse.aggregates_wh import AGG_TABLES, build_aggregates
from taxilab.warehouse.dims import DIM_TABLES, load_dims

DDL_DIR = PROJECT_ROOT / "sql" / "ddl"
STAGING_PARTITIONING = ds.partitioning(
    pa.schema([("pickup_date", pa.date32()), ("time_of_day_category", pa.string())]), flavor="hive"
)
CURATED_PARTITIONING = ds.partitioning(pa.schema([("pickup_month", pa.string())]), flavor="hive")


class WarehouseUnavailable(RuntimeError):
    pass


def connect(settings: Settings) -> psycopg.Connection:
    if not settings.warehouse_dsn:
        raise WarehouseUnavailable(
            "no warehouse DSN: start the services (`make up`) or set TAXILAB_WAREHOUSE_DSN"
        )
    try:
        return psycopg.connect(settings.warehouse_dsn, connect_timeout=10)
    except psycopg.OperationalError as e:
        raise WarehouseUnavailable(f"cannot connect to the warehouse: {e}".strip()) from e


def month_dates(month: str) -> list:
    return Month.parse(month).days


def _lake_dataset(settings: Settings, key_prefix: str, partitioning) -> ds.Dataset:
    fs = aws.arrow_s3_filesystem(settings)
    return ds.dataset(
        f"{settings.bucket}/{key_prefix.rstrip('/')}",
        format="parquet",
        filesystem=fs,
        partitioning=partitioning,
        ignore_prefixes=["_", "."],
    )


def durable_commits(conn: psycopg.Connection) -> None:
    """Every commit of this session waits for its WAL to be flushed to disk. The lab's PostgreSQL runs with
    synchronous_commit=off (emulation/services.py) for its many small writes; a month's load must not
    return, and so no run may report it validated, before its commit is durable (ADR 0020). WAL is flushed
    in order, so this also makes durable every commit inserted before it. Leaves the connection's transaction
    state as it found it (a session SET on an idle connection is committed at once: an open transaction
    would hold the locks of whatever the caller runs next until its end)."""
    idle = conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
    conn.execute("SET synchronous_commit TO on")
    if idle and not conn.autocommit:
        # The SET opened a transaction: commit it now, or the DDL and the load that follow would run
        # inside it and hold their locks (lab_meta's too) until the connection closes. A caller's own
        # transaction is left to the caller.
        conn.commit()


def _replace_fct_trips(
    conn: psycopg.Connection, settings: Settings, month: str, progress: bool = False
) -> dict:
    """Replace the month in fct_trips (in the caller's transaction, as a savepoint when it has one)."""
    start, end = Month.parse(month).bounds()
    with timed() as clock:
        staging = _lake_dataset(
            settings, paths.staging_prefix(settings.dataset), STAGING_PARTITIONING
        ).filter((ds.field("pickup_date") >= start) & (ds.field("pickup_date") < end))
        cols = [c for c, _ in STAGING_COLUMNS]
        bar = tqdm(
            total=staging.count_rows(),
            unit="rows",
            unit_scale=True,
            desc="load fct_trips",
            leave=False,
            disable=not progress,
        )
        with bar:
            n = replace_partition(
                conn,
                f"{settings.warehouse_schema}.fct_trips",
                staging,
                {"pickup_date": month_dates(month)},
                cols,
                progress=bar.update,
            )
    return {"rows": n, "seconds": clock.seconds}


def load_fct_trips(settings: Settings, month: str, progress: bool = False) -> dict:
    """Apply the DDL, then replace the month in fct_trips alone (one durable transaction); it needs only
    staging (running it beside the aggregates job was measured and rejected: ADR 0011). Returns
    {"rows", "seconds"}. load_month replaces fct_trips together with everything else instead."""
    with connect(settings) as conn:
        durable_commits(conn)
        apply_ddl(conn, DDL_DIR, settings.warehouse_schema)
        with conn.transaction():
            return _replace_fct_trips(conn, settings, month, progress)


def load_month(settings: Settings, month: str, progress: bool = False) -> dict:
    """The native path: apply the DDL, then in ONE transaction replace the month in fct_trips and the curated
    tables (COPY FROM STDIN), the dims and the pre-aggregates, and ANALYZE them; committed synchronously
    (durable_commits). A reader sees the whole previous month or the whole new one (ADR 0020). Returns
    per-table figures."""
    schema = settings.warehouse_schema
    tables: dict[str, dict] = {}
    with connect(settings) as conn:
        durable_commits(conn)
        apply_ddl(conn, DDL_DIR, settings.warehouse_schema)
        with conn.transaction():
            tables["fct_trips"] = _replace_fct_trips(conn, settings, month, progress)
            for name, table in CURATED.items():
                with timed() as clock:
                    cur = _lake_dataset(settings, paths.curated_prefix(name), CURATED_PARTITIONING).filter(
                        ds.field("pickup_month") == month
                    )
                    cols = [c for c, _ in table.columns] + [c for c, _ in CURATED_PARTITIONS]
                    n = replace_partition(conn, f"{schema}.{name}", cur, {"pickup_month": month}, cols)
                tables[name] = {"rows": n, "seconds": clock.seconds}
            # Dimensions (zones, the month's dates, code tables): small, rebuilt every load.
            dims = load_dims(conn, settings.zone_lookup_path, month, schema)
            # Pre-aggregates (sql/load): rebuilt in the warehouse from the fct_trips just loaded.
            aggregates = build_aggregates(conn, month, schema=schema)
            # Fresh planner statistics, committed with the rows they describe (ANALYZE counts this
            # transaction's own inserts as live and its deletes as dead).
            for name in ["fct_trips", *CURATED, *DIM_TABLES, *AGG_TABLES]:
                conn.execute(f'ANALYZE "{schema}"."{name}"')
    stats = warehouse_stats(settings, month)
    return {
        "rows_in": sum(t["rows"] for t in tables.values()),
        "rows_loaded": sum(stats[t]["rows"] for t in tables),
        "fct_trips_total_amount": stats["fct_trips"]["total_amount"],
        "tables": tables,
        "dims": dims,
        "aggregates": aggregates,
    }


def load_month_sql(settings: Settings, month: str) -> dict:
    """The sql/load script for the month on the lab's Redshift emulation, in one transaction: the same
    Redshift SQL the aws profile sends through the Data API (tests keep the two paths equal)."""
    from taxilab.warehouse import sql_load

    with connect(settings) as conn:
        durable_commits(conn)  # the script's one transaction commits durably, as the native path's
        res = sql_load.run_local(conn, settings, month)
        conn.autocommit = True  # fresh planner statistics, as the native path leaves them
        for name in ["fct_trips", *CURATED, *DIM_TABLES, *AGG_TABLES]:
            conn.execute(f'ANALYZE "{settings.warehouse_schema}"."{name}"')
    return summarize_load(res, warehouse_stats(settings, month))


def summarize_load(res: dict, stats: dict[str, dict]) -> dict:
    """A sql/load run's result in load_month's shape, with the warehouse's own counts after it."""
    tables = res["tables"]
    return {
        "rows_in": sum(t["rows"] for t in tables.values()),
        "rows_loaded": sum(stats[t]["rows"] for t in tables),
        "fct_trips_total_amount": stats["fct_trips"]["total_amount"],
        "tables": tables,
        "dims": res["dims"],
        "aggregates": res["aggregates"],
        "path": "sql",
        "seconds": res["seconds"],
    }


def warehouse_stats(settings: Settings, month: str) -> dict[str, dict]:
    """Counts and exact sums per PostgreSQL warehouse table for the month (for reconciliation); Redshift's
    are one Data API query (taxilab.resources.aws.RedshiftWarehouse.stats)."""
    schema = settings.warehouse_schema
    out = {}
    with connect(settings) as conn:
        f = table_stats(conn, f"{schema}.fct_trips", {"pickup_date": month_dates(month)}, ["total_amount"])
        out["fct_trips"] = {"rows": f["rows"], "total_amount": _money(f["total_amount"])}
        for name in CURATED:
            s = table_stats(
                conn, f"{schema}.{name}", {"pickup_month": month}, ["trip_count", "total_revenue"]
            )
            out[name] = {
                "rows": s["rows"],
                "trip_count": s["trip_count"] or 0,
                "total_revenue": _money(s["total_revenue"]),
            }
    return out


def _money(v):
    from decimal import Decimal

    return (v if v is not None else Decimal(0)).quantize(Decimal("0.01"))


def load_dates(settings: Settings, dates: list) -> dict:
    """Replace only `dates` (pickup dates, one month or several) in fct_trips and the curated tables, all in
    ONE transaction: a daily drop's rows become visible together, and a failure leaves every table as it
    was. The curated tables are read from their month folders, keeping the affected dates' rows only.

    On Redshift see taxilab.resources.aws.RedshiftWarehouse.load_dates."""
    dates = sorted(set(dates))
    if not dates:
        raise ValueError("load_dates needs at least one pickup date")
    months = sorted({f"{d:%Y-%m}" for d in dates})
    schema = settings.warehouse_schema
    tables: dict[str, dict] = {}
    with connect(settings) as conn:
        durable_commits(conn)  # a drop reported loaded is on disk (ADR 0020)
        apply_ddl(conn, DDL_DIR, settings.warehouse_schema)
        with conn.transaction():
            with timed() as clock:
                staging = _lake_dataset(
                    settings, paths.staging_prefix(settings.dataset), STAGING_PARTITIONING
                ).filter(ds.field("pickup_date").isin(dates))
                n = replace_partition(
                    conn,
                    f"{schema}.fct_trips",
                    staging,
                    {"pickup_date": dates},
                    [c for c, _ in STAGING_COLUMNS],
                )
            tables["fct_trips"] = {"rows": n, "seconds": clock.seconds}
            for name, table in CURATED.items():
                with timed() as clock:
                    # Every curated table has pickup_date in its grain (contracts.CURATED), so a date is a
                    # partition of the warehouse table even though the lake folder is the month.
                    cur = _lake_dataset(settings, paths.curated_prefix(name), CURATED_PARTITIONING).filter(
                        ds.field("pickup_month").isin(months) & ds.field("pickup_date").isin(dates)
                    )
                    cols = [c for c, _ in table.columns] + [c for c, _ in CURATED_PARTITIONS]
                    n = replace_partition(conn, f"{schema}.{name}", cur, {"pickup_date": dates}, cols)
                tables[name] = {"rows": n, "seconds": clock.seconds}
            for month in months:  # dim_date must know the dates (small, idempotent)
                load_dims(conn, settings.zone_lookup_path, month, schema)
                build_aggregates(conn, month, schema=schema)  # the month's pre-aggregates follow its trips
    return {
        "dates": [str(d) for d in dates],
        "tables": tables,
        "rows_in": sum(t["rows"] for t in tables.values()),
    }
