"""The lab's alarms: declared once in alarms.json (also read by deploy_aws/), evaluated by the lab.

The emulator (moto) stores alarms but evaluates none, so on the emulated profiles `evaluate` does what
CloudWatch does after every run and on `taxilab ops check` (ADR 0013): for each declared alarm it reads the
metric's datapoints of the evaluation range from the emulator (GetMetricData: period-aligned buckets, the
declared statistic, exact dimensions), decides the state with CloudWatch's rules (M out of N datapoints to
alarm, missing-data treatment), and on a change records it (the emulator's alarm via SetAlarmState, the
lab's state file and history) and publishes it to the SNS topic (taxilab.ops.notify). On the aws profile
CloudWatch evaluates the same declarations itself; `evaluate` only reads their states there.

Local drills may override declarations (lower a threshold, shorten a period) with
<state_dir>/ops/alarms.override.json: {"sns_topic": ..., "alarms": {"<alarm_name>": {"threshold": 1}}}.
"""

from __future__ import annotations

import fcntl
import json
import logging
import operator
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from taxilab.core.settings import Settings

log = logging.getLogger(__name__)
DECLARATIONS = Path(__file__).with_name("alarms.json")
COMPARISONS = {
    "GreaterThanThreshold": operator.gt,
    "GreaterThanOrEqualToThreshold": operator.ge,
    "LessThanThreshold": operator.lt,
    "LessThanOrEqualToThreshold": operator.le,
}
TREATMENTS = ("missing", "notBreaching", "breaching", "ignore")
STATISTICS = ("SampleCount", "Average", "Sum", "Minimum", "Maximum")
STATES = ("OK", "ALARM", "INSUFFICIENT_DATA")
ALARM_KEYS = (
    "alarm_name",
    "alarm_description",
    "metric_name",
    "dimensions",
    "statistic",
    "period",
    "evaluation_periods",
    "datapoints_to_alarm",
    "threshold",
    "comparison_operator",
    "treat_missing_data",
)
OVERRIDABLE = (
    "alarm_description",
    "period",
    "evaluation_periods",
    "datapoints_to_alarm",
    "threshold",
    "treat_missing_data",
    "statistic",
    "comparison_operator",
)


class DeclarationError(ValueError):
    pass


@dataclass(frozen=True)
class Alarm:
    alarm_name: str
    alarm_description: str
    metric_name: str
    dimensions: dict
    statistic: str
    period: int
    evaluation_periods: int
    datapoints_to_alarm: int
    threshold: float
    comparison_operator: str
    treat_missing_data: str

    def breaches(self, value: float) -> bool:
        return COMPARISONS[self.comparison_operator](value, self.threshold)


@dataclass(frozen=True)
class Declarations:
    namespace: str
    sns_topic: str
    budget: dict
    alarms: tuple[Alarm, ...]
    glue_job_state_rule: dict
    overridden: tuple[str, ...] = ()

    def alarm(self, name: str) -> Alarm:
        for a in self.alarms:
            if a.alarm_name == name:
                return a
        raise KeyError(name)


def override_file(settings: Settings) -> Path:
    return settings.state_dir / "ops" / "alarms.override.json"


def _check_alarm(a: dict, where: str) -> None:
    missing = [k for k in ALARM_KEYS if k not in a]
    extra = [k for k in a if k not in ALARM_KEYS]
    if missing or extra:
        raise DeclarationError(
            f"{where}: missing keys {missing}, unknown keys {extra} (keys are PutMetricAlarm's "
            "parameters in snake_case)"
        )
    if a["comparison_operator"] not in COMPARISONS:
        raise DeclarationError(
            f"{where}: comparison_operator {a['comparison_operator']!r}: expected one of {list(COMPARISONS)}"
        )
    if a["treat_missing_data"] not in TREATMENTS:
        raise DeclarationError(
            f"{where}: treat_missing_data {a['treat_missing_data']!r}: expected one of {list(TREATMENTS)}"
        )
    if a["statistic"] not in STATISTICS:
        raise DeclarationError(f"{where}: statistic {a['statistic']!r}: expected one of {list(STATISTICS)}")
    p = a["period"]
    if not isinstance(p, int) or not (p in (10, 20, 30) or (p >= 60 and p % 60 == 0)):
        raise DeclarationError(
            f"{where}: period {p!r}: CloudWatch allows 10, 20, 30 or a multiple of 60 seconds"
        )
    n, m = a["evaluation_periods"], a["datapoints_to_alarm"]
    if not (isinstance(n, int) and isinstance(m, int) and 1 <= m <= n):
        raise DeclarationError(f"{where}: datapoints_to_alarm {m!r} must be 1..evaluation_periods ({n!r})")
    if not isinstance(a["threshold"], int | float):
        raise DeclarationError(f"{where}: threshold {a['threshold']!r} is not a number")


