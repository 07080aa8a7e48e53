"""The whole pipeline on the embedded services: a small synthetic month, a rerun, and the genuine
50k-row Feb 2024 sample checked against an independent DuckDB computation over the same file."""

from __future__ import annotations

import json
from decimal import Decimal

import pyarrow.parquet as pq
import pytest
from pyarrow.fs import FileSelector

from spark_jobs.io import paths
from spark_jobs.schemas.contracts import CURATED
from taxilab.core import clients as aws
from taxilab.orchestration.pipeline import Pipeline, PipelineOptions, RunInProgress, month_lock
from taxilab.reference import run_reference
from taxilab.validation import lakestats
from taxilab.warehouse.loader import connect

pytestmark = pytest.mark.integration

SYNTH_ROWS = 120_000  # large enough for the generator to place every kind of dirt at least once


def run_pipeline(settings, month, source, rows=SYNTH_ROWS):
    return Pipeline(PipelineOptions(month, source, rows, 7, progress=False), settings=settings).run()


@pytest.fixture(scope="module")
def synthetic_run(lab_settings, spark):
    return run_pipeline(lab_settings, "2024-03", "synthetic")


def test_synthetic_month_runs_every_stage_and_reconciles_exactly(synthetic_run):
    rep = synthetic_run
    assert rep.status == "succeeded"
    assert [s.name for s in rep.stages] == [
        "services",
        "ingest",
        "etl",
        "aggregates",
        "crawl",
        "warehouse",
        "validate",
    ]
    assert all(s.status == "succeeded" for s in rep.stages)
    assert rep.checks and all(c.ok for c in rep.checks), [c for c in rep.checks if not c.ok]
    etl = rep.get("etl")
    assert etl.rows_in == SYNTH_ROWS
    assert etl.rows_out + etl.quarantined == SYNTH_ROWS
    # the generator's dirt must be caught, each kind under its own reason
    for code in (
        "NEGATIVE_AMOUNT",
        "ZERO_DISTANCE",
        "PICKUP_OUTSIDE_MONTH",
        "NON_POSITIVE_DURATION",
        "DURATION_OVER_24H",
        "DISTANCE_OVER_100MI",
        "FARE_OUTLIER",
    ):
        assert etl.quarantined_by_reason.get(code, 0) > 0, code
    # quarantine is a few percent, as on real TLC months, not a wholesale rejection
    assert 0.01 < etl.quarantined / SYNTH_ROWS < 0.08


def test_run_report_is_written_as_json_to_a_stable_path(synthetic_run, lab_settings):
    latest = json.loads((lab_settings.runs_dir / "latest.json").read_text())
    assert latest["run_id"] == synthetic_run.run_id
    assert (lab_settings.runs_dir / f"{synthetic_run.run_id}.json").exists()
    by_stage = {s["name"]: s for s in latest["stages"]}
    for name in ("ingest", "etl", "aggregates", "warehouse"):
        assert by_stage[name]["rows_in"] is not None and by_stage[name]["seconds"] > 0
        assert Decimal(by_stage[name]["total_amount"]) > 0
    assert latest["seconds"] >= sum(s["seconds"] for s in latest["stages"]) * 0.99


def test_quarantined_rows_keep_reason_codes_and_source_file(synthetic_run, lab_settings):
    d = lakestats._dataset(lab_settings, paths.quarantine_prefix(lab_settings.dataset))
    t = d.to_table(filter=(lakestats.ds.field("year") == 2024) & (lakestats.ds.field("month") == 3))
    assert t.num_rows == synthetic_run.get("etl").quarantined
    rows = t.select(["reason_codes", "primary_reason", "source_file"]).to_pylist()
    assert all(r["reason_codes"] and r["primary_reason"] == r["reason_codes"].split(",")[0] for r in rows)
    assert {r["source_file"] for r in rows} == {
        paths.s3_url(
            lab_settings.bucket,
            paths.raw_month_prefix("nyc_taxi", "2024-03") + "yellow_tripdata_2024-03.parquet",
        )
    }


def test_staging_is_partitioned_by_date_and_time_of_day_with_one_file_each(synthetic_run, lab_settings):
    s3 = aws.client("s3", lab_settings)
    keys = [
        o["Key"]
        for p in s3.get_paginator("list_objects_v2").paginate(
            Bucket=lab_settings.bucket, Prefix="staging/nyc_taxi/pickup_date=2024-03-"
        )
        for o in p.get("Contents", [])
    ]
    parts = {k.rsplit("/", 1)[0] for k in keys if k.endswith(".parquet")}
    assert len(parts) == 31 * 5
    assert len([k for k in keys if k.endswith(".parquet")]) == len(parts)
    assert all("/time_of_day_category=" in p for p in parts)


