"""No user text reaches a command line through the Spectrum emulation's scan function.

lab_meta.spectrum_scan(location, coldefs, spec) runs `COPY ... FROM PROGRAM` as the PostgreSQL OS user.
Each attack below goes through the product's SQL path (taxilab.warehouse.sql_exec.run_statement, what
`taxilab sql exec` calls) and tries to make the server run `touch <marker>`; the marker must not appear
and the statement must be refused with a message. The function itself is not executable by PUBLIC.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import psycopg
import pytest

from emulation.redshift import spectrum
from taxilab.warehouse.sql_exec import run_statement

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def installed(lab_settings):
    """The scan function as setup installs it (CREATE EXTERNAL SCHEMA / refresh install it the same way)."""
    with psycopg.connect(
        getattr(lab_settings, "warehouse_admin_dsn", None) or lab_settings.warehouse_dsn
    ) as admin:
        spectrum.install(admin, lab_settings)
    return lab_settings


def _marker() -> Path:
    # /tmp: writable by the PostgreSQL OS user too, so a command that ran would leave the file.
    return Path("/tmp") / f"taxilab-pwned-{uuid.uuid4().hex[:12]}"


SPEC_ATTACKS = [
    "00; touch {m}",
    "00 && touch {m}",
    "00 | touch {m}",
    "$(touch {m})",
    "`touch {m}`",
    "00'; touch {m}; echo '",
    '00"; touch {m}; echo "',
    "00\\; touch {m}",
    "00\ntouch {m}",
    "00$$; touch {m}; $$",
    "00$q$ ; touch {m} ; $q$",
    "00;touch${{IFS}}{m}",
]


def _attempt(settings, sql: str, marker: Path, what: str, record_property) -> str:
    """Run one attack; record for `make robustness` whether it was refused (an error with a message, and
    no command ran); return the error message ('' if the statement was accepted)."""
    try:
        run_statement(settings, sql)
        message = ""
    except Exception as e:  # noqa: BLE001 - whatever refused it, the message is checked below
        message = str(e).strip()
    ran = marker.exists()
    marker.unlink(missing_ok=True)
    record_property("robustness", {"kind": "injection", "what": what, "refused": bool(message) and not ran})
    assert not ran, f"the server ran a command from {what}"
    return message


@pytest.mark.parametrize("attack", SPEC_ATTACKS, ids=range(len(SPEC_ATTACKS)))
def test_scan_spec_never_reaches_a_command_line(installed, attack, record_property):
    marker = _marker()
    spec = attack.format(m=marker).replace("'", "''")
    sql = f"SELECT * FROM lab_meta.spectrum_scan('x', 'a text', '{spec}') AS s(a text)"
    message = _attempt(installed, sql, marker, f"scan spec {attack!r}", record_property)
    assert "spec" in message, f"not refused with a message naming the spec: {message!r}"


def test_the_issue_s_injection_is_refused_naming_the_argument(installed):
    with pytest.raises(Exception, match="spec"):
        run_statement(
            installed, "SELECT * FROM lab_meta.spectrum_scan('x','a text','00; id > pwned.txt') AS s(a text)"
        )


COLDEF_ATTACKS = [
    "a text); COPY pg_temp.lab_spectrum_rows FROM PROGRAM 'touch {m}'; --",
    "a text DEFAULT (pg_read_file('/etc/passwd'))",
    "a text, b text CHECK ((SELECT lo_import('/etc/passwd')) > 0)",
    '"a" text; touch {m}',
    "a text\n); CREATE TABLE x (y text",
]


@pytest.mark.parametrize("attack", COLDEF_ATTACKS, ids=range(len(COLDEF_ATTACKS)))
def test_coldefs_are_never_pasted_into_ddl_unchecked(installed, attack, record_property):
    marker = _marker()
    coldefs = attack.format(m=marker).replace("'", "''")
    spec = b'{"location": "s3://x/", "columns": ["a"]}'.hex()
    sql = f"SELECT * FROM lab_meta.spectrum_scan('s3://x/', '{coldefs}', '{spec}') AS s(a text)"
    message = _attempt(installed, sql, marker, f"coldefs {attack!r}", record_property)
    assert "coldefs" in message, f"not refused with a message naming coldefs: {message!r}"


def test_a_spec_that_is_hex_but_names_another_location_is_refused(installed):
    spec = b'{"location": "s3://other/", "columns": ["a"]}'.hex()
    with pytest.raises(Exception, match="location"):
        run_statement(
            installed, f"SELECT * FROM lab_meta.spectrum_scan('s3://x/', '\"a\" text', '{spec}') AS s(a text)"
        )


def test_public_cannot_execute_the_scan_function(installed):
    with psycopg.connect(getattr(installed, "warehouse_admin_dsn", None) or installed.warehouse_dsn) as admin:
        acl = admin.execute(
            "SELECT proacl::text, prosecdef FROM pg_proc WHERE oid = "
            "'lab_meta.spectrum_scan(text,text,text)'::regprocedure"
        ).fetchone()
        public_can = admin.execute(
            "SELECT has_function_privilege('public', 'lab_meta.spectrum_scan(text,text,text)', 'EXECUTE')"
        ).fetchone()[0]
    assert acl[0] is not None and not public_can, acl
