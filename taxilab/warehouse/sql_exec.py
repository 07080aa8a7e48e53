"""One Redshift statement, run where the profile's warehouse is: `run_statement(settings, sql_text, conn)`.
Why: docs/adr/0008-copy-unload-data-api.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from taxilab.core.settings import Settings


@dataclass
class Result:
    """What a statement returned: rows for a query, a row count and a message for the others."""

    columns: list[str] = field(default_factory=list)
    rows: list[tuple] = field(default_factory=list)
    rowcount: int = -1
    message: str = ""


def run_statement(settings: Settings, sql_text: str, conn=None) -> Result:
    """Run one Redshift statement. aws: through the Data API (`conn` is not used). Local: on `conn`, a
    psycopg connection to the lab's PostgreSQL (inside the caller's transaction if one is open), or on
    a connection opened and closed here when `conn` is None."""
    from taxilab import resources

    res = resources.warehouse(settings).execute(sql_text, conn)
    message = getattr(res, "message", "") or (f"Data API {res.id}" if getattr(res, "id", None) else "")
    return Result(list(res.columns), list(res.rows), res.rowcount, message)
