"""The compose stack (project taxilabtest): every service healthy and answering, the whole pipeline on the
compose profile (the lab on the host against the containers' published 127.0.0.1 ports) on a small
synthetic month and on the genuine 50k-row sample, reconciled exactly with pyarrow and SQL independently
of the lab (its jobs in the stack's `glue` service); and the warehouse container stopped mid-run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import boto3
import psycopg
import pyarrow.parquet as pq
import pytest
from pyarrow import fs

pytestmark = pytest.mark.docker

SAMPLE = (
    Path(__file__).resolve().parents[2].parent
    / "shared"
    / "data"
    / "samples"
    / "yellow_tripdata_2024-02_sample50k.parquet"
)
SYNTH_MONTH, SYNTH_ROWS = "2024-05", 20_000
TAXILAB = str(Path(sys.executable).parent / "taxilab")


def _client(settings, service):
    return boto3.client(
        service,
        endpoint_url=settings.endpoint(service),
        region_name=settings.region,
        aws_access_key_id=settings.emulator_access_key,
        aws_secret_access_key=settings.emulator_secret_key,
    )


def _env(settings) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "TAXILAB_PROFILE": "compose",
            "TAXILAB_STATE_DIR": str(settings.state_dir),
            "TAXILAB_COMPOSE_PROJECT": settings.compose_project,
            "TAXILAB_SPARK__MASTER": "local[2]",
            "TAXILAB_SPARK__DRIVER_MEMORY": "2g",
        }
    )
    return env


def _pipeline(settings, month: str, source: str, rows: int = SYNTH_ROWS, **popen) -> subprocess.Popen:
    cmd = [
        TAXILAB,
        "pipeline",
        "--month",
        month,
        "--source",
        source,
        "--rows",
        str(rows),
        "--seed",
        "7",
        "--no-progress",
    ]
    return subprocess.Popen(
        cmd, env=_env(settings), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **popen
    )


def _run_pipeline(settings, month, source, rows=SYNTH_ROWS) -> str:
    p = _pipeline(settings, month, source, rows)
    out, _ = p.communicate(timeout=1200)
    assert p.returncode == 0, out[-3000:]
    return out


def _lake_rows(settings, prefix: str) -> int:
    s3fs = fs.S3FileSystem(
        endpoint_override=settings.endpoint("s3").removeprefix("http://"),
        scheme="http",
        access_key=settings.emulator_access_key,
        secret_key=settings.emulator_secret_key,
        region=settings.region,
    )
    full = f"{settings.bucket}/{prefix}"  # a key prefix (e.g. pickup_date=2024-05-): list its folder, keep the prefix
    files = [
        i
        for i in s3fs.get_file_info(fs.FileSelector(full.rsplit("/", 1)[0], recursive=True))
        if i.type == fs.FileType.File and i.path.startswith(full) and i.path.endswith(".parquet")
    ]
    return sum(pq.ParquetFile(s3fs.open_input_file(i.path)).metadata.num_rows for i in files)


def _warehouse_month_rows(settings, month: str) -> int:
    y, m = map(int, month.split("-"))
    with psycopg.connect(settings.warehouse_dsn, connect_timeout=10) as conn:
        return conn.execute(
            "SELECT count(*) FROM taxi.fct_trips WHERE pickup_datetime >= make_date(%s, %s, 1) "
            "AND pickup_datetime < make_date(%s, %s, 1) + interval '1 month'",
            [y, m, y, m],
        ).fetchone()[0]


def _reconcile(settings, month: str, source_file: Path) -> dict:
    """raw = staging + quarantine and warehouse = staging, counted here without the lab's code."""
    y, m = map(int, month.split("-"))
    raw = pq.ParquetFile(source_file).metadata.num_rows
    staging = _lake_rows(settings, f"staging/{settings.dataset}/pickup_date={month}-")
    quarantine = _lake_rows(settings, f"quarantine/{settings.dataset}/year={y}/month={m}/")
    warehouse = _warehouse_month_rows(settings, month)
    counts = {"raw": raw, "staging": staging, "quarantine": quarantine, "warehouse": warehouse}
    assert staging > 0 and raw == staging + quarantine and warehouse == staging, counts
    return counts


def _latest(settings) -> dict:
    return json.loads((settings.runs_dir / "latest.json").read_text())


def _synthetic_file(settings, month, rows) -> Path:
    return settings.cache_dir / "inputs" / "synthetic" / f"yellow_tripdata_{month}_rows{rows}_seed7.parquet"


