"""SIGKILL at stage boundaries and in the middle of writes, then a rerun: the same state as a clean run.

Each kill is a real `python -m taxilab.cli pipeline` subprocess on the test session's services, told where
to die by TAXILAB_FAULT_KILL_AT (taxilab/faults.py). One month is driven through a chain of kills, each run
getting further than the last, then rerun to completion. After every kill: the process died by SIGKILL at
that point, the month lock is free (flock dies with its process), the services answer, and readers of the
lake see each zone either without the month or with all of it (never a partial write). The Spark-write
kills fire while the S3A staging committer's multipart uploads are pending (data sent, job not committed)
and show that no new object became visible. The warehouse COPY kill freezes the COPY half-way through its
rows (faultproxy.PgStallProxy) and kills the loader there.

One kill lands INSIDE a Spark job commit (`mid-commit:`, taxilab/faults.py): a rerun of the staging write is
killed (Python driver and Spark JVM) once some but not all of its partitions' uploads have been completed.
The month is then incomplete in staging, but every partition a reader can see is whole: staging writes
exactly one file per pickup_date/time_of_day_category partition and completing one multipart upload is
atomic, so a visible partition file holds exactly the rows a clean run gives that partition. That
per-partition check runs after every kill, against counts computed here from the source rows.

Budget: 5 subprocesses start Spark (~10-30 s each); the rest stop before Spark or run only the warehouse.
"""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import datetime, timedelta
from urllib.parse import urlsplit

import psycopg
import pyarrow.parquet as pq
import pytest
from psycopg.conninfo import make_conninfo

from spark_jobs.io import paths
from spark_jobs.schemas.contracts import CURATED, TIME_OF_DAY
from taxilab.core import clients as aws
from taxilab.core.settings import PROJECT_ROOT
from taxilab.ingest import raw
from taxilab.orchestration.pipeline import Pipeline, PipelineOptions, month_lock
from taxilab.validation import lakestats
from taxilab.warehouse.loader import warehouse_stats
from tests.integration.faultproxy import PgStallProxy
from tests.integration.tlcfiles import trip, write_2024

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]

MONTH = "2023-10"
VALID, BAD = 200, 10
START = datetime(2023, 10, 1, 0, 20)


def _valid_pickups() -> list[datetime]:
    return [START + timedelta(hours=3.7 * i) for i in range(VALID)]  # every day, every time of day


def expected_partitions() -> Counter:
    """Rows per staging partition of a clean run, computed from the source rows (not from Spark)."""
    out: Counter = Counter()
    for t in _valid_pickups():
        category = next(name for name, lo, hi in TIME_OF_DAY if lo <= t.hour <= hi)
        out[f"pickup_date={t.date()}/time_of_day_category={category}"] += 1
    return out


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    rows = [trip(t) for t in _valid_pickups()]
    rows += [trip(datetime(2023, 9, 30, 12) - timedelta(hours=i)) for i in range(BAD)]  # OUTSIDE_MONTH
    return str(write_2024(tmp_path_factory.mktemp("kills") / "yellow_2023-10_small.parquet", rows))


def _env(settings, kill_at: str | None) -> dict[str, str]:
    env = {
        **os.environ,
        "TAXILAB_STATE_DIR": str(settings.state_dir),
        "TAXILAB_BUCKET": settings.bucket,
        "TAXILAB_SHARED_DIR": str(settings.shared_dir),
        # one core and a small heap: the machine is shared; one task at a time also keeps several
        # files pending in the committer while the watcher looks
        "TAXILAB_SPARK__MASTER": "local[1]",
        "TAXILAB_SPARK__DRIVER_MEMORY": "1g",
        "TAXILAB_SPARK__SHUFFLE_PARTITIONS": "2",
        # one commit thread: a job commit completes its uploads one after another (a window of a second
        # or two for the mid-commit watcher, instead of a few hundred milliseconds)
        "TAXILAB_SPARK__EXTRA_CONF": json.dumps({"spark.hadoop.fs.s3a.committer.threads": "1"}),
    }
    env.pop("TAXILAB_FAULT_KILL_AT", None)
    if kill_at:
        env["TAXILAB_FAULT_KILL_AT"] = kill_at
    return env


