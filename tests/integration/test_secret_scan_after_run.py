"""After real pipeline runs (the session's shared months of tests/integration/dashboard_lab.py, run by
`Pipeline` as the lab's app role), the lab's logs and run reports hold no credential: detect-secrets with
the lab's plugins finds nothing, and no generated PostgreSQL password appears verbatim anywhere in them.
The same scan on a copy of those files with one leaked DSN line finds exactly that line (it can fail)."""

from __future__ import annotations

import shutil

import pytest

from emulation import pg_auth
from taxilab.security import scan_paths
from tests.integration.dashboard_lab import load_months

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def ran(lab_settings):
    reports = load_months(lab_settings)
    assert reports and all(r.status == "succeeded" for r in reports.values())
    return lab_settings


def test_logs_and_run_reports_of_real_runs_hold_no_credentials(ran):
    reports = sorted(ran.runs_dir.rglob("*.json"))
    logs = [p for p in ran.logs_dir.rglob("*") if p.is_file()]
    assert reports and logs, "nothing to scan: the runs wrote no report or log"
    assert scan_paths([ran.logs_dir, ran.runs_dir]) == []
    passwords = pg_auth.ensure_passwords(ran.state_dir, ran.warehouse_app_role).values()
    for p in reports + logs:
        text = p.read_text(errors="replace")
        assert not any(pw in text for pw in passwords), f"{p} holds a PostgreSQL password"


def test_the_scan_of_those_files_catches_a_leaked_dsn(ran, tmp_path):
    copy = tmp_path / "runs"
    shutil.copytree(ran.runs_dir, copy)
    victim = sorted(copy.rglob("*.json"))[0]
    victim.write_text(
        victim.read_text() + "\n" + "postgresql://taxilab_app:" + "Qw3/rt$y%2F@127.0.0.1:5432/taxilab\n"
    )
    found = scan_paths([copy])
    assert [(f.path, f.kind) for f in found] == [(str(victim), "DSN password")]
