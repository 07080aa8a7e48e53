"""The dashboard's only ways to its data: the named analytics queries (sql/analytics, Redshift SQL) and
the run reports (<state_dir>/runs/*.json). No SQL is written here.
Why: docs/adr/0016-dashboard-and-notebooks.md.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd

from taxilab.core.settings import Settings, load_settings
from taxilab.warehouse import queries

START_HINT = (
    "Start the lab's services with `make up`, then load a month with `make pipeline` (or `make demo`)."
)
LOAD_HINT = (
    "Load a month with `make pipeline MONTH=2024-02 ROWS=200000` (or `make demo`), then reload this page."
)


QueryFailed = queries.QueryError  # a named query that failed for another reason (its message names it)


class Unavailable(RuntimeError):
    """The warehouse cannot answer (no DSN, server stopped, schema missing): message + what to run."""

    def __init__(self, problem: str, hint: str):
        super().__init__(f"{problem} {hint}")
        self.problem, self.hint = problem, hint


class NoDatabase(Unavailable):
    pass


class EmptyWarehouse(Unavailable):
    pass


def settings() -> Settings:
    """The lab's settings, read afresh (the services file changes when `make up` restarts them)."""
    return load_settings()


def connect(s: Settings):
    """A connection to the warehouse for the named queries (local/compose: psycopg on the lab's
    PostgreSQL). The one function to change for the least-privilege analytics role."""
    from taxilab.warehouse.loader import WarehouseUnavailable
    from taxilab.warehouse.loader import connect as lab_connect

    try:
        conn = lab_connect(s)
    except WarehouseUnavailable as e:
        raise NoDatabase(f"The warehouse is not reachable ({_first_line(e)}).", START_HINT) from e
    conn.autocommit = True  # read-only named queries; each runs in its own savepoint-free statement
    return conn


def _first_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return text[0] if text else type(e).__name__


def _frame(columns: list[str], rows: list[tuple]) -> pd.DataFrame:
    """Rows as a DataFrame: DECIMAL money and the Data API's numeric strings become numbers."""
    df = pd.DataFrame([list(r) for r in rows], columns=columns)
    for c in df.columns:
        col = df[c]
        if col.map(lambda v: isinstance(v, Decimal)).any():
            df[c] = col.map(lambda v: None if v is None else float(v)).astype("float64")
    return df


@dataclass
class Warehouse:
    """Runs named queries by name; one connection for the life of a page render."""

    s: Settings
    _conn: Any = None

    def __enter__(self) -> Warehouse:
        return self

    def __exit__(self, *exc) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def query(self, name: str, **params) -> pd.DataFrame:
        """A named query through the profile's warehouse resource (taxilab.resources): PostgreSQL with the
        Redshift emulation's translation, or Redshift through the Data API."""
        import psycopg

        from taxilab import resources
        from taxilab.warehouse.data_api import DataApiError

        q = queries.load_query(name)
        values = {k: str(v) for k, v in params.items()}
        wh = resources.warehouse(self.s)
        try:
            if self._conn is None and hasattr(wh, "connect"):  # one connection for the page render
                self._conn = connect(self.s)
            res = wh.run_named(q, values, conn=self._conn)
        except DataApiError as e:
            raise NoDatabase(
                f"Redshift did not answer query {name}: {_first_line(e)}.",
                "Check the aws profile's Redshift settings (TAXILAB_REDSHIFT_*).",
            ) from e
        except queries.QueryError as e:
            cause = e.__cause__
            if isinstance(cause, psycopg.errors.UndefinedTable | psycopg.errors.InvalidSchemaName):
                raise EmptyWarehouse("The warehouse has no taxi tables yet.", LOAD_HINT) from e
            if isinstance(cause, psycopg.OperationalError):
                raise NoDatabase(
                    f"The warehouse connection failed ({_first_line(cause)}).", START_HINT
                ) from e
            raise
        except psycopg.OperationalError as e:
            raise NoDatabase(f"The warehouse connection failed ({_first_line(e)}).", START_HINT) from e
        df = _frame(res.columns, res.rows)
        for c in df.columns:  # the Data API returns DECIMAL as strings (PostgreSQL's Decimals: see _frame)
            if df[c].dtype == object and df[c].map(lambda v: v is None or isinstance(v, str)).all():
                converted = pd.to_numeric(df[c], errors="coerce")
                if converted.notna().sum() == df[c].notna().sum() and df[c].notna().any():
                    df[c] = converted
        return df


def loaded_months(wh: Warehouse) -> list[str]:
    """The loaded months, newest first; EmptyWarehouse when there is none."""
    df = wh.query("loaded_months")
    if df.empty:
        raise EmptyWarehouse("The warehouse is up but no month is loaded.", LOAD_HINT)
    return list(df["pickup_month"])


def records_congestion_fee(month: str) -> bool:
    """Whether the TLC files of `month`'s schema era have the cbd_congestion_fee column (2025 onward)."""
    from spark_jobs.schemas.tlc import era_of_month

    return any(column.startswith("cbd_congestion_fee") for column, _ in era_of_month(month).differences)


# ---- run reports ------------------------------------------------------------------------------------
def run_reports(runs_dir: Path, limit: int = 20) -> list[dict]:
    """The newest `limit` run reports (<runs_dir>/<run_id>.json), newest first by run id (a UTC time)."""
    if not runs_dir.is_dir():
        return []
    out = []
    for p in sorted(runs_dir.glob("*.json"), reverse=True):
        if p.name == "latest.json" or p.name.startswith("."):
            continue
        try:
            out.append(json.loads(p.read_text()))
        except (OSError, ValueError):
            continue  # a report being written: skipped this time
        if len(out) >= limit:
            break
    return out


def latest_report(runs_dir: Path) -> dict | None:
    p = runs_dir / "latest.json"
    try:
        return json.loads(p.read_text()) if p.exists() else None
    except (OSError, ValueError):
        return None


def latest_drops(reports: list[dict]) -> tuple[dict | None, list[dict]]:
    """The newest report that has daily drops, and its drops."""
    for r in reports:
        if r.get("drops"):
            return r, r["drops"]
    return None, []


def operations_summary(s: Settings) -> dict | None:
    """Alarms and estimated cost from the operations module when it is installed: the dict behind
    `taxilab ops status --json` (taxilab.ops.status.gather). None when the module is absent;
    {"error": ...} when it is present but fails (an optional panel never breaks the page)."""
    import importlib
    import importlib.util

    try:
        if (
            importlib.util.find_spec("taxilab.ops") is None
            or importlib.util.find_spec("taxilab.ops.status") is None
        ):
            return None
    except ImportError:
        return None
    try:
        gather = getattr(importlib.import_module("taxilab.ops.status"), "gather", None)
        if gather is None:
            return {"error": "taxilab.ops.status has no gather(settings)"}
        return gather(s)
    except Exception as e:  # noqa: BLE001 - shown on the page, named
        return {"error": f"{type(e).__name__}: {_first_line(e)}"}
