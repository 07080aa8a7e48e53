"""Least privilege and authentication of the lab's PostgreSQL (docs/adr/0017-postgres-roles-and-auth.md).

The product's DSN (settings.warehouse_dsn, what analytics queries, `taxilab sql exec/run`, the dashboard and
the notebooks connect with) is the app role's: not a superuser, and PostgreSQL itself refuses it the
server-side escapes. Authentication is scram-sha-256 on loopback with a generated password kept in a 0600
file; no DSN, state file or log carries it."""

from __future__ import annotations

import json
import os
import stat
import subprocess

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from emulation import pg_auth, services
from taxilab.security import scan_paths
from taxilab.warehouse import loader
from taxilab.warehouse.sql_exec import run_statement

pytestmark = pytest.mark.integration


@pytest.fixture()
def app(lab_settings):
    with psycopg.connect(lab_settings.warehouse_dsn, autocommit=True) as conn:
        yield conn


REFUSED = {
    "pg_read_file": "SELECT pg_read_file('/etc/passwd')",
    "pg_ls_dir": "SELECT pg_ls_dir('.')",
    "lo_import": "SELECT lo_import('/etc/passwd')",
    "COPY FROM PROGRAM": "COPY pg_temp.t FROM PROGRAM 'id'",
    "COPY TO PROGRAM": "COPY (SELECT 1) TO PROGRAM 'cat > /tmp/taxilab-x'",
    "COPY TO server file": "COPY (SELECT 1) TO '/tmp/taxilab-x'",
    "SET session_replication_role": "SET session_replication_role = replica",
    "ALTER SYSTEM": "ALTER SYSTEM SET work_mem = '1MB'",
    "CREATE ROLE": "CREATE ROLE intruder SUPERUSER",
    "CREATE DATABASE": "CREATE DATABASE intruder",
    "ALTER ROLE itself": "ALTER ROLE CURRENT_USER SUPERUSER",
}


@pytest.mark.parametrize("what", list(REFUSED))
def test_postgres_refuses_the_app_role_server_side_escapes(app, what):
    app.execute("CREATE TEMP TABLE IF NOT EXISTS t (line text)")
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        app.execute(REFUSED[what])


def test_the_product_connects_as_the_app_role_which_is_no_superuser(lab_settings, app):
    row = app.execute(
        "SELECT current_user, rolsuper, rolcreaterole, rolcreatedb, rolreplication, rolbypassrls "
        "FROM pg_roles WHERE rolname = current_user"
    ).fetchone()
    assert row == (lab_settings.warehouse_app_role, False, False, False, False, False)
    member_of = app.execute(
        "SELECT count(*) FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.member "
        "WHERE r.rolname = current_user"
    ).fetchone()[0]
    assert member_of == 0  # no pg_read_server_files, pg_execute_server_program, ...
    with loader.connect(lab_settings) as conn:  # analytics queries, the dashboard and notebooks connect here
        assert conn.execute("SELECT current_user").fetchone()[0] == lab_settings.warehouse_app_role
    assert run_statement(lab_settings, "SELECT current_user").rows == [(lab_settings.warehouse_app_role,)]
    assert lab_settings.warehouse_admin_dsn and "postgres@" in lab_settings.warehouse_admin_dsn


def test_the_app_role_can_do_what_the_product_needs(lab_settings, app):
    """DDL and DML in its own schema, temp tables (Spectrum's scans), the Spectrum function, the load
    error table: the product's loaders and the Redshift emulation run as it."""
    app.execute("DROP SCHEMA IF EXISTS it_roles CASCADE")
    app.execute("CREATE SCHEMA it_roles")
    app.execute("CREATE TABLE it_roles.t (a int)")
    app.execute("INSERT INTO it_roles.t VALUES (1), (2)")
    app.execute("TRUNCATE it_roles.t")
    app.execute("DROP SCHEMA it_roles CASCADE")
    run_statement(lab_settings, "CREATE TABLE IF NOT EXISTS public.it_roles_t (a INTEGER)", app)
    run_statement(lab_settings, "DROP TABLE public.it_roles_t", app)


def test_authentication_is_scram_on_loopback_and_no_password_is_accepted_without_the_file(lab_settings):
    with psycopg.connect(lab_settings.warehouse_admin_dsn) as admin:
        rules = admin.execute(
            "SELECT type, address, netmask, auth_method FROM pg_hba_file_rules WHERE error IS NULL"
        ).fetchall()
        listen = admin.execute("SHOW listen_addresses").fetchone()[0]
        methods = admin.execute(
            "SELECT DISTINCT left(rolpassword, 14) FROM pg_authid WHERE rolcanlogin"
        ).fetchall()
    assert listen == "127.0.0.1"
    assert {(t, a, m) for t, a, _, m in rules} == {
        ("host", "127.0.0.1", "scram-sha-256"),
        ("host", "::1", "scram-sha-256"),
    }
    assert methods == [("SCRAM-SHA-256$",)]
    bare = make_conninfo(
        **{k: v for k, v in conninfo_to_dict(lab_settings.warehouse_dsn).items() if k != "passfile"},
        passfile="/dev/null",
    )
    with pytest.raises(psycopg.OperationalError, match="password"):
        psycopg.connect(bare, connect_timeout=10)
    wrong = make_conninfo(bare, password="not-the-password")  # pragma: allowlist secret
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(wrong, connect_timeout=10)


def test_passwords_live_only_in_the_0600_file_not_in_dsns_state_or_logs(lab_settings):
    pf = pg_auth.passfile(lab_settings.state_dir)
    assert stat.S_IMODE(pf.stat().st_mode) == 0o600 and stat.S_IMODE(pf.parent.stat().st_mode) == 0o700
    passwords = pg_auth.ensure_passwords(lab_settings.state_dir, lab_settings.warehouse_app_role)
    assert len(passwords) == 2 and all(len(p) >= 32 for p in passwords.values())
    if os.geteuid() == 0:  # the PostgreSQL OS user cannot read it
        r = subprocess.run(["test", "-r", str(pf)], user=services.PG_SYSTEM_USER)
        assert r.returncode != 0
    with psycopg.connect(lab_settings.warehouse_dsn) as conn:  # a query, so the server logs something
        conn.execute("SELECT 1")
    state = json.loads(lab_settings.services_file.read_text())
    texts = [lab_settings.warehouse_dsn, lab_settings.warehouse_admin_dsn, json.dumps(state)]
    for folder in (lab_settings.logs_dir, lab_settings.runs_dir):
        texts += [p.read_text(errors="replace") for p in folder.rglob("*") if p.is_file()]
    for password in passwords.values():
        assert not any(password in t for t in texts)
    assert scan_paths([lab_settings.logs_dir, lab_settings.runs_dir, lab_settings.services_file]) == []
