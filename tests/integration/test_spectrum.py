"""Redshift Spectrum on the lab: CREATE EXTERNAL SCHEMA ... FROM DATA CATALOG through redshift.execute,
over tiny Parquet files in the S3 emulator cataloged by the lab's crawler (moto's Glue), queried on the
lab's PostgreSQL without any load."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from emulation.glue import crawler
from emulation.redshift import engine as redshift
from emulation.redshift import spectrum
from emulation.redshift.statements import RedshiftStatementError, Result
from taxilab.core.clients import arrow_s3_filesystem, client
from taxilab.core.redshift_sql import iam_role_span

ROLE = "arn:aws:iam::123456789012:role/taxilab-spectrum"


@pytest.fixture()
def lake(fresh_lake):
    """A fresh bucket and fresh Glue databases (the crawler's zone databases) per test."""
    return fresh_lake("taxilab-spectrum", "it_spectrum")


@pytest.fixture()
def schema_name(pg):
    """A unique external schema name; dropped afterwards whatever the test did."""
    name = f"spectrum_{uuid.uuid4().hex[:8]}"
    yield name
    pg.rollback()
    if spectrum.is_external(pg, name):
        spectrum.drop_external_schema(pg, spectrum.DropSchema(name, cascade=True))
    pg.commit()


def put(settings, key: str, table: pa.Table) -> None:
    pq.write_table(table, f"{settings.bucket}/{key}", filesystem=arrow_s3_filesystem(settings))


def trips(vendors: list[int], amounts: list[str], names: list[str | None] | None = None) -> pa.Table:
    cols = {
        "VendorID": pa.array(vendors, pa.int32()),
        "total_amount": pa.array([Decimal(a) for a in amounts], pa.decimal128(10, 2)),
        "distance": pa.array([1.5] * len(vendors), pa.float64()),
    }
    if names is not None:
        cols["zone"] = pa.array(names, pa.string())
    return pa.table(cols)


def key(day: str, tod: str, part: str = "part-0") -> str:
    return f"staging/nyc_taxi/pickup_date={day}/time_of_day_category={tod}/{part}.parquet"


def seed(settings) -> None:
    put(settings, key("2019-03-01", "am"), trips([1, 2, 2], ["10.00", "20.50", "5.25"], ["A", None, "C'x"]))
    put(settings, key("2019-03-01", "pm"), trips([1], ["7.00"], ["B"]))
    put(settings, key("2019-03-02", "am"), trips([2, 2], ["1.10", "2.20"], ["A", "A"]))
    put(settings, "staging/nyc_taxi/_SUCCESS", pa.table({"x": [1]}))  # hidden: never read
    crawler.crawl(settings, zones=("staging",))


def create(pg, settings, schema: str, database: str | None = None, extra: str = "") -> Result:
    db = database or settings.catalog_databases["staging"]
    return redshift.execute(
        pg,
        settings,
        f"CREATE EXTERNAL SCHEMA {schema} FROM DATA CATALOG DATABASE '{db}' "
        f"IAM_ROLE '{ROLE}' REGION 'us-east-1'{extra};",
    )


def q(pg, settings, sql: str) -> list[tuple]:
    return redshift.execute(pg, settings, sql).rows


def test_external_table_answers_a_group_by_straight_from_the_lake(pg, lake, schema_name):
    seed(lake)
    res = create(pg, lake, schema_name)
    assert "1 external tables (3 partitions)" in res.message
    rows = q(
        pg,
        lake,
        f"SELECT pickup_date, time_of_day_category, vendorid, COUNT(*) AS n, SUM(total_amount) AS amt "
        f"FROM {schema_name}.nyc_taxi GROUP BY 1, 2, 3 ORDER BY 1, 2, 3",
    )
    assert rows == [
        (date(2019, 3, 1), "am", 1, 1, Decimal("10.00")),
        (date(2019, 3, 1), "am", 2, 2, Decimal("25.75")),
        (date(2019, 3, 1), "pm", 1, 1, Decimal("7.00")),
        (date(2019, 3, 2), "am", 2, 2, Decimal("3.30")),
    ]
    # Glue columns (lower case, as Redshift shows them) then the partition keys, with mapped types.
    cols = pg.execute(
        "SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = %s "
        "AND table_name = 'nyc_taxi' ORDER BY ordinal_position",
        [schema_name],
    ).fetchall()
    assert cols == [
        ("vendorid", "integer"),
        ("total_amount", "numeric"),
        ("distance", "double precision"),
        ("zone", "text"),
        ("pickup_date", "date"),
        ("time_of_day_category", "text"),
    ]
    # Nulls and quotes in strings survive the CSV hop.
    assert q(
        pg,
        lake,
        f"SELECT zone FROM {schema_name}.nyc_taxi WHERE pickup_date = '2019-03-01' "
        "AND time_of_day_category = 'am' ORDER BY total_amount",
    ) == [("C'x",), ("A",), (None,)]
    # Shaped like Redshift's SVV_EXTERNAL_* views.
    assert pg.execute(
        "SELECT schemaname, databasename, esoptions FROM lab_meta.svv_external_schemas WHERE schemaname = %s",
        [schema_name],
    ).fetchall() == [
        (schema_name, lake.catalog_databases["staging"], f'{{"IAM_ROLE": "{ROLE}", "REGION": "us-east-1"}}')
    ]
    assert pg.execute(
        "SELECT tablename, location FROM lab_meta.svv_external_tables WHERE schemaname = %s", [schema_name]
    ).fetchall() == [("nyc_taxi", f"s3://{lake.bucket}/staging/nyc_taxi/")]
    assert pg.execute(
        'SELECT count(*), min("values") FROM lab_meta.svv_external_partitions WHERE schemaname = %s',
        [schema_name],
    ).fetchone() == (3, '["2019-03-01", "am"]')


def test_external_table_joins_a_local_table(pg, lake, schema_name):
    seed(lake)
    create(pg, lake, schema_name)
    redshift.execute(pg, lake, "DROP TABLE IF EXISTS public.it_spectrum_vendor")
    redshift.execute(
        pg, lake, "CREATE TABLE public.it_spectrum_vendor (vendor_id INTEGER, name VARCHAR(16)) DISTSTYLE ALL"
    )
    redshift.execute(pg, lake, "INSERT INTO public.it_spectrum_vendor VALUES (1, 'Creative'), (2, 'Curb')")
    try:
        rows = q(
            pg,
            lake,
            f"SELECT v.name, COUNT(*) AS trips, SUM(t.total_amount) AS amt FROM {schema_name}.nyc_taxi t "
            "JOIN public.it_spectrum_vendor v ON v.vendor_id = t.vendorid GROUP BY v.name ORDER BY v.name",
        )
    finally:
        redshift.execute(pg, lake, "DROP TABLE public.it_spectrum_vendor")
    assert rows == [("Creative", 2, Decimal("17.00")), ("Curb", 4, Decimal("29.05"))]


def test_predicate_on_partition_keys_prunes_the_other_partitions_scans(pg, lake, schema_name):
    seed(lake)
    create(pg, lake, schema_name)
    sql = (
        f"SELECT COUNT(*) FROM {schema_name}.nyc_taxi WHERE pickup_date = '2019-03-01' "
        "AND time_of_day_category = 'pm'"
    )
    assert q(pg, lake, sql) == [(1,)]
    plan = "\n".join(
        r[0]
        for r in pg.execute(
            f"EXPLAIN (ANALYZE, VERBOSE) SELECT count(*) FROM {schema_name}.nyc_taxi "
            "WHERE pickup_date = '2019-03-01' AND time_of_day_category = 'pm'"
        ).fetchall()
    )
    # Only the matching partition's scan is in the plan (and ran once): the others are never executed.
    assert plan.count("Function Scan on lab_meta.spectrum_scan") == 1, plan
    assert "pickup_date=2019-03-01/time_of_day_category=pm/" in plan
    assert "time_of_day_category=am/" not in plan
    ranged = "\n".join(
        r[0]
        for r in pg.execute(
            f"EXPLAIN SELECT * FROM {schema_name}.nyc_taxi WHERE pickup_date >= '2019-03-02'"
        ).fetchall()
    )
    assert ranged.count("Function Scan") == 1, ranged


def test_a_file_added_to_a_registered_partition_is_read_without_any_refresh(pg, lake, schema_name):
    seed(lake)
    create(pg, lake, schema_name)
    sql = f"SELECT COUNT(*), SUM(total_amount) FROM {schema_name}.nyc_taxi WHERE pickup_date = '2019-03-02'"
    assert q(pg, lake, sql) == [(2, Decimal("3.30"))]
    put(lake, key("2019-03-02", "am", "part-1"), trips([1], ["100.00"], ["Z"]))
    assert q(pg, lake, sql) == [(3, Decimal("103.30"))]


def test_a_new_partition_is_visible_after_crawl_and_refresh(pg, lake, schema_name):
    seed(lake)
    create(pg, lake, schema_name)
    put(lake, key("2019-03-03", "pm"), trips([1, 1], ["3.00", "4.00"], ["Q", "Q"]))
    sql = f"SELECT pickup_date, COUNT(*) FROM {schema_name}.nyc_taxi GROUP BY 1 ORDER BY 1"
    assert q(pg, lake, sql)[-1] == (date(2019, 3, 2), 2)  # not in the catalog yet
    crawler.crawl(lake, zones=("staging",))
    assert spectrum.refresh(pg, lake)[schema_name] == 1
    assert q(pg, lake, sql) == [(date(2019, 3, 1), 4), (date(2019, 3, 2), 2), (date(2019, 3, 3), 2)]


def test_missing_glue_database_fails_naming_it_and_creates_nothing(pg, lake, schema_name):
    with pytest.raises(spectrum.SpectrumError, match="Glue database 'no_such_db' does not exist"):
        create(pg, lake, schema_name, database="no_such_db")
    assert pg.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", [schema_name]).fetchone() is None
    # CREATE EXTERNAL DATABASE IF NOT EXISTS creates it (empty): the schema exists with no tables.
    res = create(
        pg,
        lake,
        schema_name,
        database=f"{lake.catalog_databases['staging']}_new",
        extra=" CREATE EXTERNAL DATABASE IF NOT EXISTS",
    )
    assert "0 external tables" in res.message


def test_an_object_that_is_not_parquet_fails_the_query_naming_it(pg, lake, schema_name):
    seed(lake)
    create(pg, lake, schema_name)
    client("s3", lake).put_object(
        Bucket=lake.bucket, Key=key("2019-03-01", "pm", "part-9"), Body=b"not parquet"
    )
    with pytest.raises(redshift.StatementFailed) as e:
        q(pg, lake, f"SELECT COUNT(*) FROM {schema_name}.nyc_taxi")
    msg = str(e.value)
    assert (
        f"s3://{lake.bucket}/staging/nyc_taxi/pickup_date=2019-03-01/time_of_day_category=pm/part-9.parquet"
        in msg
    )
    assert "Parquet" in msg
    # Pruned away, the bad file is never read.
    assert q(pg, lake, f"SELECT COUNT(*) FROM {schema_name}.nyc_taxi WHERE time_of_day_category = 'am'") == [
        (5,)
    ]


def test_dropped_objects_and_tables(pg, lake, schema_name):
    seed(lake)
    create(pg, lake, schema_name)
    s3 = client("s3", lake)
    # A registered partition whose files are gone reads as empty, as on Spectrum (an S3 listing).
    s3.delete_object(Bucket=lake.bucket, Key=key("2019-03-01", "pm"))
    assert q(pg, lake, f"SELECT COUNT(*) FROM {schema_name}.nyc_taxi") == [(5,)]
    # A bucket that is gone fails the scan naming the location.
    for o in s3.list_objects_v2(Bucket=lake.bucket)["Contents"]:
        s3.delete_object(Bucket=lake.bucket, Key=o["Key"])
    s3.delete_bucket(Bucket=lake.bucket)
    with pytest.raises(
        redshift.StatementFailed, match=f"Spectrum scan of s3://{lake.bucket}/staging/nyc_taxi/"
    ):
        q(pg, lake, f"SELECT COUNT(*) FROM {schema_name}.nyc_taxi")
    pg.rollback()
    # A table dropped from the catalog is gone after refresh: querying it names it.
    client("glue", lake).delete_table(DatabaseName=lake.catalog_databases["staging"], Name="nyc_taxi")
    spectrum.refresh(pg, lake)
    with pytest.raises(redshift.StatementFailed, match=f'relation "{schema_name}.nyc_taxi" does not exist'):
        q(pg, lake, f"SELECT COUNT(*) FROM {schema_name}.nyc_taxi")
    pg.rollback()
    assert pg.execute(
        "SELECT count(*) FROM lab_meta.svv_external_tables WHERE schemaname = %s", [schema_name]
    ).fetchone() == (0,)


def test_create_twice_and_drop_schema(pg, lake, schema_name):
    seed(lake)
    create(pg, lake, schema_name)
    with pytest.raises(spectrum.SpectrumError, match="already exists"):
        create(pg, lake, schema_name)
    db = lake.catalog_databases["staging"]
    again = redshift.execute(
        pg,
        lake,
        f"CREATE EXTERNAL SCHEMA IF NOT EXISTS {schema_name} FROM DATA CATALOG "
        f"DATABASE '{db}' IAM_ROLE '{ROLE}'",
    )
    assert "skipping" in again.message
    res = redshift.execute(pg, lake, f"DROP SCHEMA {schema_name}")
    assert "external schema dropped" in res.message
    assert pg.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", [schema_name]).fetchone() is None
    assert not spectrum.is_external(pg, schema_name)
    # The catalog is untouched.
    assert client("glue", lake).get_table(DatabaseName=db, Name="nyc_taxi")["Table"]["Name"] == "nyc_taxi"


def test_unpartitioned_table_reads_every_visible_file_under_its_location(pg, lake, schema_name):
    first = pa.table(
        {
            "zone": ["A", "B"],
            "trips": pa.array([3, 4], pa.int64()),
            "at": pa.array([datetime(2019, 3, 1, 10, 0, 0, 123456), None], pa.timestamp("ns", tz="UTC")),
            "ok": [True, False],
            "day": pa.array([date(2019, 3, 1), None], pa.date32()),
        }
    )
    put(lake, "curated/zone_totals/part-0.parquet", first)
    put(
        lake,
        "curated/zone_totals/sub/part-1.parquet",
        pa.table({"zone": ["C"], "trips": pa.array([5], pa.int64())}),
    )
    put(
        lake,
        "curated/zone_totals/.hidden.parquet",
        pa.table({"zone": ["X"], "trips": pa.array([99], pa.int64())}),
    )
    db = lake.catalog_databases["curated"]
    glue = client("glue", lake)
    glue.create_database(DatabaseInput={"Name": db})
    glue.create_table(
        DatabaseName=db,
        TableInput={
            "Name": "zone_totals",
            "TableType": "EXTERNAL_TABLE",
            "Parameters": {"classification": "parquet"},
            "StorageDescriptor": {
                "Location": f"s3://{lake.bucket}/curated/zone_totals/",
                "Columns": [
                    {"Name": "zone", "Type": "varchar(8)"},
                    {"Name": "trips", "Type": "bigint"},
                    {"Name": "note", "Type": "string"},
                    {"Name": "at", "Type": "timestamp"},
                    {"Name": "ok", "Type": "boolean"},
                    {"Name": "day", "Type": "date"},
                ],
                "InputFormat": spectrum.PARQUET_INPUT,
            },
        },
    )
    create(pg, lake, schema_name, database=db)
    assert q(
        pg, lake, f"SELECT zone, trips, note, at, ok, day FROM {schema_name}.zone_totals ORDER BY zone"
    ) == [
        ("A", 3, None, datetime(2019, 3, 1, 10, 0, 0, 123456), True, date(2019, 3, 1)),
        ("B", 4, None, None, False, None),
        ("C", 5, None, None, None, None),
    ]


def test_parse_errors_name_the_problem():
    with pytest.raises(RedshiftStatementError, match="FROM HIVE"):
        spectrum.parse_create("CREATE EXTERNAL SCHEMA s FROM HIVE METASTORE DATABASE 'd' URI 'h'")
    with pytest.raises(RedshiftStatementError, match="DATABASE 'glue_database' is required"):
        spectrum.parse_create(f"CREATE EXTERNAL SCHEMA s FROM DATA CATALOG IAM_ROLE '{ROLE}'")
    stmt = spectrum.parse_create(
        f"create external schema if not exists Spec from data catalog database 'db' "
        f"iam_role '{ROLE}' create external database if not exists"
    )
    assert (stmt.schema, stmt.database, stmt.if_not_exists, stmt.create_database) == (
        "spec",
        "db",
        True,
        True,
    )
    assert iam_role_span(f"CREATE EXTERNAL SCHEMA s FROM DATA CATALOG DATABASE 'd' IAM_ROLE '{ROLE}'")
