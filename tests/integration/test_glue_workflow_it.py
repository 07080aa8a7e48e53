"""The declared Glue workflow run locally on real Spark with job bookmarks, and the same definitions
deployed through the Glue API of the moto server."""

from __future__ import annotations

import json

import pyarrow.parquet as pq
import pytest

from emulation.glue import bookmarks, crawler, workflow
from spark_jobs.io import paths
from taxilab import catalog
from taxilab.core import jobgraph as definitions
from taxilab.core.clients import arrow_s3_filesystem, client
from taxilab.ingest import raw
from taxilab.orchestration.jobs import run_workflow
from taxilab.validation import lakestats

MONTH = "2024-02"  # the genuine sample's month, in a bucket of its own


@pytest.fixture()
def glue_lab(fresh_lake, tmp_path):
    return fresh_lake("taxilab-wf", "wf", state_dir=tmp_path / "state")


def lake_only(tmp_path):
    """The repo's workflow up to the crawler: 2024-02 is the pipeline tests' warehouse month, so these runs
    leave the warehouse alone (the backfill test runs the whole graph on months of its own)."""
    raw_defs = json.loads(definitions.DEFINITIONS.read_text())
    keep = {"taxilab-etl", "taxilab-aggregates"}
    raw_defs["jobs"] = [j for j in raw_defs["jobs"] if j["name"] in keep]
    raw_defs["workflow"]["triggers"] = [
        t
        for t in raw_defs["workflow"]["triggers"]
        if all(a.get("job", "") in keep or "crawler" in a for a in t["actions"])
    ]
    p = tmp_path / "lake_only.json"
    p.write_text(json.dumps(raw_defs))
    return definitions.load(p)


def land_slice(settings, sample_file, name: str, start: int, rows: int) -> None:
    table = pq.read_table(sample_file).slice(start, rows)
    key = paths.raw_month_prefix(settings.dataset, MONTH) + name
    pq.write_table(table, f"{settings.bucket}/{key}", filesystem=arrow_s3_filesystem(settings))


def reconciles(settings) -> tuple[int, int, int]:
    r, st = lakestats.raw_stats(settings, MONTH), lakestats.staging_stats(settings, MONTH)
    q, _ = lakestats.quarantine_stats(settings, MONTH)
    return r.rows, st.rows, q.rows


def test_bookmarked_workflow_processes_only_new_raw_objects_and_catalogs_them(
    glue_lab, spark, sample_file, tmp_path
):
    defs = lake_only(tmp_path)
    raw.land_zone_lookup(glue_lab)
    land_slice(glue_lab, sample_file, "drop-a.parquet", 0, 400)
    first = run_workflow(glue_lab, MONTH, defs, spark_factory=lambda: spark)
    assert [(r.job, r.state) for r in first.runs] == [
        ("taxilab-etl", "SUCCEEDED"),
        ("taxilab-aggregates", "SUCCEEDED"),
        ("taxilab-crawler", "SUCCEEDED"),
    ]
    assert first.runs[0].metrics["bookmark"]["objects_processed"] == 1
    rows, staged, quarantined = reconciles(glue_lab)
    assert rows == 400 and staged + quarantined == 400

    land_slice(glue_lab, sample_file, "drop-b.parquet", 400, 300)
    second = run_workflow(glue_lab, MONTH, defs, spark_factory=lambda: spark)
    etl_run = second.runs[0]
    assert etl_run.metrics["bookmark"] == {
        "option": "job-bookmark-enable",
        "objects_seen": 2,
        "objects_processed": 1,
        "whole_month": False,
    }
    assert etl_run.metrics["rows_in"] == 300
    rows, staged, quarantined = reconciles(glue_lab)
    assert rows == 700 and staged + quarantined == 700  # drop-a's rows kept, drop-b's added once

    # nothing new: the etl run reads nothing, and the lake is unchanged
    third = run_workflow(glue_lab, MONTH, defs, spark_factory=lambda: spark)
    assert third.runs[0].metrics["rows_in"] == 0
    assert reconciles(glue_lab) == (700, staged, quarantined)

    # the crawler at the end of each run keeps the catalog in step with the lake
    tables = {(d.name, t.name): t for d in catalog.describe(glue_lab) for t in d.tables}
    staging = tables[(glue_lab.catalog_databases["staging"], "nyc_taxi")]
    assert staging.partitions > 0 and (glue_lab.catalog_databases["curated"], "daily_summary") in tables