def load_declarations(
    profile: str, path: Path = DECLARATIONS, override: Path | dict | None = None
) -> Declarations:
    """The declarations with ${profile} filled in; `override` (a file or dict) replaces top-level keys and per
    alarm fields (only those in OVERRIDABLE)."""
    try:
        raw = json.loads(Path(path).read_text())
    except (OSError, ValueError) as e:
        raise DeclarationError(f"alarm declarations {path}: {e}") from None
    over: dict = {}
    if isinstance(override, dict):
        over = override
    elif override is not None and Path(override).exists():
        try:
            over = json.loads(Path(override).read_text())
        except ValueError as e:
            raise DeclarationError(f"alarm override {override}: {e}") from None
    for key in ("namespace", "sns_topic", "budget"):
        if key in over:
            raw[key] = over[key]
    changed = over.get("alarms", {})
    names = [a.get("alarm_name") for a in raw.get("alarms", [])]
    unknown = sorted(set(changed) - set(names))
    if unknown:
        raise DeclarationError(f"alarm override names unknown alarm(s) {unknown}; declared: {names}")
    alarms = []
    for i, a in enumerate(raw.get("alarms", [])):
        a = dict(a)
        for k, v in changed.get(a["alarm_name"], {}).items():
            if k not in OVERRIDABLE:
                raise DeclarationError(
                    f"alarm override of {a['alarm_name']}: {k!r} cannot be overridden ({OVERRIDABLE})"
                )
            a[k] = v
        _check_alarm(a, f"{path} alarms[{i}] ({a.get('alarm_name')})")
        dims = {k: (profile if v == "${profile}" else v) for k, v in a["dimensions"].items()}
        alarms.append(Alarm(**{**a, "dimensions": dims}))
    if len(set(names)) != len(names):
        raise DeclarationError(f"{path}: duplicate alarm names")
    b = raw.get("budget", {})
    if not b or float(b.get("limit_usd", 0)) <= 0 or not b.get("thresholds_percent"):
        raise DeclarationError(f"{path}: budget needs limit_usd > 0 and thresholds_percent")
    return Declarations(
        raw["namespace"],
        raw["sns_topic"],
        b,
        tuple(alarms),
        raw.get("glue_job_state_rule", {}),
        tuple(sorted(changed)) + tuple(k for k in ("namespace", "sns_topic", "budget") if k in over),
    )


def declarations_for(settings: Settings) -> Declarations:
    return load_declarations(
        settings.profile, override=override_file(settings) if settings.uses_emulator else None
    )


# ---- CloudWatch's evaluation rules ---------------------------------------------------------------------
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
@dataclass
class Transition:
    alarm: str
    previous: str
    state: str
    reason: str
    value: float | None
    threshold: float
    comparison: str
    metric: str
    dimensions: dict
    job: str | None
    stage: str | None
    month: str | None
    run_id: str | None
    time: str
    extra: dict = field(default_factory=dict)

    def message(self) -> dict:
        return asdict(self)


def _context(alarm: Alarm, report: dict | None) -> dict:
    """Which job or stage, month and run an alarm's change is about (from the run that was just reported)."""
    from taxilab.ops.metrics import stage_jobs

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
    from taxilab.core.clients import client
    from taxilab.ops import budget, notify

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
