"""`taxilab ops ...`: operations of the lab: status, alarm check, cost, re-validation (ADR 0013).
Registered in taxilab/cli/__init__.py with `app.add_typer(cli_ops.app, name="ops")`.
"""

from __future__ import annotations

import json
import os
import sys
from datetime import UTC, datetime
from decimal import Decimal

import typer
from rich.console import Console
from rich.table import Table

from spark_jobs.month import Month

app = typer.Typer(
    help="Operations: run metrics, alarms (CloudWatch semantics), cost model and budget.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console(highlight=False, width=None if sys.stdout.isatty() else 160)
err = Console(stderr=True, highlight=False)

JSON = typer.Option(False, "--json", help="Print JSON for scripts.")
KPI_GLUE_USD = Decimal("5.00")  # the seed's KPI: Glue under $5 a month


def _fail(msg: str, code: int = 1) -> None:
    err.print(f"[red]error:[/] {msg}")
    raise typer.Exit(code)


def _live():
    from taxilab.cli.glue import _live as live

    return live()


@app.command()
def status(
    as_json: bool = JSON, runs: int = typer.Option(5, "--runs", help="How many recent runs to show.")
) -> None:
    """Last runs with stage times, alarms and their states, freshness of the latest drops, month-to-date cost."""
    from taxilab.core.settings import get_settings
    from taxilab.ops import status as st

    data = st.gather(get_settings(), runs)
    if as_json:
        console.print_json(json.dumps(data, default=str))
    else:
        st.render(data, console)


@app.command()
def check(
    as_json: bool = JSON,
    fail_on_alarm: bool = typer.Option(False, "--fail-on-alarm", help="Exit 1 when any alarm is in ALARM."),
) -> None:
    """Evaluate every declared alarm and the budget now over the stored metrics; publish state changes."""
    from taxilab.ops import alarms
    from taxilab.ops import status as st

    s = _live()
    try:
        changes = alarms.evaluate(s)
    except alarms.DeclarationError as e:
        _fail(str(e), 2)
    data = st.gather(s, runs=0)
    if as_json:
        console.print_json(
            json.dumps({"changes": [c.message() for c in changes], "alarms": data["alarms"]}, default=str)
        )
    else:
        for c in changes:
            console.print(
                f"{c.alarm}: {c.previous} -> [bold]{c.state}[/] ({c.reason}); published to {data['sns_topic']}"
            )
        if not changes:
            console.print("no state change")
        t = Table("alarm", "state", "reason")
        for a in data["alarms"]:
            t.add_row(a["alarm"], a["state"], a["reason"] or "")
        console.print(t)
    if fail_on_alarm and any(a["state"] == "ALARM" for a in data["alarms"]):
        raise typer.Exit(1)


@app.command()
def validate(month: str = typer.Option(..., "--month", "-m", help="Month to reconcile, YYYY-MM.")) -> None:
    """Reconcile a month again now (lake vs warehouse) as a run: report, metrics and alarms."""
    from taxilab.ops import checks
    from taxilab.report import render

    try:
        rep = checks.revalidate(_live(), month)
    except ValueError as e:
        _fail(str(e), 2)
    render(rep.to_dict(), console)
    if rep.status != "succeeded":
        raise typer.Exit(1)


@app.command()
def cost(
    month: str = typer.Option(..., "--month", "-m", help="Data month whose runs are priced, YYYY-MM."),
    gb_per_day: list[float] = typer.Option(
        [1.0, 2.0], "--gb-per-day", help="Daily raw volume(s) to project (the seed: 1-2 GB/day)."
    ),
    as_json: bool = JSON,
) -> None:
    """The month's estimated AWS cost from its runs, and a month of daily runs projected at the seed's volumes
    against the $5/month Glue KPI, with the assumptions."""
    from taxilab.core.jobgraph import load as load_jobgraph
    from taxilab.ingest.drops import BYTES_PER_ROW
    from taxilab.ops import alarms, budget, metrics
    from taxilab.ops import cost as cm

    try:
        Month.parse(month)
    except ValueError as e:
        _fail(f"--month {month!r}: {e}", 2)
    if any(g <= 0 for g in gb_per_day):
        _fail(f"--gb-per-day {gb_per_day}: volumes must be > 0", 2)
    s = _live()
    jg = load_jobgraph().raw
    decl = alarms.declarations_for(s)
    prices = cm.load_prices()
    reports = [r for r in budget.run_reports(s) if r.get("month") == month]
    if not reports:
        _fail(f"no run report for {month} in {s.runs_dir}: run `make pipeline MONTH={month}` first")
    runs_total = sum((cm.report_total(r, jg) for r in reports), Decimal(0))
    glue_total = sum((cm.report_glue(r, jg) for r in reports), Decimal(0))
    usage = metrics.lake_usage(s, datetime.now(UTC).isoformat())
    storage = cm.s3_storage({z: v["bytes"] for z, v in usage.items()}, prices)
    from taxilab.core.clients import client

    n_metrics = 0
    for page in client("cloudwatch", s).get_paginator("list_metrics").paginate(Namespace=decl.namespace):
        n_metrics += len(page["Metrics"])
    cw_month = cm.cloudwatch_month(n_metrics, len(decl.alarms), 0, prices)
    # The largest succeeded pipeline run of any month: its fixed costs (Spark start, minimums) weigh least
    # when its times are scaled up to a day's volume.
    candidates = [
        r
        for r in budget.run_reports(s)
        if r["status"] == "succeeded"
        and any(st["name"] == "ingest" and st.get("rows_in") for st in r.get("stages", []))
    ]
    ref = max(
        candidates,
        key=lambda r: next(st["rows_in"] for st in r["stages"] if st["name"] == "ingest"),
        default=None,
    )
    projections = []
    if ref is not None:
        raw_rows = next(st["rows_in"] for st in ref["stages"] if st["name"] == "ingest")
        raw_gb = raw_rows * BYTES_PER_ROW / 1e9
        raw_bytes = usage["raw"]["bytes"] or 1
        ratio = {z: usage[z]["bytes"] / raw_bytes for z in ("raw", "staging", "quarantine", "curated")}
        ratio["raw"] = 1.0
        projections = [
            cm.project_volume(ref, raw_gb, g, jg, ratio, os.cpu_count() or 1, prices=prices)
            for g in gb_per_day
        ]
    out = {
        "month": month,
        "runs": len(reports),
        "runs_usd": str(runs_total),
        "runs_glue_usd": str(glue_total),
        "storage_month_usd": {z: str(v) for z, v in storage.items()},
        "cloudwatch_month_usd": str(cw_month),
        "cloudwatch_metrics": n_metrics,
        "alarms": len(decl.alarms),
        "kpi_glue_month_usd": str(KPI_GLUE_USD),
        "prices_recorded_on": prices["recorded_on"],
        "projections": [
            {
                "gb_per_day": p.gb_per_day,
                "per_month_usd": {k: str(v) for k, v in p.per_month.items()},
                "storage_first_month_usd": str(sum(p.storage_first_month.values(), Decimal(0))),
                "glue_month_usd": str(p.glue_month),
                "total_month_usd": str(p.total_month + cw_month),
                "within_glue_kpi": p.glue_month <= KPI_GLUE_USD,
                "assumptions": p.assumptions,
            }
            for p in projections
        ],
    }
    if as_json:
        console.print_json(json.dumps(out))
        return
    t = Table(
        title=f"{month}: {len(reports)} run(s) priced at AWS list prices ({prices['region']}, "
        f"recorded {prices['recorded_on']})",
        title_justify="left",
    )
    for col in ("run", "status", "end to end s", "Glue $", "total $"):
        t.add_column(col)
    for r in reports:
        t.add_row(
            r["run_id"],
            r["status"],
            f"{r.get('seconds', 0):.1f}",
            f"{cm.report_glue(r, jg):.4f}",
            f"{cm.report_total(r, jg):.4f}",
        )
    console.print(t)
    console.print(
        f"runs: ${runs_total:.4f} (Glue ${glue_total:.4f}); S3 storage of the lake now for a month: "
        f"${sum(storage.values(), Decimal(0)):.4f} ("
        + ", ".join(f"{z} ${v:.5f}" for z, v in storage.items() if v)
        + "); "
        f"CloudWatch: {n_metrics} metrics, {len(decl.alarms)} alarms -> ${cw_month:.2f}/month after the free tier"
    )
    if not projections:
        console.print("[yellow]no succeeded pipeline run to project from[/]")
        return
    for p in projections:
        verdict = "[green]within[/]" if p.glue_month <= KPI_GLUE_USD else "[red]over[/]"
        console.print(
            f"\nprojection: {p.gb_per_day:g} GB/day, daily runs, {p.days} days: Glue ${p.glue_month:.2f}/month "
            f"— {verdict} the ${KPI_GLUE_USD} KPI; all services ${p.total_month + cw_month:.2f}/month ("
            + ", ".join(f"{k} ${v:.2f}" for k, v in p.per_month.items())
            + f", S3 storage ${sum(p.storage_first_month.values(), Decimal(0)):.2f}"
            + f", CloudWatch metrics and alarms ${cw_month:.2f})"
        )
    console.print("\nassumptions:")
    for a in projections[0].assumptions:
        console.print(f"  - {a}")
