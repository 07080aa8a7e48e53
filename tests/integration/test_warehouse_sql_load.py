"""The warehouse load as Redshift SQL (sql/load, taxilab.warehouse.sql_load) builds the same warehouse as
the lab's native load (pyarrow COPY FROM STDIN, loader.load_month's default), table by table, row by row.

A tiny lake made by the real stages (ingest -> etl -> aggregates on Spark -> crawler) for June 2022 (no
other test uses it) in a bucket and Glue databases of its own: three pickup dates, so the local Spectrum
emulation (one scan process per partition) stays quick. The SQL path runs through redshift.execute
(COPY from the S3 emulator, CREATE EXTERNAL SCHEMA as local Spectrum) into the scratch database; the
native path into a database of its own."""

from __future__ import annotations

import uuid
from datetime import datetime

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from emulation.glue import crawler
from emulation.redshift.copy import CopyError
from spark_jobs.io import paths
from spark_jobs.jobs import aggregates, etl
from spark_jobs.month import Month
from spark_jobs.schemas.contracts import CURATED
from taxilab import resources
from taxilab.core.clients import client
from taxilab.core.runs import job_argv
from taxilab.ingest import raw
from taxilab.ingest.raw import SourceFile
from taxilab.warehouse import loader, sql_load
from taxilab.warehouse.aggregates_wh import AGG_TABLES
from taxilab.warehouse.dims import DIM_TABLES
from tests.integration.tlcfiles import trip, write_era

pytestmark = pytest.mark.integration

MONTH = "2022-06"
NATIVE_DB = "taxilab_sqlload_native"

# The month's filter per table (fct_trips and dim_date by date, curated by pickup_month, aggregates by
# date or month_start); dim_zone and the code tables are replaced whole.
START, END = Month.parse(MONTH).bounds()
DAILY_AGG_TABLES = ("agg_trips_daily", "agg_cbd_fee_daily")  # one row per pickup_date; the others per month
WHERE = {
    "fct_trips": ("pickup_date >= %s AND pickup_date < %s", [START, END]),
    **{t: ("pickup_month = %s", [MONTH]) for t in CURATED},
    "dim_date": ("date_key >= %s AND date_key < %s", [START, END]),
    "dim_zone": ("true", []),
    "dim_payment_type": ("true", []),
    "dim_rate_code": ("true", []),
    **{t: ("pickup_date >= %s AND pickup_date < %s", [START, END]) for t in DAILY_AGG_TABLES},
    **{t: ("month_start = %s", [START]) for t in AGG_TABLES if t not in DAILY_AGG_TABLES},
}
TABLES = ["fct_trips", *CURATED, *DIM_TABLES, *AGG_TABLES]


def _trips() -> list[dict]:
    """19 trips on 3 dates, several hours (time_of_day partitions), zones incl. airports, payment types."""
    rows = []
    for i in range(19):
        day, hour = (3, 12, 27)[i % 3], (1, 8, 13, 18, 22)[i % 5]
        rows.append(
            trip(
                datetime(2022, 6, day, hour, (7 * i) % 60),
                minutes=5 + 3 * i,
                PULocationID=(161, 132, 236, 138)[i % 4],
                DOLocationID=(236, 161, 1)[i % 3],
                payment_type=(1, 2, 1, 4)[i % 4],
                passenger_count=(1, 2, 0, 3)[i % 4],
                trip_distance=0.4 + 1.3 * i,
                fare_amount=5.0 + i,
                tip_amount=round(0.25 * i, 2),
                total_amount=round(9.5 + i + 0.25 * i, 2),
            )
        )
    return rows


def _db_dsn(settings, dbname: str) -> str:
    return make_conninfo(**{**conninfo_to_dict(settings.warehouse_dsn), "dbname": dbname})


@pytest.fixture(scope="module")
def lake(lab_settings, spark, tmp_path_factory):
    tag = uuid.uuid4().hex[:8]
    s = lab_settings.model_copy(
        update={
            "bucket": "taxilab-it-sqlload",
            "catalog_databases": {z: f"sqlload_{tag}_{z}" for z in crawler.ZONES},
        }
    )
    raw.ensure_bucket(s)
    raw.land_zone_lookup(s)
    f = write_era(tmp_path_factory.mktemp("sqlload") / f"{MONTH}.parquet", "2022", _trips())
    raw.land_month(s, MONTH, SourceFile(f, f"test:{MONTH}"))
    common = {"bucket": s.bucket, "dataset": s.dataset, "month": MONTH}
    etl.main(job_argv("etl", **common, zone_lookup=paths.s3_url(s.bucket, paths.zone_lookup_key())), spark)
    aggregates.main(job_argv("aggregates", **common), spark)
    crawler.crawl(s, zones=("staging", "curated"))
    return s


