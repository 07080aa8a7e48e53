"""A lab whose PostgreSQL cluster was made before ADR 0018 (initdb --auth=trust, every object owned by the
superuser) is switched at its next start: SCRAM-only pg_hba, passwords set, the product's objects owned by
the app role, which can then read them; nothing needs to be rebuilt."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

import psycopg
import pytest

from emulation import services
from taxilab.core.settings import load_settings

pytestmark = pytest.mark.integration


@pytest.fixture()
def old_lab():
    state = Path(tempfile.mkdtemp(prefix="taxilab-it-oldlab-"))
    state.chmod(0o755)
    pgdata = state / "pg" / "data"
    pgdata.mkdir(parents=True)
    run_as = services._run_as()
    if run_as:
        shutil.chown(pgdata, services.PG_SYSTEM_USER, services.PG_SYSTEM_USER)
        (state / "pg").chmod(0o755)
    subprocess.run(
        [
            str(services._pg_bin() / "initdb"),
            "-D",
            str(pgdata),
            "--auth=trust",
            "-U",
            "postgres",
            "--encoding=UTF8",
            "--locale=C",
        ],
        check=True,
        capture_output=True,
        timeout=120,
        **run_as,
    )
    port = services.free_port()
    log = state / "old.log"
    log.touch()
    if run_as:
        shutil.chown(log, services.PG_SYSTEM_USER, services.PG_SYSTEM_USER)
    pg_ctl = str(services._pg_bin() / "pg_ctl")
    subprocess.run(
        [pg_ctl, "-D", str(pgdata), "-l", str(log), "-o", f"-h 127.0.0.1 -p {port} -k ''", "-w", "start"],
        check=True,
        capture_output=True,
        timeout=90,
        **run_as,
    )
    try:
        with psycopg.connect(
            f"host=127.0.0.1 port={port} user=postgres dbname=postgres", autocommit=True
        ) as c:
            c.execute("CREATE DATABASE taxilab")
        with psycopg.connect(
            f"host=127.0.0.1 port={port} user=postgres dbname=taxilab", autocommit=True
        ) as c:
            c.execute("CREATE SCHEMA taxi")
            c.execute("CREATE TABLE taxi.fct_trips (id bigserial PRIMARY KEY, fare numeric(10,2))")
            c.execute("INSERT INTO taxi.fct_trips (fare) VALUES (12.50), (7.25)")
            c.execute("CREATE VIEW taxi.v AS SELECT sum(fare) AS total FROM taxi.fct_trips")
    finally:
        subprocess.run(
            [pg_ctl, "-D", str(pgdata), "-m", "fast", "-w", "stop"], capture_output=True, timeout=90, **run_as
        )
    settings = load_settings(state_dir=state, bucket="taxilab-it-oldlab")
    yield settings, port
    services.stop(settings)
    shutil.rmtree(state, ignore_errors=True)


def test_an_old_trust_cluster_is_switched_to_scram_and_its_objects_to_the_app_role(old_lab):
    settings, old_port = old_lab
    live = services.ensure_running(settings)
    with psycopg.connect(live.warehouse_dsn) as app:
        assert app.execute("SELECT current_user, (SELECT total FROM taxi.v)").fetchone() == (
            settings.warehouse_app_role,
            19.75,
        )
        app.execute("INSERT INTO taxi.fct_trips (fare) VALUES (1.00)")  # its sequence moved with the table
    with psycopg.connect(live.warehouse_admin_dsn) as admin:
        rules = admin.execute("SELECT DISTINCT auth_method FROM pg_hba_file_rules").fetchall()
    assert rules == [("scram-sha-256",)]
    with pytest.raises(psycopg.OperationalError, match="password"):
        psycopg.connect(
            f"host=127.0.0.1 port={live.pg_port} user=postgres dbname=taxilab passfile=/dev/null",
            connect_timeout=10,
        )