def run_cli(settings, source: str, kill_at: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "taxilab.cli",
            "pipeline",
            "--month",
            MONTH,
            "--source",
            source,
            "--no-progress",
        ],
        env=_env(settings, kill_at),
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )


STAGING_MONTH = paths.staging_prefix("nyc_taxi") + "pickup_date=2023-10-"
QUARANTINE_MONTH = paths.quarantine_month_prefix("nyc_taxi", 2023, 10)
FIRST_CURATED = paths.curated_month_prefix(next(iter(CURATED)), MONTH)


def snapshot(settings) -> dict[str, dict[str, str]]:
    """Visible data objects (key -> ETag) of the month, per zone, as any reader of the bucket sees them."""
    s3 = aws.client("s3", settings)
    prefixes = {
        "raw": paths.raw_month_prefix(settings.dataset, MONTH),
        "quarantine": QUARANTINE_MONTH,
        "staging": STAGING_MONTH,
        "curated": paths.CURATED + "/",
    }
    out = {}
    for zone, prefix in prefixes.items():
        keys = {}
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=settings.bucket, Prefix=prefix):
            for o in page.get("Contents", []):
                if o["Key"].endswith("/"):
                    continue  # an S3A directory marker (empty object): no data
                if zone != "curated" or f"pickup_month={MONTH}/" in o["Key"]:
                    keys[o["Key"]] = o["ETag"]
        out[zone] = keys
    return out


_ROWS_BY_ETAG: dict[str, int] = {}


def _file_rows(s3, bucket: str, key: str, etag: str) -> int:
    if etag not in _ROWS_BY_ETAG:
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        _ROWS_BY_ETAG[etag] = pq.ParquetFile(io.BytesIO(body)).metadata.num_rows
    return _ROWS_BY_ETAG[etag]


def assert_partitions_whole(settings, snap) -> dict[str, int]:
    """Every staging partition of the month a reader can see is whole: exactly one data file, holding exactly
    the rows a clean run gives that partition; every visible curated table-month is one file. Returns the
    visible staging partitions with their rows."""
    s3 = aws.client("s3", settings)
    expected = expected_partitions()
    files: dict[str, list[str]] = {}
    for key in snap["staging"]:
        part = key[len(paths.staging_prefix("nyc_taxi")) :].rsplit("/", 1)[0]
        files.setdefault(part, []).append(key)
    seen = {}
    for part, keys in sorted(files.items()):
        assert part in expected, f"a partition no clean run writes: {part}"
        assert len(keys) == 1, f"{part}: {len(keys)} files, a clean run writes one: {keys}"
        seen[part] = _file_rows(s3, settings.bucket, keys[0], snap["staging"][keys[0]])
        assert seen[part] == expected[part], (
            f"{part}: {seen[part]} rows visible, a clean run has {expected[part]}"
        )
    for table in CURATED:
        keys = [k for k in snap["curated"] if k.startswith(paths.curated_month_prefix(table, MONTH))]
        assert len(keys) <= 1, f"curated {table} {MONTH}: {keys}"
    return seen


def pending_uploads(settings, prefix: str) -> list[str]:
    s3 = aws.client("s3", settings)
    return [
        u["Key"] for u in s3.list_multipart_uploads(Bucket=settings.bucket, Prefix=prefix).get("Uploads", [])
    ]


def assert_all_or_nothing(settings, snap) -> None:
    """Readers see each zone of the month empty or complete: never part of a write. (A zone with no data
    object is read only when it has some: lakestats cannot read a prefix holding nothing but the empty
    directory marker S3A leaves when a first write is killed.)"""
    if snap["staging"]:
        assert lakestats.staging_stats(settings, MONTH).rows == VALID
    if snap["quarantine"]:
        assert lakestats.quarantine_stats(settings, MONTH)[0].rows == BAD
    for table in CURATED:
        if any(k.startswith(paths.curated_month_prefix(table, MONTH)) for k in snap["curated"]):
            assert lakestats.curated_stats(settings, MONTH, table)["trip_count"] == VALID, table


def assert_recoverable(settings) -> None:
    """The lock died with the process and the services still answer."""
    with month_lock(settings, MONTH):
        pass
    aws.client("s3", settings).head_bucket(Bucket=settings.bucket)
    with psycopg.connect(settings.warehouse_dsn, connect_timeout=5) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)


