"""The warehouse connection lost in the middle of the fct_trips COPY: the load rolls back (the rows of
the previous load stay, untouched) and a rerun loads the month with every reconciliation check ok.

The loss is real: a loopback TCP proxy (faultproxy.PgStallProxy) freezes the COPY after half of its first
rows reached PostgreSQL, then either the network is cut or the backend is killed with
pg_terminate_backend from a second connection."""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta
from urllib.parse import urlsplit

import psycopg
import pytest
from psycopg.conninfo import make_conninfo

from taxilab.orchestration.pipeline import Pipeline, PipelineOptions, StageError, reconcile
from tests.integration.faultproxy import PgStallProxy
from tests.integration.tlcfiles import trip, write_2024

pytestmark = [pytest.mark.integration, pytest.mark.timeout(150)]

MONTH = "2023-09"
ROWS = 60


@pytest.fixture(scope="module")
def loaded_month(lab_settings, spark, tmp_path_factory):
    """A month loaded once by a clean run: the 'previous rows' a failed reload must leave intact."""
    start = datetime(2023, 9, 1, 6)
    path = write_2024(
        tmp_path_factory.mktemp("pgloss") / "yellow_2023-09.parquet",
        [trip(start + timedelta(hours=7 * i)) for i in range(ROWS)],
    )
    rep = Pipeline(PipelineOptions(MONTH, str(path), 0, 1, progress=False), settings=lab_settings).run()
    assert rep.status == "succeeded"
    return str(path)


def _fct_state(dsn: str) -> tuple:
    """(rows, newest loaded_at, fct_trips audit rows) of the month: any reload, even a partial one, changes it."""
    with psycopg.connect(dsn) as conn:
        rows, newest = conn.execute(
            "SELECT count(*), max(loaded_at) FROM taxi.fct_trips WHERE pickup_date >= '2023-09-01' "
            "AND pickup_date < '2023-10-01'"
        ).fetchone()
        audits = conn.execute(
            "SELECT count(*) FROM taxi.load_audit WHERE table_name = 'taxi.fct_trips' AND pickup_month = %s",
            [MONTH],
        ).fetchone()[0]
    return rows, newest, audits


def admin_gone(settings, pid: int) -> bool:
    with psycopg.connect(settings.warehouse_dsn, autocommit=True) as conn:
        return conn.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = %s", [pid]).fetchone()[0] == 0


def stall_copy(settings, proxy: PgStallProxy, source: str):
    """Start the warehouse stage through the proxy in a thread; returns (thread, outcome dict)."""
    u = urlsplit(settings.warehouse_dsn)
    dsn = make_conninfo(settings.warehouse_dsn, host="127.0.0.1", port=proxy.port, sslmode="disable")
    assert u.port != proxy.port
    via = settings.model_copy(update={"warehouse_dsn": dsn})
    outcome: dict = {}

    def load():
        try:
            Pipeline(PipelineOptions(MONTH, source, 0, 1, progress=False), settings=via).warehouse()
            outcome["error"] = None
        except BaseException as e:  # noqa: BLE001 - the test inspects it
            outcome["error"] = e

    t = threading.Thread(target=load, daemon=True)
    t.start()
    assert proxy.stalled.wait(60), "the fct_trips COPY never started through the proxy"
    return t, outcome


@pytest.mark.slow
@pytest.mark.parametrize("how", ["network cut", "pg_terminate_backend"])
def test_connection_lost_mid_copy_rolls_back_and_a_rerun_loads(
    lab_settings, loaded_month, how, record_property
):
    before = _fct_state(lab_settings.warehouse_dsn)
    assert before[0] == ROWS
    u = urlsplit(lab_settings.warehouse_dsn)
    with PgStallProxy(u.hostname, u.port, b'COPY "taxi"."fct_trips"') as proxy:
        t, outcome = stall_copy(lab_settings, proxy, loaded_month)
        with psycopg.connect(lab_settings.warehouse_dsn, autocommit=True) as admin:
            # the backend is inside the COPY, waiting for the rest of the rows
            pids = [
                r[0]
                for r in admin.execute(
                    'SELECT pid FROM pg_stat_activity WHERE query LIKE \'COPY "taxi"."fct_trips"%%\' '
                    "AND state = 'active' AND pid <> pg_backend_pid()"
                ).fetchall()
            ]
            assert len(pids) == 1
            if how == "network cut":
                proxy.drop()
            else:
                assert admin.execute("SELECT pg_terminate_backend(%s)", [pids[0]]).fetchone()[0]
        t.join(60)
        # PostgreSQL must notice the loss by itself and end the backend (its transaction rolls back)
        deadline = time.monotonic() + 30
        while admin_gone(lab_settings, pids[0]) is False and time.monotonic() < deadline:
            time.sleep(0.2)
        assert admin_gone(lab_settings, pids[0]), f"backend {pids[0]} still alive after the connection loss"
    err = outcome.get("error")
    failed_cleanly = isinstance(err, StageError) and err.stage == "warehouse" and "rerun" in err.hint
    rolled_back = _fct_state(lab_settings.warehouse_dsn) == before  # previous rows, no audit row

    Pipeline(PipelineOptions(MONTH, loaded_month, 0, 1, progress=False), settings=lab_settings).warehouse()
    after = _fct_state(lab_settings.warehouse_dsn)
    reloaded = after[0] == ROWS and after[1] > before[1] and after[2] == before[2] + 1
    bad = [c for c in reconcile(lab_settings, MONTH) if not c.ok]
    record_property(
        "robustness",
        {
            "kind": "fault",
            "what": f"PostgreSQL lost mid-COPY ({how})",
            "injected": 1,
            "survived": failed_cleanly and rolled_back and reloaded and not bad,
        },
    )
    assert failed_cleanly, repr(err)
    assert rolled_back
    assert reloaded, (before, after)
    assert not bad, bad
