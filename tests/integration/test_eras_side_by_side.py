"""Issue 11: TLC eras side by side in one lake. A tiny month of every era layout the lab supports goes through
the pipeline as `make pipeline` runs it (oldest first in one lake, newest first in another) and through
backfill over a range crossing an era boundary; each month reconciles, the Glue catalog keeps one table per
zone with per-partition schemas and the table versions Glue keeps, and the warehouse and Spectrum read every
month. A string column that becomes a number follows the crawler's SchemaChangePolicy (ADR 0017)."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from emulation.redshift import engine as redshift
from emulation.redshift import spectrum
from spark_jobs.io import paths
from spark_jobs.month import Month
from taxilab.core.clients import arrow_s3_filesystem, client
from taxilab.orchestration import backfill
from taxilab.orchestration.pipeline import Pipeline, PipelineOptions, StageError
from tests.integration.glue_tables import table_versions
from tests.integration.tlcfiles import table_2024, trip, write_era

pytestmark = [pytest.mark.integration, pytest.mark.timeout(2400)]

ROLE = "arn:aws:iam::123456789012:role/taxilab-spectrum"
ROWS = 240  # per month: a few hundred, over three days (few staging partitions)
# (era layout, month, tlcfiles layout): one month of every era layout the lab supports, oldest first
ERAS = [
    ("2011-2018", "2018-01", "2018"),
    ("2019-2020, null-typed airport_fee", "2019-06", "2019"),
    ("2021-2022", "2022-06", "2022"),
    ("2023-01", "2023-01", "2022"),
    ("2023-02 onward", "2024-02", "2024"),
    ("2025 onward, cbd_congestion_fee", "2025-01", "2025"),
]
# What each layout's files physically hold (shared/docs/TLC_REFERENCE.md), as Glue names the types; the
# raw partitions must keep exactly these.
PARTITION_TYPES = {
    "2018": {
        "vendorid": "bigint",
        "passenger_count": "double",
        "ratecodeid": "double",
        "pulocationid": "bigint",
        "congestion_surcharge": "void",
        "airport_fee": "double",
    },
    "2019": {
        "vendorid": "bigint",
        "passenger_count": "double",
        "ratecodeid": "double",
        "pulocationid": "bigint",
        "congestion_surcharge": "double",
        "airport_fee": "void",
    },
    "2022": {
        "vendorid": "bigint",
        "passenger_count": "double",
        "ratecodeid": "double",
        "pulocationid": "bigint",
        "congestion_surcharge": "double",
        "airport_fee": "double",
    },
    "2024": {
        "vendorid": "int",
        "passenger_count": "bigint",
        "ratecodeid": "bigint",
        "pulocationid": "int",
        "congestion_surcharge": "double",
        "airport_fee": "double",
    },
    "2025": {
        "vendorid": "int",
        "passenger_count": "bigint",
        "ratecodeid": "bigint",
        "pulocationid": "int",
        "congestion_surcharge": "double",
        "airport_fee": "double",
        "cbd_congestion_fee": "double",
    },
}
# The raw table once every era is in: each column the widest type its partitions deliver.
FINAL_RAW = {
    "vendorid": "bigint",
    "passenger_count": "double",
    "ratecodeid": "double",
    "pulocationid": "bigint",
    "dolocationid": "bigint",
    "payment_type": "bigint",
    "congestion_surcharge": "double",
    "airport_fee": "double",
    "cbd_congestion_fee": "double",
    "store_and_fwd_flag": "string",
}


def month_rows(month: str) -> list[dict]:
    """ROWS trips over the month's first three days; every 30th has negated amounts and every 45th a zero
    distance (both quarantined by the ETL's rules)."""
    m = Month.parse(month)
    rows = []
    for i in range(ROWS):
        pickup = datetime(m.year, m.month, 1 + i % 3, (i * 7) % 24, i % 60)
        over = {"minutes": 5 + i % 20}
        if i % 30 == 0:
            over |= {"fare_amount": -14.2, "total_amount": -22.2}
        if i % 45 == 0:
            over |= {"trip_distance": 0.0}
        rows.append(trip(pickup, **over))
    return rows


def dirty(rows: list[dict]) -> int:
    return sum(1 for r in rows if r["total_amount"] < 0 or r["trip_distance"] == 0)


@pytest.fixture(scope="module")
def era_files(tmp_path_factory) -> dict[str, tuple[Path, str, int]]:
    """month -> (local file in the era's physical schema, layout, rows the ETL must quarantine)."""
    d = tmp_path_factory.mktemp("era-files")
    out = {}
    for _, month, layout in ERAS:
        rows = month_rows(month)
        out[month] = (write_era(d / f"yellow_tripdata_{month}.parquet", layout, rows), layout, dirty(rows))
    return out


def run_month(settings, month: str, source: Path, **options):
    """One `make pipeline MONTH=... SOURCE=<file>` run; returns the pipeline (its report even if it failed)."""
    p = Pipeline(PipelineOptions(month, str(source), progress=False, **options), settings)
    p.run()
    return p


# ---- independent views of the lake, catalog, warehouse and Spectrum ---------------------------------------
def _rows_under(settings, prefix: str) -> int:
    fs = arrow_s3_filesystem(settings)
    total = 0
    for page in (
        client("s3", settings)
        .get_paginator("list_objects_v2")
        .paginate(Bucket=settings.bucket, Prefix=prefix)
    ):
        for o in page.get("Contents", []):
            rel = o["Key"][len(prefix) :]
            if o["Key"].endswith(".parquet") and not any(s.startswith(("_", ".")) for s in rel.split("/")):
                with fs.open_input_file(f"{settings.bucket}/{o['Key']}") as f:
                    total += pq.ParquetFile(f).metadata.num_rows
    return total


def lake_counts(settings, month: str) -> tuple[int, int, int]:
    """(raw, staging, quarantine) rows of a month, read from the Parquet footers in S3."""
    m = Month.parse(month)
    raw = _rows_under(settings, paths.raw_month_prefix(settings.dataset, month))
    staging = _rows_under(settings, f"{paths.staging_prefix(settings.dataset)}pickup_date={month}-")
    quarantine = _rows_under(settings, paths.quarantine_month_prefix(settings.dataset, m.year, m.month))
    return raw, staging, quarantine


def glue_tables(settings, zone: str) -> list[str]:
    glue = client("glue", settings)
    return sorted(
        t["Name"]
        for page in glue.get_paginator("get_tables").paginate(DatabaseName=settings.catalog_databases[zone])
        for t in page["TableList"]
    )


def partition_types(settings, zone: str) -> dict[tuple[str, ...], dict[str, str]]:
    glue = client("glue", settings)
    return {
        tuple(p["Values"]): {c["Name"].lower(): c["Type"] for c in p["StorageDescriptor"]["Columns"]}
        for page in glue.get_paginator("get_partitions").paginate(
            DatabaseName=settings.catalog_databases[zone], TableName="nyc_taxi"
        )
        for p in page["Partitions"]
    }


def table_types(settings, zone: str) -> dict[str, str]:
    t = client("glue", settings).get_table(DatabaseName=settings.catalog_databases[zone], Name="nyc_taxi")[
        "Table"
    ]
    return {c["Name"].lower(): c["Type"] for c in t["StorageDescriptor"]["Columns"]}


def warehouse_rows(pg, month: str) -> int:
    start, end = Month.parse(month).bounds()
    return pg.execute(
        "SELECT count(*) FROM taxi.fct_trips WHERE pickup_date >= %s AND pickup_date < %s", [start, end]
    ).fetchone()[0]


def spectrum_counts(pg, settings) -> tuple[dict[str, tuple[int, Decimal]], dict[str, int]]:
    """Through Spectrum (CREATE EXTERNAL SCHEMA ... FROM DATA CATALOG): raw rows and sum(total_amount) per
    month over every era's files, and staging rows per month."""
    names = {z: f"spectrum_eras_{z}_{uuid.uuid4().hex[:6]}" for z in ("raw", "staging")}
    try:
        for zone, name in names.items():
            redshift.execute(
                pg,
                settings,
                f"CREATE EXTERNAL SCHEMA {name} FROM DATA CATALOG DATABASE "
                f"'{settings.catalog_databases[zone]}' IAM_ROLE '{ROLE}' REGION 'us-east-1';",
            )
        raw = {
            f"{y:04d}-{m:02d}": (n, Decimal(str(round(t, 2))))
            for y, m, n, t in redshift.execute(
                pg,
                settings,
                f"SELECT year, month, count(*), sum(total_amount) FROM {names['raw']}.nyc_taxi "
                "GROUP BY year, month ORDER BY year, month",
            ).rows
        }
        staging = {
            str(m): n
            for m, n in redshift.execute(
                pg,
                settings,
                f"SELECT to_char(pickup_date, 'YYYY-MM') AS m, count(*) FROM {names['staging']}.nyc_taxi "
                "GROUP BY 1 ORDER BY 1",
            ).rows
        }
        return raw, staging
    finally:
        pg.rollback()
        for name in names.values():
            if spectrum.is_external(pg, name):
                spectrum.drop_external_schema(pg, spectrum.DropSchema(name, cascade=True))
        pg.commit()


def check_lake(settings, pg, era_files, months: list[str]) -> None:
    """Every month reconciles (raw = staging + quarantine, quarantine = the rows built dirty, the warehouse
    holds the staged rows) and Spectrum reads every month; the catalog keeps one table per zone, and each
    raw partition the schema of its era's files."""
    for month in months:
        source, _, bad = era_files[month]
        raw, staging, quarantine = lake_counts(settings, month)
        assert raw == pq.read_metadata(source).num_rows, month
        assert (raw, quarantine) == (staging + quarantine, bad), month
        assert warehouse_rows(pg, month) == staging, month
    sp_raw, sp_staging = spectrum_counts(pg, settings)
    for month in months:
        source, _, _ = era_files[month]
        t = pq.read_table(source, columns=["total_amount"]).column(0).to_pylist()
        assert sp_raw[month] == (len(t), Decimal(str(round(sum(t), 2)))), month
        assert sp_staging[month] == lake_counts(settings, month)[1], month
    assert (
        glue_tables(settings, "raw")
        == glue_tables(settings, "staging")
        == glue_tables(settings, "quarantine")
        == ["nyc_taxi"]
    )
    raw_parts = partition_types(settings, "raw")
    for _, month, layout in ERAS:
        if month in months:
            m = Month.parse(month)
            got = raw_parts[(f"{m.year:04d}", f"{m.month:02d}")]
            assert {k: got.get(k) for k in PARTITION_TYPES[layout]} == PARTITION_TYPES[layout], month
            assert ("cbd_congestion_fee" in got) == (layout == "2025"), month
    # staging is conformed: every partition's schema is the table's, which never changed
    staging_table = table_types(settings, "staging")
    assert all(cols == staging_table for cols in partition_types(settings, "staging").values())
    assert len(table_versions(settings, "staging")) == 1


def crawl_detail(p, zone: str) -> dict:
    return p.report.get("crawl").detail[f"{p.settings.catalog_databases[zone]}.nyc_taxi"]


def assert_completed(p) -> None:
    rep = p.report
    assert rep.status == "succeeded", (rep.month, rep.error)
    assert rep.checks and all(c.ok for c in rep.checks), [c for c in rep.checks if not c.ok]
    assert "schema_conflicts" not in rep.get("crawl").detail


# ---- the tests --------------------------------------------------------------------------------------------
def test_every_era_oldest_first_through_the_pipeline(fresh_lake, spark, pg, era_files):
    s = fresh_lake("taxilab-eras-old", "it_eras_old")
    runs = {}
    for _, month, _ in ERAS:
        runs[month] = run_month(s, month, era_files[month][0])
        assert_completed(runs[month])
    check_lake(s, pg, era_files, [m for _, m, _ in ERAS])
    # versions Glue keeps: created from 2018 (its void congestion_surcharge left out), 2019 types
    # congestion_surcharge, 2025 adds cbd_congestion_fee; the narrower 2023-02+ integers change nothing
    v = table_versions(s, "raw")
    assert len(v) == 3
    assert (
        "congestion_surcharge" not in v[0]
        and v[0]["vendorid"] == "bigint"
        and "cbd_congestion_fee" not in v[0]
    )
    assert set(v[1]) - set(v[0]) == {"congestion_surcharge"} and "cbd_congestion_fee" not in v[1]
    assert set(v[2]) - set(v[1]) == {"cbd_congestion_fee"}
    assert {k: v[2][k] for k in FINAL_RAW} == FINAL_RAW == {k: table_types(s, "raw")[k] for k in FINAL_RAW}
    assert crawl_detail(runs["2019-06"], "raw")["new_columns"] == ["congestion_surcharge"]
    assert crawl_detail(runs["2025-01"], "raw")["new_columns"] == ["cbd_congestion_fee"]
    assert "widened" not in crawl_detail(runs["2024-02"], "raw")


def test_every_era_newest_first_through_the_pipeline(fresh_lake, spark, pg, era_files):
    """Newest first: 2024-02 before 2023-01 and 2018-01 is the order that failed the crawl before issue 11."""
    s = fresh_lake("taxilab-eras-new", "it_eras_new")
    runs = {}
    for _, month, _ in reversed(ERAS):
        runs[month] = run_month(s, month, era_files[month][0])
        assert_completed(runs[month])
    check_lake(s, pg, era_files, [m for _, m, _ in ERAS])
    # created from 2025 (int32 IDs, int64 counts), widened once when the 2011-2023-01 layout arrived
    v = table_versions(s, "raw")
    assert len(v) == 2
    assert (v[0]["vendorid"], v[0]["passenger_count"], v[0]["cbd_congestion_fee"]) == (
        "int",
        "bigint",
        "double",
    )
    assert {k: v[1][k] for k in FINAL_RAW} == FINAL_RAW == {k: table_types(s, "raw")[k] for k in FINAL_RAW}
    assert set(crawl_detail(runs["2023-01"], "raw")["widened"]) == {
        "VendorID int -> bigint",
        "passenger_count bigint -> double",
        "RatecodeID bigint -> double",
        "PULocationID int -> bigint",
        "DOLocationID int -> bigint",
    }
    for month in ("2022-06", "2019-06", "2018-01"):
        assert "widened" not in crawl_detail(runs[month], "raw"), month


def test_backfill_over_a_range_crossing_an_era_boundary(fresh_lake, spark, pg, era_files, tmp_path):
    """2023-01 (the last 2011-2023-01 month: int64 IDs, lower-case airport_fee) and 2023-02 (the 2024 layout)."""
    s = fresh_lake("taxilab-eras-bf", "it_eras_bf", state_dir=tmp_path / "bf-state")
    files = {"2023-01": era_files["2023-01"]}
    rows = month_rows("2023-02")
    files["2023-02"] = (
        write_era(tmp_path / "yellow_tripdata_2023-02.parquet", "2024", rows),
        "2024",
        dirty(rows),
    )
    for month, (path, _, _) in files.items():
        backfill.land(s, month, str(path), ROWS)
    results = backfill.backfill(s, "2023-01", "2023-02", spark_factory=lambda: spark)
    assert [(r.month, r.status) for r in results] == [("2023-01", "COMPLETED"), ("2023-02", "COMPLETED")], (
        results
    )
    check_lake(s, pg, files, ["2023-01", "2023-02"])
    parts = partition_types(s, "raw")
    assert (parts[("2023", "01")]["vendorid"], parts[("2023", "02")]["vendorid"]) == ("bigint", "int")
    assert len(table_versions(s, "raw")) == 1  # the narrower 2023-02 integers fit the 2023-01 table


def with_note(path: Path, month: str, note: pa.Array) -> Path:
    """A 2023-02+ file with one extra column `trip_note` (ingest accepts it; the ETL drops it)."""
    t = table_2024(month_rows(month)[: len(note)])
    pq.write_table(t.append_column("trip_note", note), path)
    return path


def test_a_string_column_turning_numeric_follows_the_schema_change_policy(fresh_lake, spark, pg, tmp_path):
    s = fresh_lake("taxilab-eras-conflict", "it_eras_conflict")
    n = 60
    good = with_note(tmp_path / "may.parquet", "2023-05", pa.array([f"n{i}" for i in range(n)]))
    assert_completed(run_month(s, "2023-05", good))
    bad = with_note(tmp_path / "jun-bad.parquet", "2023-06", pa.array(range(n), pa.int64()))

    # declared policy (UPDATE_IN_DATABASE) cannot absorb it: the crawl fails naming the conflict, the
    # stages before it are kept and the report says what is half-done and how to repair it
    p = Pipeline(PipelineOptions("2023-06", str(bad), progress=False), s)
    with pytest.raises(StageError) as e:
        p.run()
    raw_db = s.catalog_databases["raw"]
    conflict = (
        f"{raw_db}.nyc_taxi: column 'trip_note' changed type from string to bigint in year=2023/month=06"
    )
    assert e.value.stage == "crawl" and conflict in str(e.value) and "SchemaConflictError" in str(e.value)
    assert [(st.name, st.status) for st in p.report.stages] == [
        ("services", "succeeded"),
        ("ingest", "succeeded"),
        ("etl", "succeeded"),
        ("aggregates", "succeeded"),
        ("crawl", "failed"),
    ]
    assert p.report.get("crawl").detail["schema_conflicts"] == [conflict]
    half = (
        "half-done for 2023-06: staging and quarantine written, curated aggregates written; catalog not "
        "updated, warehouse not loaded, not reconciled: rerun `make pipeline MONTH=2023-06`"
    )
    assert any(note.startswith(half) for note in p.report.notes), p.report.notes
    assert p.report.get("crawl").detail["half_done"].startswith(half)
    raw, staging, quarantine = lake_counts(s, "2023-06")
    assert raw == n and staging + quarantine == n and staging > 0  # staging kept
    assert warehouse_rows(pg, "2023-06") == 0  # not loaded
    assert table_types(s, "raw")["trip_note"] == "string" and len(table_versions(s, "raw")) == 1
    assert partition_types(s, "raw")[("2023", "06")]["trip_note"] == "bigint"

    # UpdateBehavior LOG: logged and reported by name, the table untouched, the month completes
    p = run_month(s, "2023-06", bad, schema_change_policy={"UpdateBehavior": "LOG"})
    assert p.report.status == "succeeded" and all(c.ok for c in p.report.checks)
    assert p.report.get("crawl").detail["schema_conflicts"] == [conflict]
    assert any(conflict in note and "UpdateBehavior LOG" in note for note in p.report.notes)
    assert table_types(s, "raw")["trip_note"] == "string" and len(table_versions(s, "raw")) == 1
    assert warehouse_rows(pg, "2023-06") == lake_counts(s, "2023-06")[1]

    # the file fixed (replaced as a new version of the raw object): the next run, on the declared policy,
    # completes the month with no conflict left, the partition following its files again
    fixed = with_note(tmp_path / "jun-fixed.parquet", "2023-06", pa.array([f"n{i}" for i in range(n)]))
    p = run_month(s, "2023-06", fixed)
    assert_completed(p)
    assert crawl_detail(p, "raw")["updated"] == 1
    assert partition_types(s, "raw")[("2023", "06")]["trip_note"] == "string"
    raw, staging, quarantine = lake_counts(s, "2023-06")
    assert raw == n and warehouse_rows(pg, "2023-06") == staging and staging + quarantine == n
