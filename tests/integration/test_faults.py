"""Faults between the lab and its services: S3 throttling, errors and dropped connections are retried;
bytes corrupted in transit are caught by the landed SHA-256 check; a second run for a month in progress
is refused; the services listen on loopback only."""

from __future__ import annotations

import re
import socket
import subprocess
import sys
from datetime import datetime
from urllib.parse import urlsplit

import pytest

from taxilab.ingest import raw
from taxilab.orchestration.pipeline import Pipeline, PipelineOptions, RunInProgress
from taxilab.validation import lakestats
from tests.integration.faultproxy import FaultProxy
from tests.integration.tlcfiles import trip, write_2024

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]


def _source(tmp_path, month_day=datetime(2023, 5, 2, 8)):
    path = write_2024(tmp_path / "yellow_small.parquet", [trip(month_day), trip(month_day.replace(hour=9))])
    return raw.SourceFile(path, str(path))


def _via(settings, proxy):
    return settings.with_endpoints({"s3": proxy.url}, settings.warehouse_dsn)


@pytest.mark.slow
def test_ingest_survives_throttling_errors_and_dropped_connections(lab_settings, tmp_path, record_property):
    raw.ensure_bucket(lab_settings)
    # every third request fails, in turn with 503 SlowDown, 500 and a dropped connection
    faults = ["503", "500", "drop"]

    def plan(method, path, n):
        return faults[(n // 3) % 3] if n % 3 == 0 else None

    with FaultProxy(lab_settings.endpoint("s3"), plan) as proxy:
        landed = raw.land_month(_via(lab_settings, proxy), "2023-05", _source(tmp_path))
    landed_whole = landed.action in ("uploaded", "unchanged") and landed.rows == 2
    raw_rows = lakestats.raw_stats(lab_settings, "2023-05").rows  # read back directly, not through the proxy
    record_property(
        "robustness",
        {
            "kind": "fault",
            "what": "S3 503/500/drop",
            "injected": proxy.injected,
            "survived": proxy.injected >= 3 and landed_whole and raw_rows == 2,
        },
    )
    assert proxy.injected >= 3
    assert landed_whole, landed
    assert raw_rows == 2


@pytest.mark.slow
def test_bytes_corrupted_in_transit_are_caught_by_the_landed_sha256_check(
    lab_settings, tmp_path, record_property
):
    raw.ensure_bucket(lab_settings)

    def plan(method, path, n):  # corrupt only the read-back of the landed object
        return "corrupt" if method == "GET" and "yellow_tripdata_2023-06" in path else None

    with FaultProxy(lab_settings.endpoint("s3"), plan) as proxy:
        try:
            raw.land_month(_via(lab_settings, proxy), "2023-06", _source(tmp_path, datetime(2023, 6, 2, 8)))
            refused: Exception | None = None
        except raw.IngestError as e:
            refused = e
    caught = refused is not None and re.search("SHA-256.*corrupted in transit", str(refused)) is not None
    record_property(
        "robustness",
        {
            "kind": "fault",
            "what": "corrupted read-back",
            "injected": proxy.injected,
            "survived": proxy.injected >= 1 and caught,
        },
    )
    assert proxy.injected >= 1
    assert caught, repr(refused)


@pytest.mark.slow
def test_a_second_run_for_a_month_in_progress_is_refused(lab_settings, tmp_path, record_property):
    code = (
        "import sys,time; from taxilab.core.settings import load_settings; from taxilab.core.runs import month_lock;"
        f"s=load_settings(state_dir={str(lab_settings.state_dir)!r}, bucket='taxilab-it');"
        "cm=month_lock(s,'2023-07'); cm.__enter__(); print('locked', flush=True); time.sleep(60)"
    )
    holder = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        try:
            Pipeline(
                PipelineOptions("2023-07", str(_source(tmp_path).path), 0, 1, progress=False),
                settings=lab_settings,
            ).run()
            outcome: Exception | None = None
        except RunInProgress as e:
            outcome = e
    finally:
        holder.kill()
        holder.wait()
    refused = outcome is not None and re.search(f"2023-07.*pid {holder.pid}", str(outcome)) is not None
    record_property(
        "robustness", {"kind": "fault", "what": "concurrent run", "injected": 1, "survived": refused}
    )
    assert refused, repr(outcome)


def _non_loopback_ip() -> str | None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("10.255.255.255", 1))  # no packet is sent: this only picks the outbound interface
            ip = s.getsockname()[0]
        except OSError:
            return None
    return None if ip.startswith("127.") else ip


def test_emulator_and_database_listen_on_loopback_only(lab_settings):
    ip = _non_loopback_ip()
    if ip is None:
        pytest.skip("this machine has no non-loopback IPv4 address to test from")
    ports = {
        "s3": urlsplit(lab_settings.endpoint("s3")).port,
        "postgres": urlsplit(lab_settings.warehouse_dsn).port,
    }
    for _name, port in ports.items():
        socket.create_connection(("127.0.0.1", port), timeout=2).close()  # it is up on loopback...
        with pytest.raises(OSError):  # ...and not reachable on the machine's network address
            socket.create_connection((ip, port), timeout=2).close()


def test_logs_and_run_reports_of_the_test_run_hold_no_credentials(lab_settings):
    from taxilab.security import scan_paths

    assert any(lab_settings.runs_dir.glob("*.json")), "no run report written yet: nothing was scanned"
    assert scan_paths([lab_settings.logs_dir, lab_settings.runs_dir]) == []


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_two_runs_started_at_once_for_a_month_one_proceeds_and_another_month_runs_beside(
    lab_settings, tmp_path, record_property
):
    """Three real `taxilab pipeline` processes started together: two for 2022-09 (exactly one proceeds, the
    other is refused naming the month) and one for 2022-10 (a different month: it proceeds)."""
    import os

    from taxilab.core.settings import PROJECT_ROOT
    from taxilab.validation import lakestats

    env = {
        **os.environ,
        "TAXILAB_STATE_DIR": str(lab_settings.state_dir),
        "TAXILAB_BUCKET": lab_settings.bucket,
        "TAXILAB_SHARED_DIR": str(lab_settings.shared_dir),
        "TAXILAB_SPARK__MASTER": "local[1]",
        "TAXILAB_SPARK__DRIVER_MEMORY": "1g",
        "TAXILAB_SPARK__SHUFFLE_PARTITIONS": "2",
    }
    env.pop("TAXILAB_FAULT_KILL_AT", None)

    def start(month: str) -> subprocess.Popen:
        day = datetime.strptime(month + "-03 08:00", "%Y-%m-%d %H:%M")
        src = write_2024(
            tmp_path / f"yellow_{month}.parquet", [trip(day.replace(hour=h)) for h in range(6, 18)]
        )
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "taxilab.cli",
                "pipeline",
                "--month",
                month,
                "--source",
                str(src),
                "--no-progress",
            ],
            env=env,
            cwd=PROJECT_ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )

    procs = [start("2022-09"), start("2022-09"), start("2022-10")]
    outs = []
    for p in procs:
        try:
            out, _ = p.communicate(timeout=240)  # reads as it waits: a full pipe never blocks the child
            outs.append((p.returncode, out))
        finally:
            p.kill()
    same = outs[:2]
    one_proceeded = sorted(code for code, _ in same) == [0, 3]  # 3: refused, in progress
    refused = next((out for code, out in same if code == 3), "")
    named = "2022-09 is already in progress" in " ".join(refused.split())
    beside = outs[2][0] == 0
    staged = {m: lakestats.staging_stats(lab_settings, m).rows for m in ("2022-09", "2022-10")}
    record_property(
        "robustness",
        {
            "kind": "fault",
            "what": "two runs at once for one month + another month",
            "injected": 1,
            "survived": one_proceeded and named and beside and staged == {"2022-09": 12, "2022-10": 12},
        },
    )
    assert one_proceeded, [(c, o[-800:]) for c, o in same]
    assert named, refused[-800:]
    assert beside, outs[2][1][-1500:]
    assert staged == {"2022-09": 12, "2022-10": 12}  # each month's rows landed once
