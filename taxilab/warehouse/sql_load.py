"""The warehouse load as Redshift SQL: one month from the lake into the warehouse, the same script on
Amazon Redshift (aws profile) and on the lab's Redshift emulation.
Why: docs/adr/0008-copy-unload-data-api.md.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from pathlib import Path

from sqlglot.tokens import TokenType

from spark_jobs.io import paths
from spark_jobs.month import Month, MonthError
from taxilab.core.redshift_sql import ddl_files, placeholder_spans, split, tokens
from taxilab.core.settings import CANONICAL_SCHEMA, PROJECT_ROOT, Settings

LOAD_DIR = PROJECT_ROOT / "sql" / "load"
DDL_DIR = PROJECT_ROOT / "sql" / "ddl"
# External schema -> the lake zone whose Glue database it maps.
EXTERNAL_SCHEMAS = {"lake_staging": "staging", "lake_curated": "curated"}
DEFAULT_DATASET = "nyc_taxi"  # the staging table name the files use
# The role the lab's emulation is given when settings name none (it checks no permissions).
LAB_IAM_ROLE = "arn:aws:iam::123456789012:role/taxilab-redshift"

_ROLE = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:role/[A-Za-z0-9+=,.@_/-]{1,512}$")
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_GLUE_DB = re.compile(r"^[a-z0-9_-]{1,255}$")
_IDENT = re.compile(r"^[a-z_][a-z0-9_]{0,126}$")


class SqlLoadError(ValueError):
    """A value that cannot go into the load SQL, or a script the renderer cannot handle."""


@dataclass(frozen=True)
class Statement:
    source: str  # "<file stem>#<n>"
    sql: str  # as rendered (exactly what is sent)
    kind: str  # DELETE, INSERT, COPY, UPDATE, ...
    table: str  # the table it writes, schema-qualified as written ("taxi.fct_trips")


# ---------------------------------------------------------------------------------- values


def check_month(month: object) -> str:
    try:
        return str(Month.parse(month))
    except MonthError as e:
        raise SqlLoadError(str(e)) from None


def iam_role(settings: Settings) -> str:
    role = settings.redshift_iam_role
    if role is None:
        return LAB_IAM_ROLE  # the emulation's placeholder role; run_aws refuses to go without a real one
    if not _ROLE.match(role):
        raise SqlLoadError(
            f"redshift_iam_role must be an IAM role ARN (arn:aws:iam::<12 digits>:role/<name>), got {role!r}"
        )
    return role


def values(settings: Settings, month: str) -> dict[str, str]:
    """The placeholder values of the script for `month`, each checked."""
    if not _BUCKET.match(settings.bucket):
        raise SqlLoadError(f"bucket {settings.bucket!r} is not an S3 bucket name")
    return {
        "month": check_month(month),
        "iam_role": iam_role(settings),
        "zone_lookup_url": paths.s3_url(settings.bucket, paths.zone_lookup_key()),
    }


def glue_database(settings: Settings, zone: str) -> str:
    db = settings.catalog_databases[zone]
    if not _GLUE_DB.match(db):
        raise SqlLoadError(f"Glue database {db!r} ({zone}) is not a lower-case Glue database name")
    return db


def dataset(settings: Settings) -> str:
    if not _IDENT.match(settings.dataset):
        raise SqlLoadError(
            f"dataset {settings.dataset!r} cannot name the staging external table "
            "(lower-case letters, digits, _)"
        )
    return settings.dataset


# ---------------------------------------------------------------------------------- text


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def render(text: str, vals: dict[str, str], dataset_name: str = DEFAULT_DATASET) -> str:
    """`text` with every `:name` placeholder replaced by the string literal of vals[name], and
    lake_staging.nyc_taxi renamed to lake_staging.<dataset_name>. An unknown placeholder is an error."""
    edits: list[tuple[int, int, str]] = []
    for start, end, name in placeholder_spans(text):
        if name not in vals:
            raise SqlLoadError(f"placeholder :{name} has no value (known: {sorted(vals)})")
        edits.append((start, end, _literal(vals[name])))
    if dataset_name != DEFAULT_DATASET:
        toks = tokens(text)
        for i, tok in enumerate(toks):
            if (
                tok.token_type == TokenType.VAR
                and tok.text == DEFAULT_DATASET
                and i >= 2
                and toks[i - 1].token_type == TokenType.DOT
                and toks[i - 2].text.lower() == "lake_staging"
            ):
                edits.append((tok.start, tok.end + 1, dataset_name))
    for start, end, new in sorted(edits, reverse=True):
        text = text[:start] + new + text[end:]
    return text


def _describe(sql_text: str) -> tuple[str, str]:
    """(kind, table written) of a DELETE/INSERT/COPY/UPDATE statement."""
    words = [t.text for t in tokens(sql_text)[:6]]
    kind = words[0].upper() if words else ""
    at = {"DELETE": 2, "INSERT": 2, "COPY": 1, "UPDATE": 1}.get(kind)
    if at is None or len(words) < at + 3:
        return kind, ""
    return kind, "".join(words[at : at + 3]).lower()


def load_files(load_dir: Path = LOAD_DIR) -> list[Path]:
    files = sorted(Path(load_dir).glob("*.sql"))
    if not files:
        raise FileNotFoundError(f"no .sql files in {load_dir}")
    return files


def month_script(settings: Settings, month: str, load_dir: Path = LOAD_DIR) -> list[Statement]:
    """Every statement of sql/load for `month`, rendered, in order: the one transaction of a month load."""
    vals, name = values(settings, month), dataset(settings)
    out = []
    for f in load_files(load_dir):
        for i, raw in enumerate(split(f.read_text()), start=1):
            text = render(raw, vals, name)
            kind, table = _describe(text)
            out.append(Statement(f"{f.stem}#{i}", text, kind, table))
    return out


def external_schema_statements(settings: Settings) -> list[str]:
    """CREATE EXTERNAL SCHEMA IF NOT EXISTS for the zones the script reads (run outside its transaction)."""
    role = _literal(iam_role(settings))
    return [
        f"CREATE EXTERNAL SCHEMA IF NOT EXISTS {schema} FROM DATA CATALOG DATABASE "
        f"{_literal(glue_database(settings, zone))} IAM_ROLE {role}"
        for schema, zone in EXTERNAL_SCHEMAS.items()
    ]


def ddl_statements(ddl_dir: Path = DDL_DIR) -> list[str]:
    return [s for f in ddl_files(ddl_dir) for s in split(f.read_text())]


# ---------------------------------------------------------------------------------- results


def summarize(script: list[Statement], rowcounts: list[int], seconds: float) -> dict:
    """Per-table rows written by the INSERTs/COPYs, grouped as loader.load_month reports them."""
    from spark_jobs.schemas.contracts import CURATED
    from taxilab.warehouse.aggregates_wh import AGG_TABLES
    from taxilab.warehouse.dims import DIM_TABLES

    written: dict[str, int] = {}
    for st, n in zip(script, rowcounts, strict=True):
        if st.kind in ("INSERT", "COPY") and st.table:
            name = st.table.split(".")[-1]
            written[name] = written.get(name, 0) + max(n, 0)
    return {
        "tables": {t: {"rows": written.get(t, 0)} for t in ("fct_trips", *CURATED)},
        "dims": {t: written.get(t, 0) for t in DIM_TABLES},
        "aggregates": {"rows": {t: written.get(t, 0) for t in AGG_TABLES}},
        "statements": len(script),
        "seconds": round(seconds, 2),
    }


# ---------------------------------------------------------------------------------- running


def run_local(conn, settings: Settings, month: str, load_dir: Path = LOAD_DIR) -> dict:
    """The script on the lab's emulation (psycopg connection to the lab's PostgreSQL): DDL, external
    schemas, then every statement through emulation.redshift.engine.execute in ONE transaction (all or
    nothing). Local by construction: the emulated warehouse resource calls it (taxilab.resources)."""
    from emulation.redshift import engine, spectrum
    from emulation.redshift.dialect import apply_ddl

    script = month_script(settings, month, load_dir)
    apply_ddl(conn, DDL_DIR, settings.warehouse_schema)
    for statement in external_schema_statements(settings):
        engine.execute(conn, settings, statement)
    # Redshift reads the Glue catalog at query time; the emulation's views are built from it, so an
    # external schema that already existed is brought up to date (partitions crawled since).
    spectrum.refresh(conn, settings)
    t0 = time.monotonic()
    counts = []
    with conn.transaction():
        for st in script:
            counts.append(engine.execute(conn, settings, st.sql).rowcount)
    return summarize(script, counts, time.monotonic() - t0)


def run_aws(settings: Settings, month: str, client=None, load_dir: Path = LOAD_DIR) -> dict:
    """The script on Amazon Redshift through the Data API: the DDL batch, the external schemas, then the
    month's statements as ONE BatchExecuteStatement (one transaction)."""
    from taxilab.warehouse.data_api import DataApiClient

    if settings.redshift_iam_role is None:
        raise SqlLoadError(
            "the aws load needs TAXILAB_REDSHIFT_IAM_ROLE: the IAM role Redshift uses for "
            "COPY and Spectrum (S3 read + Glue catalog read)"
        )
    script = month_script(settings, month, load_dir)
    api = DataApiClient(settings, client=client)
    api.execute_batch(ddl_statements())
    for statement in external_schema_statements(settings):
        api.execute(statement)
    t0 = time.monotonic()
    results = api.execute_batch([st.sql for st in script])
    return summarize(script, [r.rowcount for r in results], time.monotonic() - t0)


