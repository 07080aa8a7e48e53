"""warehouse_schema end to end: one tiny month (December 2021, 7 trips on 2 dates; no other test loads it into
a warehouse) made by the real stages (ingest -> etl -> aggregates on Spark -> crawler) in a bucket and Glue
databases of its own, loaded by the Redshift SQL of sql/load into schema taxi_alt of a database of its own,
as the lab's app role (it creates the schema: CREATE on the database, ADR 0018). A named analytics query and
the validation queries then run against taxi_alt, and the canonical taxi schema beside it stays empty."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from emulation.redshift.dialect import apply_ddl
from spark_jobs.io import paths
from spark_jobs.jobs import aggregates, etl
from spark_jobs.schemas.contracts import CURATED
from taxilab import resources
from taxilab.core.runs import job_argv
from taxilab.ingest import raw
from taxilab.ingest.raw import SourceFile
from taxilab.warehouse import queries, sql_load
from taxilab.warehouse.aggregates_wh import AGG_TABLES
from taxilab.warehouse.dims import DIM_TABLES
from tests.integration.tlcfiles import trip, write_era

pytestmark = pytest.mark.integration

MONTH = "2021-12"
DB = "taxilab_schema_alt"
TABLES = ["fct_trips", *CURATED, *DIM_TABLES, *AGG_TABLES]
VALIDATIONS = ("fct_trips_integrity", "curated_matches_fct_trips", "daily_summary_matches_fct_trips")
TRIPS = [
    trip(
        datetime(2021, 12, (4, 18)[i % 2], (2, 9, 15, 21)[i % 4], 5 * i),
        total_amount=10.5 + i,
        tip_amount=0.5 * i,
    )
    for i in range(7)
]


@pytest.fixture(scope="module")
def alt(lab_settings, spark, tmp_path_factory):
    from emulation import pg_auth
    from emulation.glue import crawler

    tag = uuid.uuid4().hex[:8]
    s = lab_settings.model_copy(
        update={
            "bucket": f"taxilab-it-alt-{tag}",
            "catalog_databases": {z: f"it_alt_{tag}_{z}" for z in crawler.ZONES},
        }
    )
    raw.ensure_bucket(s)
    raw.land_zone_lookup(s)
    f = write_era(tmp_path_factory.mktemp("alt") / f"{MONTH}.parquet", "2022", TRIPS)
    raw.land_month(s, MONTH, SourceFile(f, f"test:{MONTH}"))
    common = {"bucket": s.bucket, "dataset": s.dataset, "month": MONTH}
    etl.main(job_argv("etl", **common, zone_lookup=paths.s3_url(s.bucket, paths.zone_lookup_key())), spark)
    aggregates.main(job_argv("aggregates", **common), spark)
    crawler.crawl(s, zones=("staging", "curated"))

    with psycopg.connect(lab_settings.warehouse_admin_dsn, autocommit=True) as admin:  # the app role cannot
        admin.execute(f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)")
        admin.execute(f"CREATE DATABASE {DB}")
    admin_dsn = make_conninfo(**{**conninfo_to_dict(lab_settings.warehouse_admin_dsn), "dbname": DB})
    with psycopg.connect(admin_dsn, autocommit=True) as admin:
        pg_auth.grant_database(admin, DB, lab_settings.warehouse_app_role)
    dsn = make_conninfo(**{**conninfo_to_dict(lab_settings.warehouse_dsn), "dbname": DB})
    canonical = s.model_copy(update={"warehouse_dsn": dsn})
    with psycopg.connect(dsn) as conn:
        apply_ddl(conn, sql_load.DDL_DIR)  # the canonical schema exists beside it, empty
    # Settings are copied the way a Glue job's arguments are applied (model_copy): checked where SQL is prepared.
    s_alt = canonical.model_copy(update={"warehouse_schema": "taxi_alt"})
    with psycopg.connect(dsn) as conn:  # the app role (warehouse_dsn), as the product connects
        res = sql_load.run_local(conn, s_alt, MONTH)
    yield s_alt, res, dsn
    with psycopg.connect(lab_settings.warehouse_admin_dsn, autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)")


def _counts(conn, schema: str) -> dict[str, int]:
    return {
        t: conn.execute(
            psycopg.sql.SQL("SELECT count(*) FROM {}.{}").format(
                psycopg.sql.Identifier(schema), psycopg.sql.Identifier(t)
            )
        ).fetchone()[0]
        for t in TABLES
    }


def test_a_month_loads_into_the_configured_schema_as_the_app_role_and_taxi_stays_empty(alt):
    s, res, dsn = alt
    with psycopg.connect(dsn) as conn:
        owner, user = conn.execute(
            "SELECT pg_get_userbyid(nspowner), current_user FROM pg_namespace WHERE nspname = 'taxi_alt'"
        ).fetchone()
        alt_counts, taxi_counts = _counts(conn, "taxi_alt"), _counts(conn, "taxi")
    assert owner == user == s.warehouse_app_role
    assert alt_counts["fct_trips"] == len(TRIPS) == res["tables"]["fct_trips"]["rows"]
    assert all(alt_counts[t] > 0 for t in TABLES), alt_counts
    assert taxi_counts == {t: 0 for t in TABLES}
    stats = sql_load.stats_from_rows(
        resources.warehouse(s)
        .execute(sql_load.stats_sql(s, MONTH))
        .rows  # taxi.* in the text, run in taxi_alt
    )
    assert stats["fct_trips"] == {
        "rows": len(TRIPS),
        "total_amount": sum(Decimal(str(t["total_amount"])) for t in TRIPS),
    }


def test_a_named_query_and_the_validation_queries_run_against_the_configured_schema(alt):
    s, _, dsn = alt
    wh = resources.warehouse(s)
    days = sorted({t["tpep_pickup_datetime"].date() for t in TRIPS})
    q = queries.load_query("daily_revenue")
    rows = wh.run_named(q, {"start_date": "2021-12-01", "end_date": "2021-12-31"}).rows
    expected = [
        (
            d,
            sum(1 for t in TRIPS if t["tpep_pickup_datetime"].date() == d),
            sum(Decimal(str(t["total_amount"])) for t in TRIPS if t["tpep_pickup_datetime"].date() == d),
        )
        for d in days
    ]
    assert [(r[0], r[1], r[2]) for r in rows] == expected
    # The validation queries (no rows = consistent) find nothing wrong with the month in taxi_alt.
    for name in VALIDATIONS:
        v = queries.load_query(name, queries.VALIDATION_DIR)
        assert wh.run_named(v, {"month": MONTH}).rows == [], name
    # A statement through the emulation's engine (taxilab sql exec) reads taxi_alt as well.
    assert wh.execute("SELECT count(*) FROM taxi.fct_trips").rows == [(len(TRIPS),)]
