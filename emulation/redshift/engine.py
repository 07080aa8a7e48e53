"""The lab's Redshift: `execute(conn, settings, sql_text)` runs one Redshift statement locally, on the
lab's PostgreSQL (conn) and the S3 emulator. It only routes: COPY to copy.run_copy, UNLOAD to
unload.run_unload (both parsed by statements.py), CREATE EXTERNAL SCHEMA ... FROM DATA CATALOG and
DROP SCHEMA of such a schema to spectrum.py (Redshift Spectrum over the Glue catalog), and anything
else through the dialect guard and sqlglot's Redshift -> PostgreSQL translation (dialect.py). Local
only: the aws profile sends statements to Amazon Redshift through the Data API
(taxilab.warehouse.sql_exec picks the path). Why: docs/adr/0008-copy-unload-data-api.md.
"""

from __future__ import annotations

import psycopg

from emulation.redshift import guard, spectrum
from emulation.redshift.copy import run_copy
from emulation.redshift.dialect import DialectError, parse_redshift, to_postgres
from emulation.redshift.statements import Result, parse_copy, parse_unload, statement_kind
from emulation.redshift.unload import run_unload
from taxilab.core.settings import Settings


class StatementFailed(RuntimeError):
    """Any other statement that PostgreSQL rejected (rolled back)."""


def execute(conn, settings: Settings, sql_text: str) -> Result:
    """Run one Redshift statement on the lab: COPY/UNLOAD emulated against the S3 emulator, external
    schemas by spectrum.py, anything else guarded, translated and run on PostgreSQL."""
    kind = statement_kind(sql_text)
    if kind == "COPY":
        return run_copy(conn, settings, parse_copy(sql_text))
    if kind == "UNLOAD":
        return run_unload(conn, settings, parse_unload(sql_text))
    if kind == "CREATE" and spectrum.is_create_external_schema(sql_text):
        return spectrum.create_external_schema(conn, settings, spectrum.parse_create(sql_text))
    if kind == "DROP":
        drop = spectrum.parse_drop(sql_text)
        if drop is not None and spectrum.is_external(conn, drop.schema):
            return spectrum.drop_external_schema(conn, drop)
    guard.check(sql_text, source="statement")
    if len(parse_redshift(sql_text)) != 1:
        raise DialectError(f"execute runs one statement at a time: {sql_text.strip()[:120]!r}")
    # One Redshift statement can become several (CREATE TABLE ... SORTKEY adds a BRIN index).
    statements = to_postgres(sql_text)
    try:
        with conn.transaction(), conn.cursor() as cur:
            for statement in statements:
                cur.execute(statement)  # no parameters: psycopg leaves % alone
            if cur.description is None:
                return Result(rowcount=cur.rowcount, message=cur.statusmessage or "")
            return Result(
                [d.name for d in cur.description], cur.fetchall(), cur.rowcount, cur.statusmessage or ""
            )
    except psycopg.Error as e:
        raise StatementFailed(f"{kind} failed on the lab's PostgreSQL: {e}".strip()) from e