# ---------------------------------------------------------------------------------- stats


def stats_sql(settings: Settings, month: str) -> str:
    """One query: rows and exact sums per warehouse table for `month` (what loader.warehouse_stats returns),
    naming the canonical schema like the SQL files."""
    from spark_jobs.schemas.contracts import CURATED

    m = _literal(check_month(month))
    start, end = Month.parse(month).bounds()
    schema = CANONICAL_SCHEMA  # in settings.warehouse_schema where it is sent (data_api.prepare)
    parts = [
        f"SELECT 'fct_trips' AS table_name, COUNT(*) AS row_count, CAST(NULL AS BIGINT) AS trip_count, "
        f"SUM(total_amount) AS amount FROM {schema}.fct_trips "
        f"WHERE pickup_date >= '{start.isoformat()}' AND pickup_date < '{end.isoformat()}'"
    ]
    for name in CURATED:
        parts.append(
            f"SELECT '{name}', COUNT(*), SUM(trip_count), SUM(total_revenue) FROM {schema}.{name} "
            f"WHERE pickup_month = {m}"
        )
    return "\nUNION ALL\n".join(parts)


def stats_from_rows(rows: list[tuple]) -> dict[str, dict]:
    """loader.warehouse_stats' shape from stats_sql's rows (the Data API returns DECIMAL sums as strings)."""
    from decimal import Decimal

    def money(v) -> Decimal:
        return Decimal(str(v) if v is not None else 0).quantize(Decimal("0.01"))

    out: dict[str, dict] = {}
    for name, count, trips, amount in rows:
        if name == "fct_trips":
            out[name] = {"rows": int(count), "total_amount": money(amount)}
        else:
            out[name] = {"rows": int(count), "trip_count": int(trips or 0), "total_revenue": money(amount)}
    return out