def test_failed_etl_run_keeps_the_bookmark_and_fires_nothing(glue_lab, spark, sample_file, tmp_path):
    raw.land_zone_lookup(glue_lab)
    key = paths.raw_month_prefix(glue_lab.dataset, MONTH) + "broken.parquet"
    client("s3", glue_lab).put_object(Bucket=glue_lab.bucket, Key=key, Body=b"not parquet at all")
    wf = run_workflow(glue_lab, MONTH, lake_only(tmp_path), spark_factory=lambda: spark, backoff_s=0.01)
    assert [r.state for r in wf.runs] == ["FAILED", "FAILED"]  # max_retries 1: two attempts, no successor
    assert "broken.parquet" in wf.runs[-1].error
    assert bookmarks.load(glue_lab, "taxilab-etl")["contexts"] == {}
    hist = workflow.history(glue_lab, "taxilab-etl")
    assert [h["attempt"] for h in hist] == [0, 1]


def test_definitions_deploy_through_the_glue_api_and_read_back(glue_lab):
    d = definitions.load()
    kw = definitions.to_aws(d, glue_lab, "arn:aws:iam::123456789012:role/taxilab-glue", "scripts")
    glue = client("glue", glue_lab)
    definitions.deploy(glue, kw)
    definitions.deploy(glue, kw)  # a second deploy updates in place
    job = glue.get_job(JobName="taxilab-etl")["Job"]
    assert (job["GlueVersion"], job["WorkerType"], job["NumberOfWorkers"]) == ("5.0", "G.1X", 4)
    assert job["Command"]["ScriptLocation"] == f"s3://{glue_lab.bucket}/scripts/spark_jobs/jobs/etl.py"
    assert job["DefaultArguments"]["--job-bookmark-option"] == "job-bookmark-enable"
    assert job["DefaultArguments"]["--bucket"] == glue_lab.bucket
    start = glue.get_trigger(Name="taxilab-start")["Trigger"]
    assert (start["Type"], start["Schedule"]) == ("SCHEDULED", "cron(15 12 * * ? *)")
    after = glue.get_trigger(Name="taxilab-after-etl")["Trigger"]
    assert after["Predicate"]["Conditions"][0]["JobName"] == "taxilab-etl"
    assert after["Actions"] == [{"JobName": "taxilab-aggregates"}]
    wh = glue.get_job(JobName="taxilab-load-warehouse")["Job"]
    assert (wh["Command"]["Name"], wh["GlueVersion"], wh["WorkerType"], wh["NumberOfWorkers"]) == (
        "glueetl",
        "5.0",
        "G.1X",
        2,
    )
    assert wh["Command"]["ScriptLocation"] == f"s3://{glue_lab.bucket}/scripts/taxilab/warehouse/glue_job.py"
    assert wh["DefaultArguments"]["--step"] == "load"
    assert wh["DefaultArguments"]["--job-bookmark-option"] == "job-bookmark-disable"
    after_crawl = glue.get_trigger(Name="taxilab-after-crawler")["Trigger"]
    assert {c["CrawlerName"] for c in after_crawl["Predicate"]["Conditions"]} == {
        f"taxilab-crawler-{z}" for z in crawler.ZONES
    }
    assert after_crawl["Actions"] == [{"JobName": "taxilab-load-warehouse"}]
    assert glue.get_trigger(Name="taxilab-after-load-warehouse")["Trigger"]["Actions"] == [
        {"JobName": "taxilab-validate"}
    ]
    assert (
        glue.get_trigger(Name="taxilab-after-load-warehouse")["Trigger"]["WorkflowName"] == "taxilab-monthly"
    )
    cr = glue.get_crawler(Name="taxilab-crawler-staging")["Crawler"]
    assert cr["DatabaseName"] == glue_lab.catalog_databases["staging"]
    assert cr["Targets"]["S3Targets"][0]["Path"] == f"s3://{glue_lab.bucket}/staging/"