@pytest.mark.slow
def test_every_service_is_healthy_and_answers_on_its_settings_endpoint(stack, compose_settings):
    s = compose_settings
    states = stack.states()
    expected = {"net", "localstack", "glue-catalog", "warehouse", "glue", "jupyter"}
    assert expected <= set(states), states
    assert all(states[name] == "healthy" for name in expected - {"net"}), states
    # LocalStack's own client library finds the same endpoints as the lab's settings.
    from localstack_client.session import Session

    ls = Session(
        localstack_host="127.0.0.1",
        aws_access_key_id=s.emulator_access_key,
        aws_secret_access_key=s.emulator_secret_key,
        region_name=s.region,
    )
    for service in ("s3", "sqs", "sns", "cloudwatch"):
        assert ls.client(service).meta.endpoint_url == s.endpoint(service), service
    ls.client("s3").create_bucket(Bucket="compose-smoke")
    assert "compose-smoke" in [b["Name"] for b in _client(s, "s3").list_buckets()["Buckets"]]
    assert ls.client("sqs").create_queue(QueueName="compose-smoke")["QueueUrl"]
    assert ls.client("sns").create_topic(Name="compose-smoke")["TopicArn"]
    ls.client("cloudwatch").put_metric_data(
        Namespace="taxilab", MetricData=[{"MetricName": "smoke", "Value": 1}]
    )
    _client(s, "glue").create_database(DatabaseInput={"Name": "compose_smoke"})
    assert "compose_smoke" in [d["Name"] for d in _client(s, "glue").get_databases()["DatabaseList"]]
    with psycopg.connect(s.warehouse_dsn, connect_timeout=10) as conn:
        assert conn.execute("SHOW server_version").fetchone()[0].startswith("16.")
    with urllib.request.urlopen("http://127.0.0.1:8888/api", timeout=10) as r:
        assert "version" in json.loads(r.read())
    glue = stack.containers()["glue"]
    code, out = glue.exec_run(["spark-submit", "--version"])
    assert code == 0 and b"version 3.5" in out, out[-500:]


@pytest.fixture(scope="module")
def synthetic_month(stack, compose_settings):
    out = _run_pipeline(compose_settings, SYNTH_MONTH, "synthetic")
    return out, _latest(compose_settings)


@pytest.mark.slow
def test_whole_pipeline_on_the_compose_profile_reconciles_a_synthetic_month(
    synthetic_month, compose_settings
):
    out, report = synthetic_month
    assert report["status"] == "succeeded" and report["profile"] == "compose", out[-2000:]
    assert all(c["ok"] for c in report["checks"]), report["checks"]
    counts = _reconcile(
        compose_settings, SYNTH_MONTH, _synthetic_file(compose_settings, SYNTH_MONTH, SYNTH_ROWS)
    )
    assert counts["raw"] == SYNTH_ROWS
    stages = {st["name"]: st for st in report["stages"]}
    assert (stages["etl"]["rows_in"], stages["etl"]["quarantined"]) == (counts["raw"], counts["quarantine"])
    assert stages["etl"]["detail"]["job_runner"] == "glue-container"  # the jobs ran in the glue container
    assert list(compose_settings.logs_dir.glob("jobs/*etl*.log")), "no job log in .lab/logs/jobs"


@pytest.mark.slow
def test_whole_pipeline_on_the_compose_profile_reconciles_the_50k_sample(stack, compose_settings):
    if not SAMPLE.exists():
        pytest.fail(f"the shared sample {SAMPLE} is missing")
    out = _run_pipeline(compose_settings, "2024-02", str(SAMPLE))
    report = _latest(compose_settings)
    assert report["status"] == "succeeded" and all(c["ok"] for c in report["checks"]), out[-2000:]
    counts = _reconcile(compose_settings, "2024-02", SAMPLE)
    assert counts["raw"] == 50_000


@pytest.mark.slow
def test_warehouse_container_stopped_mid_run_fails_cleanly_naming_the_service_and_a_rerun_reconciles(
    stack, compose_settings
):
    month = "2024-06"
    s = compose_settings
    wh = stack.containers()["warehouse"]
    p = _pipeline(s, month, "synthetic")
    curated_marker = f"curated/daily_summary/pickup_month={month}/"
    s3 = _client(s, "s3")
    deadline = time.monotonic() + 900
    stopped = False
    try:
        while p.poll() is None and time.monotonic() < deadline:
            if s3.list_objects_v2(Bucket=s.bucket, Prefix=curated_marker).get("KeyCount", 0):
                wh.stop(timeout=10)  # the aggregates job is done: the warehouse goes away before the load
                stopped = True
                break
            time.sleep(0.5)
        out, _ = p.communicate(timeout=900)
    finally:
        if not stopped:
            p.kill()
    assert stopped, "the run never reached its aggregates output"
    assert p.returncode != 0, out[-2000:]
    report = _latest(s)
    failed = [st for st in report["stages"] if st["status"] == "failed"]
    assert report["status"] == "failed" and len(failed) == 1, report["stages"]
    text = out + json.dumps(failed[0])
    assert "5439" in text or "warehouse" in text.lower(), out[-2000:]
    assert "Traceback" not in out, out[-3000:]
    print(
        f"\nwarehouse stopped mid-run -> stage {failed[0]['name']!r} failed: {failed[0].get('error', '')[:300]}"
    )

    wh.start()
    stack.wait_healthy(timeout=300, services=("warehouse",))
    _run_pipeline(s, month, "synthetic")
    assert _latest(s)["status"] == "succeeded"
    _reconcile(s, month, _synthetic_file(s, month, SYNTH_ROWS))
