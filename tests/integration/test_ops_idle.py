"""Idle control of the embedded warehouse: `taxilab up --idle-minutes N` starts a watcher that stops
PostgreSQL after N minutes without a client connection and says so in the log; the next command
(ensure_running) starts it again, and a new watcher with it. On a lab of its own (its own state dir), so the
session's PostgreSQL is never stopped under other tests."""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from pathlib import Path

import psutil
import psycopg
import pytest

from emulation import services
from taxilab.core.settings import load_settings

pytestmark = pytest.mark.integration
IDLE_MIN = 0.05  # 3 s
POLL_S = 0.5


def _wait(predicate, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False


@pytest.fixture()
def own_lab(lab_settings):
    state = Path(tempfile.mkdtemp(prefix="taxilab-it-idle-"))
    s = load_settings(state_dir=state, shared_dir=lab_settings.shared_dir)
    live = services.ensure_running(s)
    yield s.with_endpoints(live.endpoints, live.warehouse_dsn)
    services.stop(s)
    shutil.rmtree(state, ignore_errors=True)


def _pg_up(s) -> bool:
    return services._pg_running_port(s.state_dir / "pg" / "data") is not None


def test_postgres_stops_when_idle_and_the_next_command_starts_it_again(own_lab):
    s = own_lab
    pid = services.start_idle_watcher(s, IDLE_MIN, POLL_S)
    with psycopg.connect(s.warehouse_dsn) as conn:
        time.sleep(IDLE_MIN * 60 + 3 * POLL_S)
        # a connected client keeps it running past the idle time
        assert conn.execute("select 1").fetchone() == (1,)
        assert _pg_up(s)
    assert _wait(lambda: not _pg_up(s), 30), "PostgreSQL still running after the idle time without clients"
    said = "PostgreSQL stopped after 0.05 min without a client connection"
    assert _wait(lambda: said in (s.logs_dir / "idle.log").read_text(), 10)
    assert _wait(
        lambda: not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE, 10
    )

    live = services.ensure_running(s)  # what the next taxilab command does
    assert _pg_up(s)
    with psycopg.connect(live.warehouse_dsn) as conn:
        assert conn.execute("select 1").fetchone() == (1,)
    rearmed = json.loads((s.state_dir / "idle-watcher.json").read_text())
    assert rearmed["pid"] != pid and psutil.pid_exists(rearmed["pid"]) and rearmed["minutes"] == IDLE_MIN


def test_a_run_in_progress_keeps_postgres_up_without_connections(own_lab):
    from taxilab.core.runs import month_lock

    s = own_lab
    with month_lock(s, "2024-01"):
        services.start_idle_watcher(s, IDLE_MIN, POLL_S)
        time.sleep(IDLE_MIN * 60 + 3 * POLL_S)
        assert _pg_up(s)
    assert _wait(lambda: not _pg_up(s), 30)


def test_up_without_idle_minutes_turns_the_watcher_off(own_lab):
    s = own_lab
    pid = services.start_idle_watcher(s, 5, POLL_S)
    assert psutil.pid_exists(pid)
    services.start_idle_watcher(s, None)
    assert _wait(
        lambda: not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE, 10
    )
    assert not (s.state_dir / "idle-watcher.json").exists()
    with pytest.raises(ValueError, match="idle minutes 0"):
        services.start_idle_watcher(s, 0)
