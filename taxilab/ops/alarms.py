"""The lab's alarms: declared once in alarms.json (also read by deploy_aws/), evaluated by the lab.
Why: docs/adr/0013-operations-metrics-alarms-cost.md.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from taxilab.core.settings import Settings
from taxilab.ops.declarations import (  # noqa: F401 - the declarations' API, re-exported for callers
    ALARM_KEYS,
    COMPARISONS,
    DECLARATIONS,
    OVERRIDABLE,
    STATES,
    STATISTICS,
    TREATMENTS,
    Alarm,
    DeclarationError,
    Declarations,
    Transition,
    _check_alarm,
    declarations_for,
    load_declarations,
    override_file,
    stage_jobs,
)

log = logging.getLogger(__name__)


@dataclass
class Evaluation:
    state: str
    reason: str
    values: list[float | None]
    breaching: int
    present: int
    value: float | None  # the datapoint the message shows: newest breaching one in ALARM, else the newest


def evaluate_series(
    alarm: Alarm, values: list[float | None], current: str = "INSUFFICIENT_DATA"
) -> Evaluation:
    """The state for the evaluation range `values` (oldest first, one per period, None = missing datapoint).

    - Enough real datapoints (>= datapoints_to_alarm): they alone decide; ALARM when at least M of them
      breach, else OK (the missing-data treatment is not needed).
    - None at all: missing -> INSUFFICIENT_DATA, ignore -> the current state, breaching -> ALARM,
      notBreaching -> OK.
    - Some, but fewer than M: missing datapoints are filled per the treatment. breaching: ALARM when the
      real breaching ones plus the missing ones reach M; notBreaching: OK (M cannot be reached); missing:
      ALARM when every real one breaches, else OK; ignore: OK when none breaches, else the current state.
    """
    n, m = alarm.evaluation_periods, alarm.datapoints_to_alarm
    if len(values) != n:
        raise ValueError(f"{alarm.alarm_name}: {len(values)} values for {n} evaluation periods")
    real = [v for v in values if v is not None]
    b = sum(1 for v in real if alarm.breaches(v))
    k = len(real)
    newest_breach = next((v for v in reversed(values) if v is not None and alarm.breaches(v)), None)
    newest = next((v for v in reversed(values) if v is not None), None)
    op = {
        "GreaterThanThreshold": ">",
        "GreaterThanOrEqualToThreshold": ">=",
        "LessThanThreshold": "<",
        "LessThanOrEqualToThreshold": "<=",
    }[alarm.comparison_operator]
    shown = ", ".join("-" if v is None else f"{v:g}" for v in values)
    t = alarm.treat_missing_data
    if k >= m:
        state = "ALARM" if b >= m else "OK"
        why = f"{b} of {k} datapoint(s) [{shown}] {op} {alarm.threshold:g} (need {m} of {n})"
    elif k == 0:
        state = {
            "missing": "INSUFFICIENT_DATA",
            "ignore": current,
            "breaching": "ALARM",
            "notBreaching": "OK",
        }[t]
        why = f"no datapoint in {n} period(s) of {alarm.period} s; missing data treated as {t}"
    else:
        missing = n - k
        if t == "breaching":
            state = "ALARM" if b + missing >= m else "OK"
        elif t == "notBreaching":
            state = "OK"
        elif t == "missing":
            state = "ALARM" if b == k else "OK"
        else:  # ignore
            state = "OK" if b == 0 else current
        why = (
            f"{b} of {k} real datapoint(s) [{shown}] {op} {alarm.threshold:g}, {missing} missing treated as {t} "
            f"(need {m} of {n})"
        )
    value = newest_breach if state == "ALARM" and newest_breach is not None else newest
    return Evaluation(state, why, list(values), b, k, value)


def window(alarm: Alarm, now: datetime) -> list[datetime]:
    """Start of each period of the evaluation range, oldest first; the newest is the period holding `now`
    (a run's datapoints count as soon as they are put, as CloudWatch evaluates the current period)."""
    epoch = int(now.timestamp())
    newest = epoch - epoch % alarm.period
    return [
        datetime.fromtimestamp(newest - i * alarm.period, UTC)
        for i in range(alarm.evaluation_periods - 1, -1, -1)
    ]


# ---- state on disk ------------------------------------------------------------------------------------
def ops_dir(settings: Settings) -> Path:
    return settings.state_dir / "ops"


def state_file(settings: Settings) -> Path:
    return ops_dir(settings) / "alarm_state.json"


def history_file(settings: Settings) -> Path:
    return ops_dir(settings) / "alarm_history.jsonl"


@contextmanager
def _locked(settings: Settings) -> Iterator[None]:
    """Runs for different months may finish together: one evaluation at a time per lab."""
    ops_dir(settings).mkdir(parents=True, exist_ok=True)
    fd = os.open(ops_dir(settings) / "alarms.lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def read_states(settings: Settings) -> dict[str, dict]:
    try:
        return json.loads(state_file(settings).read_text())
    except (OSError, ValueError):
        return {}


def _write_states(settings: Settings, states: dict) -> None:
    p = state_file(settings)
    tmp = p.with_name(f".{p.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(states, indent=1, sort_keys=True))
    tmp.replace(p)


def history(settings: Settings, alarm_name: str | None = None) -> list[dict]:
    p = history_file(settings)
    if not p.exists():
        return []
    out = [json.loads(ln) for ln in p.read_text().splitlines() if ln.strip()]
    return [h for h in out if alarm_name is None or h["alarm"] == alarm_name]


# ---- evaluation against the emulator -----------------------------------------------------------------
def _context(alarm: Alarm, report: dict | None) -> dict:
    """Which job or stage, month and run an alarm's change is about (from the run that was just reported)."""

    jobs_of = stage_jobs()
    job = alarm.dimensions.get("job")
    stage = alarm.dimensions.get("stage") or next((s for s, j in jobs_of.items() if j == job), None)
    if report is None:
        return {"job": job, "stage": stage, "month": None, "run_id": None}
    if job is None and stage is None:
        failed = [s["name"] for s in report.get("stages", []) if s.get("status") == "failed"]
        by_metric = {
            "JobRunFailed": failed[0] if failed else None,
            "ReconciliationFailed": "validate",
            "QuarantineRate": "etl",
            "DropFreshness": "drops",
            "EndToEndDuration": "pipeline",
            "ProjectedMonthCost": "pipeline",
        }
        stage = by_metric.get(alarm.metric_name)
        job = jobs_of.get(stage or "", "taxilab-pipeline" if stage else None)
    return {"job": job, "stage": stage, "month": report.get("month"), "run_id": report.get("run_id")}


def fetch_values(
    settings: Settings, decl: Declarations, alarms: list[Alarm], now: datetime
) -> dict[str, list[float | None]]:
    """Each alarm's evaluation-range values, from the emulator's stored metrics (one GetMetricData call)."""
    from taxilab.core.clients import client

    cw = client("cloudwatch", settings)
    out: dict[str, list[float | None]] = {}
    queries: list[dict[str, Any]] = []
    ranges: dict[str, tuple[Alarm, list[datetime]]] = {}
    for i, a in enumerate(alarms):
        starts = window(a, now)
        ranges[f"a{i}"] = (a, starts)
        queries.append(
            {
                "Id": f"a{i}",
                "ReturnData": True,
                "MetricStat": {
                    "Metric": {
                        "Namespace": decl.namespace,
                        "MetricName": a.metric_name,
                        "Dimensions": [{"Name": k, "Value": v} for k, v in sorted(a.dimensions.items())],
                    },
                    "Period": a.period,
                    "Stat": a.statistic,
                },
            }
        )
    # One call per distinct range (alarms of different periods need different Start/End times).
    by_range: dict[tuple, list[dict]] = {}
    for q in queries:
        a, starts = ranges[q["Id"]]
        by_range.setdefault((starts[0], starts[-1] + timedelta(seconds=a.period)), []).append(q)
    for (start, end), qs in by_range.items():
        resp = cw.get_metric_data(MetricDataQueries=qs, StartTime=start, EndTime=end)
        for r in resp["MetricDataResults"]:
            a, starts = ranges[r["Id"]]
            got = {
                int(ts.timestamp()) - int(ts.timestamp()) % a.period: v
                for ts, v in zip(r["Timestamps"], r["Values"], strict=True)
            }
            out[a.alarm_name] = [got.get(int(s.timestamp())) for s in starts]
    return out


def _put_alarm(cw, decl: Declarations, a: Alarm, topic_arn: str | None) -> None:
    kwargs = dict(
        AlarmName=a.alarm_name,
        AlarmDescription=a.alarm_description,
        Namespace=decl.namespace,
        MetricName=a.metric_name,
        Dimensions=[{"Name": k, "Value": v} for k, v in sorted(a.dimensions.items())],
        Statistic=a.statistic,
        Period=a.period,
        EvaluationPeriods=a.evaluation_periods,
        DatapointsToAlarm=a.datapoints_to_alarm,
        Threshold=float(a.threshold),
        ComparisonOperator=a.comparison_operator,
        TreatMissingData=a.treat_missing_data,
    )
    if topic_arn:
        kwargs.update(AlarmActions=[topic_arn], OKActions=[topic_arn])
    cw.put_metric_alarm(**kwargs)


def evaluate(
    settings: Settings,
    report: dict | None = None,
    now: datetime | None = None,
    declarations: Declarations | None = None,
) -> list[Transition]:
    """Evaluate every declared alarm (and the budget) now; record and publish each state change. Returns the
    changes. `report` (a run report's dict) names the job/stage, month and run in the messages; default the
    latest run report."""
    import taxilab.ops.budget as budget
    import taxilab.ops.notify as notify
    from taxilab.core.clients import client

    decl = declarations or declarations_for(settings)
    now = now or datetime.now(UTC)
    if report is None:
        from taxilab.report import load_latest

        report = load_latest(settings.runs_dir)
    if not settings.uses_emulator:
        return []  # CloudWatch evaluates the deployed alarms itself; `status` reads their states
    cw = client("cloudwatch", settings)
    topic_arn = notify.ensure_topic(settings, decl)
    changes: list[Transition] = []
    with _locked(settings):
        states = read_states(settings)
        values = fetch_values(settings, decl, list(decl.alarms), now)
        stored = {
            m["AlarmName"]: m
            for m in cw.describe_alarms(AlarmNames=[a.alarm_name for a in decl.alarms])["MetricAlarms"]
        }
        for a in decl.alarms:
            prev = states.get(a.alarm_name, {})
            # Declared (again) when new, changed, or gone from an emulator that restarted empty.
            if a.alarm_name not in stored or prev.get("declared") != _fingerprint(a):
                _put_alarm(cw, decl, a, topic_arn)
                stored[a.alarm_name] = {"StateValue": None}
            current = prev.get("state", "INSUFFICIENT_DATA")
            ev = evaluate_series(a, values[a.alarm_name], current)
            entry = {
                "state": ev.state,
                "reason": ev.reason,
                "value": ev.value,
                "threshold": a.threshold,
                "evaluated_at": now.isoformat(timespec="seconds"),
                "declared": _fingerprint(a),
                "since": prev.get("since") if ev.state == current else now.isoformat(timespec="seconds"),
            }
            states[a.alarm_name] = entry
            if stored[a.alarm_name].get("StateValue") != ev.state:
                cw.set_alarm_state(
                    AlarmName=a.alarm_name,
                    StateValue=ev.state,
                    StateReason=ev.reason[:1000],
                    StateReasonData=json.dumps(
                        {
                            "version": "1.0",
                            "queryDate": now.isoformat(),
                            "recentDatapoints": [v for v in ev.values if v is not None],
                            "threshold": a.threshold,
                        }
                    ),
                )
            if ev.state != current:
                t = Transition(
                    a.alarm_name,
                    current,
                    ev.state,
                    ev.reason,
                    ev.value,
                    a.threshold,
                    a.comparison_operator,
                    a.metric_name,
                    a.dimensions,
                    time=now.isoformat(timespec="seconds"),
                    **_context(a, report),
                )
                changes.append(t)
        changes += budget.evaluate(settings, decl, states, now, report)
        _write_states(settings, states)
        with history_file(settings).open("a") as f:
            for t in changes:
                f.write(json.dumps(t.message()) + "\n")
    for t in changes:
        # Into ALARM and out of it are news; INSUFFICIENT_DATA <-> OK (first evaluation, a new alarm) is
        # kept in the history only, so the inbox reads as a list of incidents.
        if "ALARM" in (t.previous, t.state):
            notify.publish(settings, decl, topic_arn, t.message())
    return changes


def _fingerprint(a: Alarm) -> str:
    return json.dumps(asdict(a), sort_keys=True)
