"""The monthly budget, evaluated locally as AWS Budgets would: the cost model's month-to-date (every run
report started this calendar month, UTC) against limit_usd x each of thresholds_percent (alarms.json's
"budget", the same numbers deploy_aws/ gives the AWS Budget). Crossing a threshold raises that threshold's
budget alarm (recorded and published like the CloudWatch ones); a new month starts at 0 and clears them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from taxilab.core.settings import Settings


@dataclass
class MonthToDate:
    month: str  # calendar month of the spend, YYYY-MM
    total: Decimal
    glue: Decimal
    runs: int
    active_days: int
    projected: Decimal


def run_reports(settings: Settings) -> list[dict]:
    """Every run report on disk (latest.json excluded: it is a copy), oldest first."""
    out = []
    if settings.runs_dir.exists():
        for p in sorted(settings.runs_dir.glob("*.json")):
            if p.name == "latest.json":
                continue
            try:
                out.append(json.loads(p.read_text()))
            except ValueError:
                continue  # a report being written right now
    return sorted(out, key=lambda r: r.get("started_at", ""))


def month_to_date(settings: Settings, now: datetime | None = None, extra: dict | None = None) -> MonthToDate:
    """Spend of the calendar month of `now`; `extra` is a report not yet on disk (the run being finished)."""
    import taxilab.ops.cost as cost
    from taxilab.core.jobgraph import load as load_jobgraph

    now = now or datetime.now(UTC)
    jg = load_jobgraph().raw
    key = now.strftime("%Y-%m")
    reports = [r for r in run_reports(settings) if r.get("started_at", "").startswith(key)]
    if (
        extra is not None
        and extra.get("started_at", "").startswith(key)
        and all(r.get("run_id") != extra.get("run_id") for r in reports)
    ):
        reports.append(extra)
    total = sum((cost.report_total(r, jg) for r in reports), Decimal(0))
    glue = sum((cost.report_glue(r, jg) for r in reports), Decimal(0))
    days = {r["started_at"][:10] for r in reports}
    projected = cost.projected_month(total, len(days), now.day, cost.days_in(now.year, now.month))
    return MonthToDate(key, total, glue, len(reports), len(days), projected)


def thresholds(decl) -> list[tuple[str, int, Decimal]]:
    limit = Decimal(str(decl.budget["limit_usd"]))
    return [
        (f"{decl.budget['name']}-{p}pct", int(p), limit * Decimal(p) / 100)
        for p in decl.budget["thresholds_percent"]
    ]


def evaluate(settings: Settings, decl, states: dict, now: datetime, report: dict | None) -> list:
    """Budget threshold states from the month to date; returns Transitions (states updated in place)."""
    from taxilab.ops.declarations import Transition

    mtd = month_to_date(settings, now, report)
    changes = []
    for name, pct, amount in thresholds(decl):
        state = "ALARM" if mtd.total >= amount else "OK"
        prev = states.get(name, {})
        current = prev.get("state", "INSUFFICIENT_DATA")
        reason = (
            f"month-to-date estimated cost ${mtd.total:.4f} ({mtd.month}, {mtd.runs} run(s)) "
            f"{'>=' if state == 'ALARM' else '<'} {pct}% of ${decl.budget['limit_usd']} = ${amount:.2f}"
        )
        states[name] = {
            "state": state,
            "reason": reason,
            "value": float(mtd.total),
            "threshold": float(amount),
            "evaluated_at": now.isoformat(timespec="seconds"),
            "kind": "budget",
            "since": prev.get("since") if state == current else now.isoformat(timespec="seconds"),
        }
        if state != current:
            changes.append(
                Transition(
                    name,
                    current,
                    state,
                    reason,
                    float(mtd.total),
                    float(amount),
                    "GreaterThanOrEqualToThreshold",
                    "MonthToDateCost",
                    {"budget": decl.budget["name"]},
                    job=None,
                    stage=None,
                    month=(report or {}).get("month"),
                    run_id=(report or {}).get("run_id"),
                    time=now.isoformat(timespec="seconds"),
                    extra={"budget_month": mtd.month, "percent": pct},
                )
            )
    return changes
