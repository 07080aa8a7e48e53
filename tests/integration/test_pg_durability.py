"""A run reported validated survives `kill -9` of PostgreSQL right after its report is written.

The lab's PostgreSQL runs with synchronous_commit=off; the month's load commits synchronously instead
(loader.durable_commits, docs/adr/0020-atomic-durable-month-load.md), so by the time validate runs, and
long before the report is written, the load's commit is on disk. The test runs the pipeline for a small
month, SIGKILLs the postmaster and every PostgreSQL process the moment the report is on disk (a crash: no
shutdown checkpoint, nothing flushed on the way out), restarts the services the way the lab does
(emulation.services.ensure_running: crash recovery from the WAL), and checks that `taxilab validate` passes
with the counts the report shows.

The window is made deterministic: the test freezes PostgreSQL's WAL writer (SIGSTOP) from before the run
until the kill, so nothing writes out WAL in the background; what is on disk at the kill is what commits
flushed themselves. (Left running, the WAL writer writes an asynchronous commit out within a few
wal_writer_delay, 200 ms by default: the run's validate and report take seconds, so a missing durable commit
would pass by luck.) With the durable commit removed from the loader, the month's load is lost at the kill
and validate fails (shown once; ADR 0020)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from datetime import datetime, timedelta
from urllib.parse import urlsplit

import psutil
import psycopg
import pytest

from emulation import services
from taxilab.core.settings import PROJECT_ROOT
from taxilab.orchestration.pipeline import Pipeline, PipelineOptions, reconcile
from taxilab.warehouse.loader import warehouse_stats
from tests.integration.tlcfiles import trip, write_2024

pytestmark = [pytest.mark.integration, pytest.mark.timeout(400)]

MONTH = "2021-05"
ROWS = 90


def _postmaster(settings) -> psutil.Process:
    pgdata = settings.state_dir / "pg" / "data"
    return psutil.Process(int((pgdata / "postmaster.pid").read_text().splitlines()[0]))


def wal_writer(settings) -> psutil.Process:
    """The cluster's WAL writer process (its title is `postgres: walwriter`)."""
    titles = {}
    for p in _postmaster(settings).children():
        try:  # a backend of a just-closed connection may exit between the listing and the read
            titles[p] = " ".join(p.cmdline())
        except (psutil.NoSuchProcess, psutil.ZombieProcess):
            continue
    found = [p for p, title in titles.items() if "walwriter" in title]
    assert len(found) == 1, sorted(titles.values())
    return found[0]


def kill_postgres(settings) -> list[int]:
    """SIGKILL the postmaster, then at once every process it started (backends, WAL writer, checkpointer):
    a crash, as `kill -9` of the server. Returns the pids killed."""
    postmaster = _postmaster(settings)
    children = postmaster.children(recursive=True)
    procs = [postmaster, *children]
    for p in procs:
        try:
            p.send_signal(signal.SIGKILL)
        except psutil.NoSuchProcess:
            pass
    gone, alive = psutil.wait_procs(procs, timeout=15)
    assert not alive, f"PostgreSQL processes survived SIGKILL: {alive}"
    return [p.pid for p in procs]


def _wait_port_bindable(port: int, seconds: float = 120) -> None:
    """The killed server's port can be bound again (the lab restarts on its previous port when it is free;
    a socket of a killed connection may hold it in TIME_WAIT for a while)."""
    deadline = time.monotonic() + seconds
    while True:
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
                return
            except OSError:
                if time.monotonic() > deadline:
                    raise
        time.sleep(0.5)


def _cli_env(settings) -> dict[str, str]:
    env = {
        **os.environ,
        "TAXILAB_STATE_DIR": str(settings.state_dir),
        "TAXILAB_BUCKET": settings.bucket,
        "TAXILAB_SHARED_DIR": str(settings.shared_dir),
    }
    env.pop("TAXILAB_FAULT_KILL_AT", None)
    return env


@pytest.mark.slow
def test_a_run_reported_validated_survives_sigkill_of_postgres_right_after_its_report(
    lab_settings, spark, tmp_path, record_property
):
    s = lab_settings
    port = urlsplit(s.warehouse_dsn).port
    start = datetime(2021, 5, 1, 3, 10)
    source = write_2024(
        tmp_path / "yellow_2021-05.parquet",
        [trip(start + timedelta(hours=8 * i), total_amount=20.0 + i) for i in range(ROWS)],
    )
    with psycopg.connect(s.warehouse_dsn) as conn:  # nothing of the month before the run
        exists = conn.execute("SELECT to_regclass('taxi.fct_trips')").fetchone()[0]
    if exists:
        assert warehouse_stats(s, MONTH)["fct_trips"]["rows"] == 0

    writer = wal_writer(s)
    killed: list[int] = []
    try:
        writer.suspend()  # SIGSTOP: from here on only a commit's own flush puts WAL on disk
        rep = Pipeline(PipelineOptions(MONTH, str(source), 0, 1, progress=False), settings=s).run()
        report_path = s.runs_dir / f"{rep.run_id}.json"
        assert report_path.exists()  # the report is on disk: kill now
        killed = kill_postgres(s)
    finally:
        if not killed and writer.is_running():
            writer.resume()
        if killed or not services._pg_running_port(s.state_dir / "pg" / "data"):
            _wait_port_bindable(port)
        live = services.ensure_running(s)  # the lab's restart: crash recovery replays the WAL
        assert live.pg_port == port, "PostgreSQL came back on another port: the session's DSN is stale"
    assert writer.pid in killed

    report = json.loads(report_path.read_text())
    assert report["status"] == "succeeded", report.get("error")
    validated = {c["name"]: c for c in report["checks"]}
    assert validated and all(c["ok"] for c in validated.values())
    wh_stage = next(st for st in report["stages"] if st["name"] == "warehouse")

    # `taxilab validate` on the restarted lab, as a user would run it
    r = subprocess.run(
        [sys.executable, "-m", "taxilab.cli", "validate", "--month", MONTH],
        env=_cli_env(s),
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=180,
    )
    # ...and every figure the report validated, read again independently after the restart
    try:
        after = {c.name: (str(c.expected), str(c.actual)) for c in reconcile(s, MONTH)}
        wh = warehouse_stats(s, MONTH)
    except Exception as e:  # noqa: BLE001 - a lost load may take the tables with it: recorded, then failed
        after, wh, lost = {}, {}, repr(e)
    else:
        lost = None
    same_checks = {n: (str(c["expected"]), str(c["actual"])) for n, c in validated.items()} == after
    same_counts = bool(wh) and (
        wh["fct_trips"]["rows"] == wh_stage["detail"]["fct_trips"]["rows"] == ROWS
        and sum(t["rows"] for t in wh.values()) == wh_stage["rows_out"]
        and str(wh["fct_trips"]["total_amount"]) == str(wh_stage["total_amount"])
    )
    survived = r.returncode == 0 and same_checks and same_counts
    record_property(
        "robustness",
        {
            "kind": "durability",
            "what": "validated run, then kill -9 of PostgreSQL",
            "killed_processes": len(killed),
            "survived": survived,
        },
    )
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert lost is None, lost
    assert same_checks, (validated, after)
    assert same_counts, (wh, wh_stage)
