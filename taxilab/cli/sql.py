"""`taxilab sql ...`: list and run the named analytics queries (sql/analytics) and the validation
queries (sql/validation), and time them (latency benchmark). Registered in taxilab/cli.py with
`app.add_typer(cli_sql.app, name="sql")`.
"""

from __future__ import annotations

import csv
import io
import json
import statistics
import sys
import time
from datetime import date, datetime
from decimal import Decimal

import typer
from rich.console import Console
from rich.table import Table

from taxilab.core.settings import CANONICAL_SCHEMA, get_settings
from taxilab.warehouse import queries

app = typer.Typer(
    help="Named Redshift analytics queries: list, run by name with parameters, benchmark.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console(highlight=False, width=None if sys.stdout.isatty() else 200)
err = Console(stderr=True, highlight=False)

PARAM = typer.Option(
    [], "--param", "-p", help="Query parameter NAME=VALUE (repeatable), e.g. -p month=2024-02."
)
VALIDATION = typer.Option(False, "--validation", help="Use the validation queries (sql/validation).")


def _dir(validation: bool):
    return queries.VALIDATION_DIR if validation else queries.ANALYTICS_DIR


def _plain(v):
    if isinstance(v, Decimal):
        return str(v)
    if isinstance(v, date | datetime):
        return v.isoformat()
    return v


def render(result: queries.QueryResult, fmt: str) -> str:
    """The result as csv or json text (table output goes through rich)."""
    if fmt == "csv":
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(result.columns)
        w.writerows([[("" if v is None else _plain(v)) for v in row] for row in result.rows])
        return buf.getvalue()
    if fmt == "json":
        return json.dumps(
            [dict(zip(result.columns, map(_plain, row), strict=True)) for row in result.rows], indent=2
        )
    raise typer.BadParameter(f"format {fmt!r}: expected table, csv or json")


def _fail(msg: str) -> None:
    err.print(f"[red]error:[/] {msg}")
    raise typer.Exit(1)


@app.command("list")
def list_(validation: bool = VALIDATION) -> None:
    """List the named queries with their parameters and descriptions."""
    t = Table("name", "parameters", "description")
    for q in queries.all_queries(_dir(validation)):
        t.add_row(q.name, " ".join(f":{p}" for p in q.params), q.description)
    console.print(t)


@app.command()
def run(
    name: str = typer.Argument(..., help="Query name (file stem in sql/analytics), see `taxilab sql list`."),
    param: list[str] = PARAM,
    fmt: str = typer.Option("table", "--format", "-f", help="table | csv | json"),
    validation: bool = VALIDATION,
    show_sql: bool = typer.Option(False, "--show-sql", help="Print the PostgreSQL text that runs locally."),
) -> None:
    """Run a named query against the warehouse and print its result (table, CSV or JSON)."""
    from taxilab.warehouse.loader import WarehouseUnavailable, connect

    if fmt not in ("table", "csv", "json"):
        _fail(f"--format {fmt!r}: expected table, csv or json")
    try:
        q = queries.load_query(name, _dir(validation))
        params = queries.parse_params(param)
        schema = get_settings().warehouse_schema
        if show_sql:
            err.print(q.postgres(schema))
        with connect(get_settings()) as conn:
            result = queries.run(conn, q, params, schema=schema)
    except (queries.QueryError, WarehouseUnavailable, ValueError) as e:
        _fail(str(e))
    if fmt == "table":
        t = Table(*result.columns)
        for row in result.rows:
            t.add_row(*["" if v is None else str(_plain(v)) for v in row])
        console.print(t)
        console.print(f"{len(result.rows)} rows")
    else:
        sys.stdout.write(render(result, fmt))


def bench_queries(conn, params: dict[str, str], repeats: int, schema: str = CANONICAL_SCHEMA) -> list[dict]:
    """Median and p95 wall time (ms) of every analytics query, each run `repeats` times after one warm-up."""
    out = []
    for q in queries.all_queries():
        values = {k: v for k, v in params.items() if k in q.params}
        queries.run(conn, q, values, schema=schema)  # warm-up: plan cache, shared buffers
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            res = queries.run(conn, q, values, schema=schema)
            times.append((time.perf_counter() - t0) * 1000)
        times.sort()
        p95 = times[min(len(times) - 1, max(0, round(0.95 * len(times)) - 1))]
        out.append(
            {
                "query": q.name,
                "rows": len(res.rows),
                "median_ms": round(statistics.median(times), 1),
                "p95_ms": round(p95, 1),
            }
        )
    return out


def bench_params(month) -> dict[str, str]:
    """The parameter values `sql bench` runs every named query with, over `month` (a Month): the dashboard's
    defaults (the whole month, every borough, top 10)."""
    return {
        "month": str(month),
        "start_date": month.first_day.isoformat(),
        "end_date": month.days[-1].isoformat(),
        "top_n": "10",
        "min_trips": "100",
        "z": "2",
        "max_speed_mph": "80",
        "borough": "All",
    }


@app.command()
def bench(
    month: str = typer.Option("2024-02", "--month", "-m", help="Month the queries run over (YYYY-MM)."),
    repeats: int = typer.Option(20, "--repeats", "-r", help="Timed runs per query (after one warm-up)."),
    target_ms: float = typer.Option(
        100.0, "--target-ms", help="p95 target per query (printed, not enforced)."
    ),
) -> None:
    """Latency benchmark: median and p95 of every analytics query over a loaded month (prints figures)."""
    from spark_jobs.month import Month
    from taxilab.warehouse.loader import WarehouseUnavailable, connect

    params = bench_params(Month.parse(month))
    try:
        with connect(get_settings()) as conn:
            rows = bench_queries(conn, params, repeats, get_settings().warehouse_schema)
    except (queries.QueryError, WarehouseUnavailable) as e:
        _fail(str(e))
    t = Table("query", "rows", "median ms", "p95 ms", f"p95 <= {target_ms:g} ms")
    for r in rows:
        t.add_row(
            r["query"],
            str(r["rows"]),
            f"{r['median_ms']:.1f}",
            f"{r['p95_ms']:.1f}",
            "yes" if r["p95_ms"] <= target_ms else "NO",
        )
    console.print(t)
    ok = sum(r["p95_ms"] <= target_ms for r in rows)
    console.print(
        f"{ok}/{len(rows)} queries within p95 <= {target_ms:g} ms ({repeats} runs each, month {month})"
    )


@app.command("exec")
def exec_(
    file: str = typer.Option(None, "--file", help="A file holding one Redshift statement."),
    sql_text: str = typer.Option(
        None, "--sql", help="One Redshift statement, e.g. \"COPY ... FROM 's3://...'\"."
    ),
    fmt: str = typer.Option(
        "table", "--format", "-f", help="table | csv | json (for statements returning rows)"
    ),
) -> None:
    """Execute one Redshift statement: COPY/UNLOAD emulated against the lake (aws profile: Redshift
    through the Data API), anything else guarded and translated to PostgreSQL."""
    from pathlib import Path

    from taxilab.warehouse.sql_exec import run_statement

    if (file is None) == (sql_text is None):
        _fail('give exactly one of --file F or --sql "..."')
    if fmt not in ("table", "csv", "json"):
        _fail(f"--format {fmt!r}: expected table, csv or json")
    try:
        text = Path(file).read_text() if file is not None else sql_text
    except OSError as e:
        _fail(f"cannot read {file}: {e}")
    try:
        # Errors of every kind (bad statement, dialect guard, COPY/UNLOAD, PostgreSQL, Data API, no
        # warehouse) are ValueErrors or RuntimeErrors naming the statement and the problem.
        result = run_statement(get_settings(), text)
    except (RuntimeError, ValueError) as e:
        _fail(str(e))
    if result.columns:
        qr = queries.QueryResult(result.columns, result.rows)
        if fmt == "table":
            t = Table(*result.columns)
            for row in result.rows:
                t.add_row(*["" if v is None else str(_plain(v)) for v in row])
            console.print(t)
        else:
            sys.stdout.write(render(qr, fmt))
    if result.message:
        err.print(result.message)


@app.command("spectrum-refresh")
def spectrum_refresh() -> None:
    """Rebuild the external tables of every external schema (CREATE EXTERNAL SCHEMA ... FROM DATA
    CATALOG) from the Glue catalog: new partitions, tables and columns become visible."""
    from taxilab import resources
    from taxilab.warehouse.loader import WarehouseUnavailable

    try:
        refreshed = resources.warehouse(get_settings()).refresh_external_schemas()
    except (RuntimeError, WarehouseUnavailable) as e:  # SpectrumError is a RuntimeError
        _fail(str(e))
    if not refreshed:
        console.print(
            "no external schemas to rebuild (CREATE EXTERNAL SCHEMA ... FROM DATA CATALOG first; on "
            "Redshift, Spectrum reads the Glue catalog itself)"
        )
    for schema, tables in refreshed.items():
        console.print(f"{schema}: {tables} external tables rebuilt")
