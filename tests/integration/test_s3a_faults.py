"""Faults in Spark's own S3 traffic (S3A): throttling, server errors and dropped connections within S3A's
retry limits are survived; past the limit the run fails cleanly, naming the stage, and a rerun without
faults recovers.

Each faulty run is a real `python -m taxilab.cli pipeline` subprocess on the test session's services whose
Spark S3A endpoint (and only Spark's: boto3/pyarrow talk to the emulator directly) is a loopback
faultproxy.FaultProxy, set through TAXILAB_SPARK__EXTRA_CONF. A subprocess, not the shared test
SparkSession repointed at runtime: that was tried first, and after it the shared session's next S3A listing
hung (docs/adr/0007-nothing-lost.md); a process of its own cannot leave anything behind in the session the
other tests use, and a subprocess timeout turns any hang into a failure instead of a stuck CI job.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime, timedelta
from urllib.parse import unquote

import pytest

from spark_jobs.io import paths
from taxilab.core.settings import PROJECT_ROOT
from taxilab.orchestration.pipeline import Pipeline, PipelineOptions, reconcile
from taxilab.validation import lakestats
from tests.integration.faultproxy import FaultProxy
from tests.integration.tlcfiles import trip, write_2024

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]

ROWS = 80
WITHIN, PAST = "2022-03", "2022-04"  # months no other test uses
# Connection timeouts small enough that nothing waits for minutes (S3A's defaults are 200 s / 5 s).
TIMEOUTS = {
    "spark.hadoop.fs.s3a.connection.timeout": "20000",
    "spark.hadoop.fs.s3a.connection.establish.timeout": "5000",
}


def _source(tmp_path, month: str) -> str:
    start = datetime.strptime(month + "-01 05:00", "%Y-%m-%d %H:%M")
    rows = [trip(start + timedelta(hours=5 * i)) for i in range(ROWS)]
    return str(write_2024(tmp_path / f"yellow_{month}.parquet", rows))


def run_cli(settings, month: str, source: str, s3a: dict[str, str]) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "TAXILAB_STATE_DIR": str(settings.state_dir),
        "TAXILAB_BUCKET": settings.bucket,
        "TAXILAB_CATALOG_DATABASES": json.dumps(settings.catalog_databases),
        "TAXILAB_SHARED_DIR": str(settings.shared_dir),
        # the machine is shared: one core, a small heap; one task at a time (local mode retries no task)
        "TAXILAB_SPARK__MASTER": "local[1]",
        "TAXILAB_SPARK__DRIVER_MEMORY": "1g",
        "TAXILAB_SPARK__SHUFFLE_PARTITIONS": "2",
        "TAXILAB_SPARK__EXTRA_CONF": json.dumps({**TIMEOUTS, **s3a}),
    }
    env.pop("TAXILAB_FAULT_KILL_AT", None)
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "taxilab.cli",
            "pipeline",
            "--month",
            month,
            "--source",
            source,
            "--no-progress",
        ],
        env=env,
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=420,
    )  # a hang fails the test, it does not hang the suite


def _spark_via(proxy: FaultProxy, **limits: str) -> dict[str, str]:
    return {"spark.hadoop.fs.s3a.endpoint": proxy.url, **{f"spark.hadoop.{k}": v for k, v in limits.items()}}


@pytest.mark.slow
def test_spark_jobs_survive_s3a_throttling_errors_and_dropped_connections(
    fresh_lake, tmp_path, record_property
):
    # A lake of its own: Spark lists the staging prefix through the faulty proxy, so with the shared lake the
    # run's length (and the faults injected) would grow with every partition earlier tests wrote.
    lab_settings = fresh_lake("taxilab-s3a", "it_s3a")
    faults = ["503", "500", "drop"]

    def plan(method, path, n):  # every 5th request of Spark's, in turn 503 SlowDown, 500, dropped
        return faults[(n // 5) % 3] if n % 5 == 2 else None

    source = _source(tmp_path, WITHIN)
    with FaultProxy(lab_settings.endpoint("s3"), plan) as proxy:
        # the lab's limits (10 attempts) with shorter waits between S3A's own retries (defaults 500/100 ms)
        r = run_cli(
            lab_settings,
            WITHIN,
            source,
            _spark_via(proxy, **{"fs.s3a.retry.interval": "100ms", "fs.s3a.retry.throttle.interval": "50ms"}),
        )
    assert proxy.requests > 20, "Spark's S3 traffic did not go through the proxy"
    every_kind = all(proxy.by_kind[k] > 0 for k in faults)
    checks = reconcile(lab_settings, WITHIN) if r.returncode == 0 else []
    reconciled = bool(checks) and all(c.ok for c in checks)
    staged = lakestats.staging_stats(lab_settings, WITHIN).rows if r.returncode == 0 else None
    record_property(
        "robustness",
        {
            "kind": "fault",
            "what": f"S3A 503/500/drop within retry limits {dict(proxy.by_kind)}",
            "injected": proxy.injected,
            "survived": r.returncode == 0 and every_kind and reconciled and staged == ROWS,
        },
    )
    assert r.returncode == 0, r.stderr[-3000:]
    assert every_kind, proxy.by_kind
    assert reconciled, [c for c in checks if not c.ok]
    assert staged == ROWS


@pytest.mark.slow
def test_s3a_faults_past_the_retry_limit_fail_the_stage_cleanly_and_a_rerun_recovers(
    lab_settings, spark, tmp_path, record_property
):
    staging = paths.staging_prefix(lab_settings.dataset) + f"pickup_date={PAST}-"

    def plan(method, path, n):  # every upload into the month's staging partitions is throttled, forever
        return "503" if method in ("PUT", "POST") and staging in unquote(path) else None

    source = _source(tmp_path, PAST)
    # few, fast retries: the limit is reached in seconds (the lab's defaults are 10 attempts)
    limits = {
        "fs.s3a.attempts.maximum": "1",
        "fs.s3a.retry.limit": "1",
        "fs.s3a.retry.throttle.limit": "1",
        "fs.s3a.retry.interval": "10ms",
        "fs.s3a.retry.throttle.interval": "10ms",
    }
    with FaultProxy(lab_settings.endpoint("s3"), plan) as proxy:
        r = run_cli(lab_settings, PAST, source, _spark_via(proxy, **limits))
    assert r.returncode == 1, (r.returncode, r.stderr[-3000:])
    assert proxy.by_kind["503"] >= 1, "no upload into staging was throttled: nothing was demonstrated"
    said = " ".join(r.stderr.split())  # rich wraps the message at 80 columns
    assert "error: stage 'etl' failed" in said, r.stderr[-3000:]
    assert "what to do:" in said
    last = [line for line in r.stderr.splitlines() if line.strip()][-1]
    assert not last.lstrip().startswith(("at ", "Traceback", "File ")) and "Exception" not in last, last
    print("past the retry limit the CLI said:", said[said.index("error: stage") :][:400], "...", last)
    nothing_visible = lakestats.staging_stats(lab_settings, PAST).rows == 0  # of the failed write

    rep = Pipeline(
        PipelineOptions(PAST, source, 0, 1, progress=False), settings=lab_settings
    ).run()  # no faults
    reconciled = rep.status == "succeeded" and bool(rep.checks) and all(c.ok for c in rep.checks)
    staged = lakestats.staging_stats(lab_settings, PAST).rows
    record_property(
        "robustness",
        {
            "kind": "fault",
            "what": "S3A 503 past the retry limit -> StageError(etl), rerun",
            "injected": proxy.injected,
            "survived": nothing_visible and reconciled and staged == ROWS,
        },
    )
    assert nothing_visible
    assert reconciled, [c for c in rep.checks if not c.ok]
    assert staged == ROWS
