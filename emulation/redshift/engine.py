"""The lab's Redshift: `execute(conn, settings, sql_text)` runs one Redshift statement on the lab's
PostgreSQL and the S3 emulator, routing COPY, UNLOAD and external schemas to their emulations and the
rest through the dialect guard and translation. Why: docs/adr/0008-copy-unload-data-api.md.
"""

from __future__ import annotations

import psycopg

from emulation.redshift import guard, spectrum
from emulation.redshift.copy import run_copy
from emulation.redshift.dialect import DialectError, parse_redshift, to_postgres
from emulation.redshift.statements import Result, parse_copy, parse_unload, statement_kind
from emulation.redshift.unload import run_unload
from taxilab.core.redshift_sql import in_schema_text
from taxilab.core.settings import Settings


class StatementFailed(RuntimeError):
    """Any other statement that PostgreSQL rejected (rolled back)."""


def execute(conn, settings: Settings, sql_text: str) -> Result:
    """Run one Redshift statement on the lab: COPY/UNLOAD emulated against the S3 emulator, external
    schemas by spectrum.py, anything else guarded, translated and run on PostgreSQL. Its `taxi.` tables
    are settings.warehouse_schema's (found on sqlglot's AST; ADR 0012)."""
    sql_text = in_schema_text(sql_text, settings.warehouse_schema)
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