def test_curated_grouping_columns_are_real_columns_in_the_files(synthetic_run, lab_settings):
    fs = aws.arrow_s3_filesystem(lab_settings)
    for name, table in CURATED.items():
        base = f"{lab_settings.bucket}/{paths.curated_month_prefix(name, '2024-03')}"
        files = [f.path for f in fs.get_file_info(FileSelector(base)) if f.path.endswith(".parquet")]
        assert files, name
        schema = pq.read_schema(fs.open_input_file(files[0]))
        for key in table.keys:
            assert key in schema.names, (name, key)


def test_rerun_on_same_input_is_idempotent(synthetic_run, lab_settings):
    before = json.loads(json.dumps(synthetic_run.to_dict(), default=str))
    again = run_pipeline(lab_settings, "2024-03", "synthetic")
    assert again.status == "succeeded"
    assert again.get("ingest").detail["action"] == "unchanged"
    for stage in ("etl", "aggregates", "warehouse"):
        b = next(s for s in before["stages"] if s["name"] == stage)
        a = again.get(stage)
        assert (a.rows_in, a.rows_out, str(a.total_amount)) == (
            b["rows_in"],
            b["rows_out"],
            b["total_amount"],
        ), stage
    with connect(lab_settings) as conn:
        n = conn.execute(
            "select count(*) from taxi.fct_trips where pickup_date between '2024-03-01' and '2024-03-31'"
        ).fetchone()[0]
    assert n == again.get("etl").rows_out


def test_second_run_for_the_same_month_is_refused_while_one_runs(lab_settings):
    with month_lock(lab_settings, "2024-05"):
        with pytest.raises(RunInProgress, match="already in progress"):
            run_pipeline(lab_settings, "2024-05", "synthetic", rows=10)


def test_missing_source_file_fails_naming_stage_and_input(lab_settings):
    from taxilab.orchestration.pipeline import StageError

    with pytest.raises(StageError) as e:
        run_pipeline(lab_settings, "2024-06", "/nonexistent/trips.parquet")
    assert e.value.stage == "ingest"
    assert "/nonexistent/trips.parquet" in str(e.value)
    assert "what to do" in str(e.value)


# ---- genuine TLC rows ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sample_run(lab_settings, spark, sample_file):
    return run_pipeline(lab_settings, "2024-02", str(sample_file))


@pytest.fixture(scope="module")
def reference(sample_file, lab_settings, tmp_path_factory):
    import duckdb

    from taxilab.reference import build

    con = duckdb.connect()
    build(con, sample_file, lab_settings.zone_lookup_path, "2024-02")
    yield con
    con.close()


def test_sample_reconciles_and_matches_independent_duckdb_counts(sample_run, sample_file, lab_settings):
    assert sample_run.status == "succeeded"
    assert all(c.ok for c in sample_run.checks)
    ref = run_reference(sample_file, lab_settings.zone_lookup_path, "2024-02")
    etl = sample_run.get("etl")
    assert etl.rows_in == ref["raw_rows"] == 50_000
    assert etl.rows_out == ref["accepted"]
    assert etl.quarantined == ref["rejected"]
    assert sample_run.get("aggregates").detail["tables"] == ref["tables"]


def _pg_rows(settings, sql):
    with connect(settings) as conn:
        return conn.execute(sql).fetchall()


def test_sample_daily_trips_and_revenue_match_duckdb(sample_run, reference, lab_settings):
    ref = reference.execute(
        "select pickup_date, trip_count, total_revenue, total_tips from daily_summary order by 1"
    ).fetchall()
    got = _pg_rows(
        lab_settings,
        "select pickup_date, trip_count, total_revenue, total_tips from taxi.daily_summary "
        "where pickup_month = '2024-02' order by 1",
    )
    assert [(d, n, Decimal(r), Decimal(t)) for d, n, r, t in ref] == got


def test_sample_payment_mix_matches_duckdb(sample_run, reference, lab_settings):
    ref = reference.execute(
        "select payment_type, sum(trip_count), sum(total_tips), sum(tipped_trips) "
        "from payment_analysis group by 1 order by 1"
    ).fetchall()
    got = _pg_rows(
        lab_settings,
        "select payment_type, sum(trip_count), sum(total_tips), sum(tipped_trips) "
        "from taxi.payment_analysis where pickup_month = '2024-02' group by 1 order by 1",
    )
    assert [(p, int(n), Decimal(t), int(k)) for p, n, t, k in ref] == [
        (p, int(n), t, int(k)) for p, n, t, k in got
    ]