def fct_rows(settings) -> int:
    """The month's fct_trips rows (0 while no load ever created the table)."""
    with psycopg.connect(settings.warehouse_dsn) as conn:
        if conn.execute("SELECT to_regclass('taxi.fct_trips')").fetchone()[0] is None:
            return 0
    return warehouse_stats(settings, MONTH)["fct_trips"]["rows"]


@pytest.mark.slow
def test_sigkill_at_each_point_then_a_rerun_ends_as_a_clean_run(lab_settings, spark, source, record_property):
    s = lab_settings
    raw.ensure_bucket(s)
    tried: list[str] = []

    def kill(point: str, whole_month: bool = True) -> tuple[dict, dict]:
        before = snapshot(s)
        t0 = time.monotonic()
        r = run_cli(s, source, point)
        assert r.returncode == -signal.SIGKILL, (point, r.returncode, r.stderr[-3000:])
        assert f"SIGKILL at {point}" in r.stderr, r.stderr[-3000:]
        after = snapshot(s)
        assert_recoverable(s)
        assert_partitions_whole(s, after)
        # a kill may cut the fct_trips load; it rolls back, so the warehouse holds the month whole or not at all
        assert fct_rows(s) in (0, VALID), fct_rows(s)
        if whole_month:
            assert_all_or_nothing(s, after)
        tried.append(f"{point} ({time.monotonic() - t0:.0f} s)")
        return before, after

    # 1. mid-upload of the raw file (the upload's progress callback): a single PUT is atomic, so raw holds
    #    nothing or the whole file; which one depends on whether the last bytes had left (small file)
    before, after = kill("ingest:upload")
    assert before["raw"] == {}
    if after["raw"]:
        assert lakestats.raw_stats(s, MONTH).rows == VALID + BAD
    # 2. after ingest: raw landed whole, nothing downstream
    before, after = kill("after:ingest")
    assert len(after["raw"]) == 1 and after["staging"] == after["quarantine"] == {}
    # 3. mid staging write (Spark, S3A partitioned committer): task output uploaded, job not committed
    before, after = kill(f"pending-upload:{STAGING_MONTH}")
    assert pending_uploads(s, STAGING_MONTH), "the kill came before any upload: nothing was demonstrated"
    assert after["staging"] == before["staging"] == {}  # no new staging object visible
    assert lakestats.quarantine_stats(s, MONTH)[0].rows == BAD  # written (committed) before staging
    # 4. after etl: staging complete
    before, after = kill("after:etl")
    assert lakestats.staging_stats(s, MONTH).rows == VALID and after["curated"] == {}
    assert len(assert_partitions_whole(s, after)) == len(expected_partitions())
    # 4b. inside the job commit of a staging rewrite (partitioned committer, conflict mode replace): killed
    #     once some but not all of the partitions' uploads are completed. The month is incomplete until the
    #     rerun (kill() checked that every visible partition is whole); it is NOT all-or-nothing.
    before, after = kill(f"mid-commit:{STAGING_MONTH}", whole_month=False)
    new_files = set(after["staging"]) - set(before["staging"])
    assert new_files, "no upload of the rewrite was completed: the kill came before the job commit"
    assert pending_uploads(s, STAGING_MONTH), "nothing left pending: the kill came after the job commit"
    visible = assert_partitions_whole(s, after)
    assert len(visible) < len(expected_partitions()), "every partition visible: the commit was not cut"
    print(
        f"mid-commit kill: {len(new_files)} rewritten partitions visible, "
        f"{len(visible) - len(new_files)} old ones, {len(expected_partitions()) - len(visible)} absent"
    )
    # 5. mid curated write (directory committer, one file per table and month): the kill comes while the
    #    watched table's upload is pending; its single-file job commit can win the race (then the table is
    #    complete); either way each table is absent or whole (assert_all_or_nothing) and the month incomplete
    before, after = kill(f"pending-upload:{FIRST_CURATED}")
    assert {k.split("/")[1] for k in after["curated"]} != set(CURATED), (
        "aggregates finished: no mid-write kill"
    )
    # 6. after crawl: the lake is complete; the warehouse holds fct_trips whole (an earlier run's) or not at
    #    all: kill() checked which
    before, after = kill("after:crawl")
    assert after["curated"]
    # 7. mid fct_trips COPY: the loader is killed with half its first rows at the server
    loaded_before = fct_rows(s)
    u = urlsplit(s.warehouse_dsn)
    dsn = make_conninfo(s.warehouse_dsn, host="127.0.0.1", port=0, sslmode="disable")
    code = (
        "import sys; from taxilab.core.settings import load_settings; from taxilab.orchestration.pipeline import Pipeline, "
        "PipelineOptions; s = load_settings().model_copy(update={'warehouse_dsn': sys.argv[1]}); "
        "Pipeline(PipelineOptions(sys.argv[2], sys.argv[3], 0, 1, progress=False), settings=s).warehouse()"
    )
    with PgStallProxy(u.hostname, u.port, b'COPY "taxi"."fct_trips"') as proxy:
        dsn = make_conninfo(dsn, port=proxy.port)
        proc = subprocess.Popen(
            [sys.executable, "-c", code, dsn, MONTH, source],
            env=_env(s, None),
            cwd=PROJECT_ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            assert proxy.stalled.wait(120), "the fct_trips COPY never started"
            with psycopg.connect(s.warehouse_dsn) as conn:
                assert (
                    conn.execute(
                        "SELECT count(*) FROM pg_stat_activity WHERE query LIKE "
                        "'COPY \"taxi\".\"fct_trips\"%%' AND state = 'active'"
                    ).fetchone()[0]
                    == 1
                )
            proc.send_signal(signal.SIGKILL)
            assert proc.wait(30) == -signal.SIGKILL
        finally:
            proc.kill()
            proc.wait()
        deadline = time.monotonic() + 30  # the server sees the client gone and rolls the load back
        with psycopg.connect(s.warehouse_dsn, autocommit=True) as conn:
            while (
                conn.execute(
                    'SELECT count(*) FROM pg_stat_activity WHERE query LIKE \'COPY "taxi"."fct_trips"%%\''
                ).fetchone()[0]
                and time.monotonic() < deadline
            ):
                time.sleep(0.2)
    assert_recoverable(s)
    assert (
        fct_rows(s) == loaded_before
    )  # rolled back with its DELETE: the previous load stays, nothing partial
    tried.append("warehouse:copy (mid-COPY)")

    # The rerun: the same state as a clean run of this input. What each kill point recorded as recovered is
    # computed from these checks (reconciled, and row counts read independently equal to the source's).
    rep = Pipeline(PipelineOptions(MONTH, source, 0, 1, progress=False), settings=s).run()
    reconciled = rep.status == "succeeded" and bool(rep.checks) and all(c.ok for c in rep.checks)
    wh = warehouse_stats(s, MONTH)
    with psycopg.connect(s.warehouse_dsn) as conn:  # every row of the source exactly once
        distinct = conn.execute(
            "SELECT count(DISTINCT pickup_datetime) FROM taxi.fct_trips WHERE "
            "pickup_date >= '2023-10-01' AND pickup_date < '2023-11-01'"
        ).fetchone()[0]
    counts = {
        "staging": lakestats.staging_stats(s, MONTH).rows,
        "quarantine": lakestats.quarantine_stats(s, MONTH)[0].rows,
        "fct_trips": wh["fct_trips"]["rows"],  # no duplicate, no missing row
        "fct_trips distinct pickups": distinct,
        **{f"{table} trips": wh[table]["trip_count"] for table in CURATED},
    }
    expected_counts = {k: BAD if k == "quarantine" else VALID for k in counts}
    try:  # every partition, each whole
        partitions_whole = assert_partitions_whole(s, snapshot(s)) == expected_partitions()
    except AssertionError as e:
        partitions_whole, why = False, str(e)
    else:
        why = "not every partition present"
    recovered = reconciled and counts == expected_counts and partitions_whole
    for point in tried:
        record_property("robustness", {"kind": "kill", "what": point, "recovered": recovered})
    assert reconciled, (rep.status, [c for c in rep.checks if not c.ok])
    assert counts == expected_counts
    assert partitions_whole, why
    print("pending uploads left under the month's staging:", len(pending_uploads(s, STAGING_MONTH)))
