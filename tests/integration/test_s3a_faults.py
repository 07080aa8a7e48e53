"""Faults in Spark's own S3 traffic (S3A): throttling, server errors and dropped connections within S3A's
retry limits are survived; past the limit the run fails cleanly, naming the stage, and a rerun without
faults recovers.

The test session's SparkSession is reused (a second session in one JVM cannot change the jars); its Hadoop
configuration is pointed at faultproxy.FaultProxy at runtime with the S3A FileSystem cache disabled, so
the jobs' next S3AFileSystem instances talk to the proxy. The configuration is restored afterwards.
"""

from __future__ import annotations

from contextlib import contextmanager
from datetime import datetime, timedelta

import pytest

from spark_jobs.io import paths
from taxilab import lakestats
from taxilab.pipeline import Pipeline, PipelineOptions, StageError
from tests.integration.faultproxy import FaultProxy
from tests.integration.tlcfiles import trip, write_2024

# Skipped (issue 5 follow-up): the within-limits test passes, but afterwards the shared session's next S3A
# listing waits without end (seen twice, even with the configuration restored), which would hang every
# later integration test. Remove the skip to work on it (run this file alone).
pytestmark = [pytest.mark.integration, pytest.mark.timeout(300),
              pytest.mark.skip(reason="leaves the shared SparkSession's S3A listing hung afterwards; issue 5 follow-up")]

ROWS = 80


@contextmanager
def s3a_through(spark, url: str, **extra: str):
    conf = spark.sparkContext._jsc.hadoopConfiguration()
    values = {"fs.s3a.endpoint": url, "fs.s3a.impl.disable.cache": "true", **extra}
    old = {k: conf.get(k) for k in values}
    for k, v in values.items():
        conf.set(k, v)
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                conf.unset(k)
            else:
                conf.set(k, v)


def _source(tmp_path, month: str) -> str:
    start = datetime.strptime(month + "-01 05:00", "%Y-%m-%d %H:%M")
    rows = [trip(start + timedelta(hours=5 * i)) for i in range(ROWS)]
    return str(write_2024(tmp_path / f"yellow_{month}.parquet", rows))


def _run(settings, month, source):
    return Pipeline(PipelineOptions(month, source, 0, 1, progress=False), settings=settings).run()


def test_spark_jobs_survive_s3a_throttling_errors_and_dropped_connections(lab_settings, spark, tmp_path,
                                                                         record_property):
    faults = ["503", "500", "drop"]

    def plan(method, path, n):  # every 5th request of Spark's, in turn 503 SlowDown, 500, dropped
        return faults[(n // 5) % 3] if n % 5 == 2 else None

    with FaultProxy(lab_settings.endpoint("s3"), plan) as proxy, s3a_through(spark, proxy.url):
        rep = _run(lab_settings, "2023-11", _source(tmp_path, "2023-11"))
    assert proxy.requests > 20, "Spark's S3 traffic did not go through the proxy"
    assert proxy.injected >= 3
    assert rep.status == "succeeded" and all(c.ok for c in rep.checks), [c for c in rep.checks if not c.ok]
    assert lakestats.staging_stats(lab_settings, "2023-11").rows == ROWS
    record_property("robustness", {"kind": "fault", "what": "S3A 503/500/drop within retry limits",
                                   "injected": proxy.injected, "survived": True})


def test_s3a_faults_past_the_retry_limit_fail_the_stage_cleanly_and_a_rerun_recovers(lab_settings, spark, tmp_path,
                                                                                    record_property):
    month = "2023-12"
    staging = paths.staging_prefix(lab_settings.dataset) + "pickup_date=2023-12-"

    def plan(method, path, n):  # every upload into the month's staging partitions is throttled, forever
        return "503" if method in ("PUT", "POST") and staging in path else None

    source = _source(tmp_path, month)
    # few, fast retries: the limit is reached in seconds (the lab's defaults are 10 attempts)
    limits = {"fs.s3a.attempts.maximum": "1", "fs.s3a.retry.limit": "1", "fs.s3a.retry.throttle.limit": "1",
              "fs.s3a.retry.interval": "10ms", "fs.s3a.retry.throttle.interval": "10ms"}
    with FaultProxy(lab_settings.endpoint("s3"), plan) as proxy, s3a_through(spark, proxy.url, **limits):
        with pytest.raises(StageError) as info:
            _run(lab_settings, month, source)
    assert info.value.stage == "etl", info.value
    assert proxy.injected >= 1
    assert lakestats.staging_stats(lab_settings, month).rows == 0  # nothing of the failed write is visible

    rep = _run(lab_settings, month, source)  # no faults: recovers
    assert rep.status == "succeeded" and all(c.ok for c in rep.checks), [c for c in rep.checks if not c.ok]
    assert lakestats.staging_stats(lab_settings, month).rows == ROWS
    record_property("robustness", {"kind": "fault", "what": "S3A 503 past the retry limit -> StageError(etl), rerun",
                                   "injected": proxy.injected, "survived": True})