@pytest.fixture(scope="module")
def native(lake):
    """The native load (the local default) into a database of its own."""
    from emulation import pg_auth

    with psycopg.connect(
        lake.warehouse_admin_dsn, autocommit=True
    ) as admin:  # the app role cannot create one
        admin.execute(f"DROP DATABASE IF EXISTS {NATIVE_DB}")
        admin.execute(f"CREATE DATABASE {NATIVE_DB}")
    admin_dsn = make_conninfo(**{**conninfo_to_dict(lake.warehouse_admin_dsn), "dbname": NATIVE_DB})
    with psycopg.connect(admin_dsn, autocommit=True) as admin:
        pg_auth.grant_database(admin, NATIVE_DB, lake.warehouse_app_role)
    s = lake.model_copy(update={"warehouse_dsn": _db_dsn(lake, NATIVE_DB)})
    res = loader.load_month(s, MONTH)
    with psycopg.connect(s.warehouse_dsn) as conn:
        yield s, res, conn
    with psycopg.connect(lake.warehouse_admin_dsn, autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {NATIVE_DB} WITH (FORCE)")


@pytest.fixture(scope="module")
def via_sql(lake, pg_conn_factory):
    """The sql/load script through redshift.execute into the scratch database (loader's SQL path)."""
    with pg_conn_factory(autocommit=True) as conn:
        conn.execute("DROP SCHEMA IF EXISTS taxi CASCADE")
        conn.execute("DROP SCHEMA IF EXISTS lake_staging CASCADE")
        conn.execute("DROP SCHEMA IF EXISTS lake_curated CASCADE")
        conn.execute("DROP SCHEMA IF EXISTS lab_meta CASCADE")
    s = lake.model_copy(update={"warehouse_dsn": _db_dsn(lake, "taxilab_scratch")})
    res = resources.warehouse(s).load_month(MONTH, path="sql")
    with psycopg.connect(s.warehouse_dsn) as conn:
        yield s, res, conn


def _rows(conn, table: str) -> list[tuple]:
    """Every column but loaded_at (the load's own clock), sorted: a row set to compare exactly."""
    cols = [
        r[0]
        for r in conn.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = 'taxi' AND table_name = %s"
            " AND column_name <> 'loaded_at' ORDER BY ordinal_position",
            [table],
        ).fetchall()
    ]
    where, params = WHERE[table]
    rows = conn.execute(f"SELECT {', '.join(cols)} FROM taxi.{table} WHERE {where}", params).fetchall()
    conn.rollback()
    return sorted(rows, key=repr)


def test_the_sql_script_builds_the_same_warehouse_as_the_native_load(native, via_sql):
    (ns, nres, nconn), (ss, sres, sconn) = native, via_sql
    for table in TABLES:
        expected = _rows(nconn, table)
        assert expected, f"{table}: the native load left no rows for {MONTH}: nothing would be compared"
        assert _rows(sconn, table) == expected, table
    assert len(_rows(sconn, "fct_trips")) == 19 and len(_rows(sconn, "dim_date")) == 30
    # What the pipeline reports and reconciles is the same on both paths.
    assert sres["tables"] == {t: {"rows": v["rows"]} for t, v in nres["tables"].items()}
    assert (sres["rows_in"], sres["rows_loaded"], sres["fct_trips_total_amount"]) == (
        nres["rows_in"],
        nres["rows_loaded"],
        nres["fct_trips_total_amount"],
    )
    assert sres["dims"] == nres["dims"] and sres["aggregates"]["rows"] == nres["aggregates"]["rows"]
    assert loader.warehouse_stats(ss, MONTH) == loader.warehouse_stats(ns, MONTH)


def test_reloading_the_month_replaces_it_and_a_failure_leaves_it_as_it_was(via_sql):
    s, _, conn = via_sql
    before = {t: _rows(conn, t) for t in TABLES}
    with psycopg.connect(s.warehouse_dsn) as c:
        sql_load.run_local(c, s, MONTH)  # a rerun: the same rows, nothing doubled
    assert {t: _rows(conn, t) for t in TABLES} == before

    # A reload that fails part-way (the zone lookup COPY, after fct_trips and the curated tables were
    # replaced in the transaction) leaves every table as it was: a stray row stays, nothing is half-done.
    conn.execute("DELETE FROM taxi.fct_trips WHERE pickup_date = '2022-06-03'")
    conn.commit()
    kept = {t: _rows(conn, t) for t in TABLES}
    s3 = client("s3", s)
    s3.delete_object(Bucket=s.bucket, Key=paths.zone_lookup_key())
    try:
        with psycopg.connect(s.warehouse_dsn) as c, pytest.raises(CopyError, match="taxi_zone_lookup"):
            sql_load.run_local(c, s, MONTH)
    finally:
        raw.land_zone_lookup(s)
    assert {t: _rows(conn, t) for t in TABLES} == kept
    assert len(kept["fct_trips"]) < len(before["fct_trips"])
    with psycopg.connect(s.warehouse_dsn) as c:
        sql_load.run_local(c, s, MONTH)  # and the next good reload restores the date
    assert {t: _rows(conn, t) for t in TABLES} == before
