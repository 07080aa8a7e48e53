"""`taxilab ops status`: the last runs with stage times, the alarms and their states, freshness of the latest
daily drops, the month-to-date cost against the budget. One dict (for --json), rendered with rich."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from taxilab.core.settings import Settings

_CENT4 = Decimal("0.0001")


def gather(settings: Settings, runs: int = 5, now: datetime | None = None) -> dict:
    import taxilab.ops.alarms as alarms
    import taxilab.ops.budget as budget

    now = now or datetime.now(UTC)
    decl = alarms.declarations_for(settings)
    reports = budget.run_reports(settings)
    last = [
        {
            "run_id": r["run_id"],
            "month": r["month"],
            "source": r.get("source"),
            "status": r["status"],
            "started_at": r["started_at"],
            "seconds": r.get("seconds"),
            "stages": {s["name"]: s["seconds"] for s in r.get("stages", [])},
            "estimated_cost_usd": (r.get("estimated_cost") or {}).get("total_usd"),
        }
        for r in reports[-runs:]
    ]
    states = _states(settings, decl)
    drops_report = next((r for r in reversed(reports) if r.get("drops")), None)
    sla = next((a.threshold for a in decl.alarms if a.metric_name == "DropFreshness"), None)
    freshness = None
    if drops_report:
        freshness = {
            "run_id": drops_report["run_id"],
            "sla_s": sla,
            "drops": [
                {
                    "key": d["key"],
                    "created": d["created"],
                    "visible_at": d["visible_at"],
                    "freshness_s": d["freshness_s"],
                    "within_sla": sla is None or d["freshness_s"] <= sla,
                }
                for d in drops_report["drops"]
            ],
        }
    mtd = budget.month_to_date(settings, now)
    return {
        "profile": settings.profile,
        "namespace": decl.namespace,
        "sns_topic": decl.sns_topic,
        "overrides": list(decl.overridden),
        "runs": last,
        "alarms": states,
        "freshness": freshness,
        "cost": {
            "month": mtd.month,
            "month_to_date_usd": str(mtd.total.quantize(_CENT4)),
            "glue_month_to_date_usd": str(mtd.glue.quantize(_CENT4)),
            "projected_month_usd": str(mtd.projected.quantize(_CENT4)),
            "runs": mtd.runs,
            "budget_usd": decl.budget["limit_usd"],
            "budget_used_percent": round(float(mtd.total) / float(decl.budget["limit_usd"]) * 100, 1),
        },
    }


def _states(settings: Settings, decl) -> list[dict]:
    import taxilab.ops.alarms as alarms
    import taxilab.ops.budget as budget

    if not settings.uses_emulator:  # CloudWatch's own evaluation of the deployed alarms
        from taxilab.core.clients import client

        got = client("cloudwatch", settings).describe_alarms(AlarmNames=[a.alarm_name for a in decl.alarms])
        return [
            {
                "alarm": m["AlarmName"],
                "state": m["StateValue"],
                "since": m["StateUpdatedTimestamp"].isoformat(),
                "reason": m.get("StateReason"),
                "threshold": m.get("Threshold"),
                "value": None,
            }
            for m in got["MetricAlarms"]
        ]
    stored = alarms.read_states(settings)
    out = []
    names = [a.alarm_name for a in decl.alarms] + [n for n, _, _ in budget.thresholds(decl)]
    for name in names:
        s = stored.get(name, {})
        out.append(
            {
                "alarm": name,
                "state": s.get("state", "INSUFFICIENT_DATA"),
                "since": s.get("since"),
                "value": s.get("value"),
                "threshold": s.get("threshold"),
                "reason": s.get("reason", "not evaluated yet (`taxilab ops check`)"),
            }
        )
    return out


def render(st: dict, console) -> None:
    from rich.table import Table

    t = Table(title=f"last runs (profile {st['profile']})", title_justify="left")
    for col in ("run", "month", "status", "end to end s", "stage seconds", "est. AWS $"):
        t.add_column(col)
    for r in st["runs"]:
        colour = "green" if r["status"] == "succeeded" else "red"
        t.add_row(
            r["run_id"],
            r["month"],
            f"[{colour}]{r['status']}[/]",
            f"{r['seconds'] or 0:.1f}",
            " ".join(f"{k}={v:.1f}" for k, v in r["stages"].items()),
            f"{float(r['estimated_cost_usd']):.4f}" if r["estimated_cost_usd"] else "",
        )
    console.print(t)
    a = Table(
        title=f"alarms ({st['namespace']} -> SNS {st['sns_topic']})"
        + (f"; local overrides: {', '.join(st['overrides'])}" if st["overrides"] else ""),
        title_justify="left",
    )
    for col in ("alarm", "state", "since", "value", "threshold"):
        a.add_column(col)
    for x in st["alarms"]:
        colour = {"OK": "green", "ALARM": "red"}.get(x["state"], "yellow")
        a.add_row(
            x["alarm"],
            f"[{colour}]{x['state']}[/]",
            x["since"] or "",
            "" if x["value"] is None else f"{x['value']:g}",
            "" if x["threshold"] is None else f"{x['threshold']:g}",
        )
    console.print(a)
    f = st["freshness"]
    if f:
        d = Table(title=f"latest daily drops (run {f['run_id']}, SLA {f['sla_s']:g} s)", title_justify="left")
        for col in ("drop", "created", "queryable", "freshness s"):
            d.add_column(col)
        for x in f["drops"]:
            d.add_row(
                x["key"].rsplit("/", 1)[-1],
                x["created"],
                x["visible_at"],
                f"{x['freshness_s']:.1f}" + ("" if x["within_sla"] else " [red]over SLA[/]"),
            )
        console.print(d)
    else:
        console.print("daily drops: none reported yet (`make simulate`)")
    c = st["cost"]
    console.print(
        f"cost {c['month']}: month to date ${c['month_to_date_usd']} (Glue ${c['glue_month_to_date_usd']}) over "
        f"{c['runs']} run(s); projected ${c['projected_month_usd']}; budget ${c['budget_usd']:g} "
        f"({c['budget_used_percent']}% used)"
    )
