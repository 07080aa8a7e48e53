"""What the lab's operations are declared as: the alarm declarations (alarms.json, also read by deploy_aws/)
with their checks and local overrides, an alarm's state change (Transition), and which declared job does a
pipeline stage's work. Shared by alarms, budget and metrics (docs/adr/0013-operations-metrics-alarms-cost.md).
"""

from __future__ import annotations

import json
import operator
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path

from taxilab.core.settings import Settings

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


@lru_cache(maxsize=1)
def stage_jobs() -> dict[str, str]:
    """Pipeline stage -> the Glue job (or crawler) doing that work, from spark_jobs/jobgraph.json."""
    from taxilab.core.jobgraph import load

    d = load()
    out = {j["local"]: j["name"] for j in d.raw["jobs"]}
    crawlers = list(d.crawlers)
    if crawlers:
        out["crawl"] = crawlers[0]
    return out
