"""The job scripts inside the Glue job container (spark-submit, as Glue calls them) against the S3 emulator
in its own container, both started here with testcontainers on a free loopback port (independent of
the compose stack's fixed ports). The Spark/S3A configuration comes from the settings on the host;
the result is reconciled exactly with pyarrow, independently of Spark."""

from __future__ import annotations

import socket
import time

import boto3
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest
from pyarrow import fs

from taxilab.core.settings import PROJECT_ROOT, load_settings
from taxilab.ingest.synthetic import generate_month
from taxilab.resources.container_jobs import ContainerJobError, ContainerJobRunner

pytestmark = pytest.mark.docker

MONTH, YEAR, MON = "2024-03", 2024, 3
ROWS = 20_000
BUCKET = "jobs-in-container"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _image(lab_stack_def, service: str) -> str:
    return lab_stack_def.config()["services"][service]["image"]


@pytest.fixture(scope="module")
def job_env(lab_images, lab_stack_def, docker_engine, tmp_path_factory):
    from testcontainers.core.container import DockerContainer

    port = _free_port()
    s3_image = _image(lab_stack_def, "localstack")
    s3 = DockerContainer(s3_image).with_kwargs(network_mode="host")
    if s3_image.startswith("localstack/"):
        s3 = s3.with_env("GATEWAY_LISTEN", f"127.0.0.1:{port}").with_env("SERVICES", "s3")
    else:
        s3 = s3.with_env("MOTO_HOST", "127.0.0.1").with_env("MOTO_PORT", str(port))
    glue = (
        DockerContainer(_image(lab_stack_def, "glue"))
        .with_kwargs(network_mode="host")
        .with_volume_mapping(str(PROJECT_ROOT / "spark_jobs"), "/opt/taxilab/spark_jobs", "ro")
    )
    endpoint = f"http://127.0.0.1:{port}"
    state = tmp_path_factory.mktemp("jobs-in-container")
    settings = load_settings(
        profile="compose",
        state_dir=state,
        bucket=BUCKET,
        endpoints={k: endpoint for k in ("s3", "sqs", "sns", "cloudwatch", "glue")},
        spark={"master": "local[2]", "driver_memory": "2g", "shuffle_partitions": 4},
    )
    with s3, glue:
        client = boto3.client(
            "s3",
            endpoint_url=endpoint,
            region_name=settings.region,
            aws_access_key_id=settings.emulator_access_key,
            aws_secret_access_key=settings.emulator_secret_key,
        )
        deadline = time.monotonic() + 120
        while True:
            try:
                client.list_buckets()
                break
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(1)
        client.create_bucket(Bucket=BUCKET)
        src = state / "raw.parquet"
        generate_month(MONTH, ROWS, src, seed=7)
        raw_key = f"raw/dataset=nyc_taxi/year={YEAR}/month={MON:02d}/yellow_tripdata_{MONTH}.parquet"
        client.upload_file(str(src), BUCKET, raw_key)
        client.upload_file(str(settings.zone_lookup_path), BUCKET, "reference/taxi_zone_lookup.csv")
        runner = ContainerJobRunner(settings, container=glue.get_wrapped_container())
        yield {
            "settings": settings,
            "runner": runner,
            "src": src,
            "endpoint": endpoint,
            "client": client,
            "glue": glue.get_wrapped_container(),
        }


def _count(endpoint: str, prefix: str) -> int:
    s3fs = fs.S3FileSystem(
        endpoint_override=endpoint.removeprefix("http://"),
        scheme="http",
        access_key="testing",
        secret_key="testing",
        region="us-east-1",
    )
    full = f"{BUCKET}/{prefix}"  # a key prefix (e.g. pickup_date=2024-03-): list its folder, keep the prefix
    infos = [
        i
        for i in s3fs.get_file_info(fs.FileSelector(full.rsplit("/", 1)[0], recursive=True))
        if i.type == fs.FileType.File and i.path.startswith(full) and i.path.endswith(".parquet")
    ]
    return sum(pq.ParquetFile(s3fs.open_input_file(i.path)).metadata.num_rows for i in infos)


def _curated_trip_count(endpoint: str, table: str) -> int:
    s3fs = fs.S3FileSystem(
        endpoint_override=endpoint.removeprefix("http://"),
        scheme="http",
        access_key="testing",
        secret_key="testing",
        region="us-east-1",
    )
    d = ds.dataset(f"{BUCKET}/curated/{table}/pickup_month={MONTH}/", filesystem=s3fs, format="parquet")
    t: pa.Table = d.to_table(columns=["trip_count"])
    return pc.sum(t["trip_count"]).as_py()


@pytest.mark.slow
def test_etl_and_aggregates_run_in_the_glue_container_and_reconcile_exactly(job_env):
    runner, endpoint = job_env["runner"], job_env["endpoint"]
    common = ["--bucket", BUCKET, "--dataset", "nyc_taxi", "--month", MONTH]
    etl = runner.run(
        "spark_jobs/jobs/etl.py",
        [
            "--JOB_NAME",
            "taxilab-etl",
            *common,
            "--zone_lookup",
            f"s3://{BUCKET}/reference/taxi_zone_lookup.csv",
        ],
    )
    agg = runner.run("spark_jobs/jobs/aggregates.py", ["--JOB_NAME", "taxilab-aggregates", *common])

    raw_rows = pq.ParquetFile(job_env["src"]).metadata.num_rows  # independent of Spark and of the job
    staging = _count(endpoint, f"staging/nyc_taxi/pickup_date={MONTH}-")
    quarantine = _count(endpoint, f"quarantine/nyc_taxi/year={YEAR}/month={MON}/")
    assert raw_rows == ROWS
    assert staging > 0 and quarantine > 0, (staging, quarantine)  # synthetic data has both
    assert staging + quarantine == raw_rows
    assert (etl["rows_in"], etl["rows_out"], etl["quarantined"]) == (raw_rows, staging, quarantine)
    assert agg["rows_in"] == staging
    for table in ("daily_summary", "hourly_patterns", "payment_analysis", "distance_analysis"):
        assert _curated_trip_count(endpoint, table) == staging, table
    log = job_env["settings"].logs_dir / "jobs"
    assert any(p.name.startswith("taxilab-etl-") for p in log.iterdir())


@pytest.mark.slow
def test_a_failing_job_names_the_job_and_its_exit_code_and_keeps_the_log(job_env):
    runner = job_env["runner"]
    with pytest.raises(ContainerJobError) as e:
        runner.run(
            "spark_jobs/jobs/etl.py",
            [
                "--JOB_NAME",
                "taxilab-etl",
                "--bucket",
                BUCKET,
                "--dataset",
                "nyc_taxi",
                "--month",
                "2031-01",
                "--zone_lookup",
                f"s3://{BUCKET}/nope.csv",
            ],
        )
    msg = str(e.value)
    assert "taxilab-etl" in msg and "exit code" in msg and "no raw Parquet files" in msg, msg
