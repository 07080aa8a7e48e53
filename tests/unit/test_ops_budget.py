"""The local budget: month-to-date of the run reports' estimated costs against 50/80/100% of the limit,
each threshold its own alarm; a new calendar month starts from zero."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal

from taxilab.core.settings import load_settings
from taxilab.ops import alarms, budget

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def _report(settings, run_id: str, started_at: str, total: str) -> None:
    settings.runs_dir.mkdir(parents=True, exist_ok=True)
    (settings.runs_dir / f"{run_id}.json").write_text(
        json.dumps(
            {
                "run_id": run_id,
                "month": "2024-02",
                "started_at": started_at,
                "status": "succeeded",
                "stages": [],
                "estimated_cost": {"total_usd": total, "by_service_usd": {"glue": total}},
            }
        )
    )


def _states(settings, now=NOW) -> tuple[dict, list]:
    decl = alarms.load_declarations("local")
    states: dict = {}
    changes = budget.evaluate(settings, decl, states, now, None)
    return {k: v["state"] for k, v in states.items()}, changes


def test_month_to_date_counts_only_this_calendar_months_runs(tmp_path):
    s = load_settings(state_dir=tmp_path)
    _report(s, "a", "2026-10-31T23:59:59+00:00", "9.00")  # last month: not in November's spend
    _report(s, "b", "2026-11-02T08:00:00+00:00", "1.00")
    _report(s, "c", "2026-11-02T09:00:00+00:00", "0.50")
    _report(s, "d", "2026-11-10T09:00:00+00:00", "1.50")
    (s.runs_dir / "latest.json").write_text((s.runs_dir / "d.json").read_text())  # a copy, not counted twice
    mtd = budget.month_to_date(s, NOW)
    assert (mtd.month, mtd.total, mtd.runs, mtd.active_days) == ("2026-11", Decimal("3.00"), 3, 2)
    # projected: 3.00 + 3.00 / 2 active days * 10 remaining days (20th of a 30-day month) = 18.00
    assert mtd.projected == Decimal("18.00")


def test_each_threshold_alarms_once_the_month_to_date_reaches_it(tmp_path):
    s = load_settings(state_dir=tmp_path)
    _report(s, "a", "2026-11-01T08:00:00+00:00", "2.49")
    states, changes = _states(s)
    assert states == {
        "taxilab-monthly-50pct": "OK",
        "taxilab-monthly-80pct": "OK",
        "taxilab-monthly-100pct": "OK",
    }
    _report(s, "b", "2026-11-03T08:00:00+00:00", "0.01")  # 2.50 = 50% of $5
    states, changes = _states(s)
    assert states["taxilab-monthly-50pct"] == "ALARM" and states["taxilab-monthly-80pct"] == "OK"
    _report(s, "c", "2026-11-04T08:00:00+00:00", "2.50")  # 5.00 = 100%
    states, changes = _states(s)
    assert set(states.values()) == {"ALARM"}
    c = next(c for c in changes if c.alarm == "taxilab-monthly-100pct")
    assert c.value == 5.0 and c.threshold == 5.0 and c.extra == {"budget_month": "2026-11", "percent": 100}
    # December: nothing spent yet, every threshold clear
    states, _ = _states(s, datetime(2026, 12, 1, 0, 5, tzinfo=UTC))
    assert set(states.values()) == {"OK"}