def test_sample_top_pickup_zones_match_duckdb(sample_run, reference, lab_settings):
    ref = reference.execute(
        "select pu_zone, pu_borough, sum(trip_count) n, sum(total_revenue) from location_analysis "
        "group by 1, 2 order by n desc, 1 limit 10"
    ).fetchall()
    got = _pg_rows(
        lab_settings,
        "select pu_zone, pu_borough, sum(trip_count) n, sum(total_revenue) from taxi.location_analysis "
        "where pickup_month = '2024-02' group by 1, 2 order by n desc, 1 limit 10",
    )
    assert [(z, b, int(n), Decimal(r)) for z, b, n, r in ref] == [(z, b, int(n), r) for z, b, n, r in got]
    assert any(z == "JFK Airport" for z, *_ in got)


def test_sample_hourly_average_speed_matches_duckdb(sample_run, reference, lab_settings):
    ref = dict(
        reference.execute("select pickup_hour, sum(trip_count) from hourly_patterns group by 1").fetchall()
    )
    got = dict(
        _pg_rows(
            lab_settings,
            "select pickup_hour, sum(trip_count) from taxi.hourly_patterns "
            "where pickup_month = '2024-02' group by 1",
        )
    )
    assert {h: int(n) for h, n in ref.items()} == {h: int(n) for h, n in got.items()}
    ref_speed = reference.execute("select avg(avg_speed_mph) from accepted").fetchone()[0]
    got_speed = _pg_rows(
        lab_settings,
        "select avg(avg_speed_mph) from taxi.fct_trips "
        "where pickup_date between '2024-02-01' and '2024-02-29'",
    )[0][0]
    assert got_speed == pytest.approx(ref_speed, rel=1e-9)


def test_a_different_file_for_the_same_month_becomes_a_new_raw_version(sample_run, lab_settings):
    assert sample_run.get("ingest").detail["action"] in ("uploaded", "new-version")
    s3 = aws.client("s3", lab_settings)
    key = paths.raw_month_prefix("nyc_taxi", "2024-02") + "yellow_tripdata_2024-02.parquet"
    before = len(s3.list_object_versions(Bucket=lab_settings.bucket, Prefix=key).get("Versions", []))
    run = run_pipeline(lab_settings, "2024-02", "synthetic", rows=5_000)
    assert run.get("ingest").detail["action"] == "new-version"
    versions = s3.list_object_versions(Bucket=lab_settings.bucket, Prefix=key)["Versions"]
    assert len(versions) == before + 1
    assert run.status == "succeeded" and all(c.ok for c in run.checks)
    # staging for the month now holds the new file's rows only (stale partitions removed)
    assert lakestats.staging_stats(lab_settings, "2024-02").rows == run.get("etl").rows_out


def test_a_zone_holding_only_a_folder_marker_counts_as_empty(lab_settings):
    # S3A leaves a bare "dir/" marker when a first write is killed before commit.
    settings = lab_settings.model_copy(update={"bucket": "taxilab-it-markers"})
    s3 = aws.client("s3", settings)
    s3.create_bucket(Bucket=settings.bucket)
    s3.put_object(Bucket=settings.bucket, Key=paths.staging_prefix(settings.dataset), Body=b"")
    s3.put_object(Bucket=settings.bucket, Key=paths.quarantine_prefix(settings.dataset), Body=b"")
    assert lakestats.staging_stats(settings, "2024-08").rows == 0
    assert lakestats.quarantine_stats(settings, "2024-08")[0].rows == 0


def test_spectrum_reads_the_pipelines_staging_on_the_lake_and_agrees_with_fct_trips(sample_run, lab_settings):
    from emulation.redshift import engine as redshift

    db = lab_settings.catalog_databases["staging"]
    with connect(lab_settings) as conn:
        redshift.execute(conn, lab_settings, "DROP SCHEMA IF EXISTS spectrum_it CASCADE")
        redshift.execute(
            conn,
            lab_settings,
            f"CREATE EXTERNAL SCHEMA spectrum_it FROM DATA CATALOG DATABASE '{db}' "
            "IAM_ROLE 'arn:aws:iam::123456789012:role/lab-spectrum'",
        )
        [table] = [
            r[0]
            for r in conn.execute(
                "SELECT tablename FROM lab_meta.external_tables WHERE schemaname = 'spectrum_it'"
            ).fetchall()
        ]
        lake = redshift.execute(
            conn,
            lab_settings,
            f"SELECT count(*), sum(total_amount) FROM spectrum_it.{table} WHERE pickup_date = '2024-02-10'",
        ).rows
        wh = conn.execute(
            "SELECT count(*), sum(total_amount) FROM taxi.fct_trips WHERE pickup_date = '2024-02-10'"
        ).fetchall()
    assert lake == wh and lake[0][0] > 0
    # The pipeline's crawl stage rebuilds the external schema's views from the catalog.
    p = Pipeline(PipelineOptions("2024-02", "synthetic", 0, 1, progress=False), settings=lab_settings)
    p.crawl()
    assert p.report.get("crawl").detail["spectrum_external_tables"]["spectrum_it"] >= 1
