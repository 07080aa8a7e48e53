"""The lab's AWS cost model: what a run (or a month of runs) would cost on AWS, from measured run times and
the list prices in prices.json (source pages and date recorded there).
Why: docs/adr/0013-operations-metrics-alarms-cost.md.
"""

from __future__ import annotations

import json
import math
from calendar import monthrange
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from functools import lru_cache
from pathlib import Path

PRICES_FILE = Path(__file__).with_name("prices.json")
HOUR = Decimal(3600)
GB = Decimal(2**30)
# Pipeline stage -> the jobgraph "local" name of the Glue job that does its work on AWS.
STAGE_JOB = {"etl": "etl", "aggregates": "aggregates", "warehouse": "warehouse", "validate": "validate"}
# Stages that keep the Redshift workgroup active (consecutive ones are one active period).
WAREHOUSE_STAGES = ("warehouse", "validate", "visible_query")
VCPU_PER_DPU = 4


class CostModelError(ValueError):
    pass


def load_prices(path: Path = PRICES_FILE) -> dict:
    return _load_prices(str(path))


@lru_cache(maxsize=4)
def _load_prices(path: str) -> dict:
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError) as e:
        raise CostModelError(f"price file {path}: {e}") from None


def _d(x) -> Decimal:
    return Decimal(str(x))


def billed_seconds(seconds: float, minimum: int) -> int:
    """Per-second billing: a started second counts whole; below the minimum, the minimum."""
    if seconds is None or not math.isfinite(seconds) or seconds < 0:
        raise CostModelError(f"run time {seconds!r} s: expected a finite number >= 0")
    return max(math.ceil(round(seconds, 6)), minimum)


def glue_job(seconds: float, worker_type: str, workers: int, prices: dict | None = None) -> Decimal:
    g = (prices or load_prices())["glue"]
    if worker_type not in g["worker_dpu"]:
        raise CostModelError(
            f"Glue worker type {worker_type!r}: expected one of {', '.join(g['worker_dpu'])}"
        )
    if int(workers) < 1:
        raise CostModelError(f"Glue number_of_workers {workers!r}: expected >= 1")
    dpus = _d(g["worker_dpu"][worker_type]) * int(workers)
    return dpus * billed_seconds(seconds, g["job_minimum_seconds"]) / HOUR * _d(g["usd_per_dpu_hour"])


def glue_crawler(seconds: float, prices: dict | None = None) -> Decimal:
    g = (prices or load_prices())["glue"]
    return (
        _d(g["crawler_dpus_assumed"])
        * billed_seconds(seconds, g["crawler_minimum_seconds"])
        / HOUR
        * _d(g["usd_per_dpu_hour"])
    )


def redshift_serverless(
    active_periods_s: list[float], prices: dict | None = None, base_rpu: int | None = None
) -> Decimal:
    r = (prices or load_prices())["redshift_serverless"]
    rpu = _d(base_rpu or r["base_capacity_rpu"])
    billed = sum(billed_seconds(s, r["minimum_seconds_per_active_period"]) for s in active_periods_s)
    return rpu * billed / HOUR * _d(r["usd_per_rpu_hour"])


def s3_storage(
    bytes_by_zone: dict[str, int], prices: dict | None = None, months: Decimal = Decimal(1)
) -> dict[str, Decimal]:
    per_gb = (prices or load_prices())["s3"]["usd_per_gb_month"]
    out = {}
    for zone, n in bytes_by_zone.items():
        if zone not in per_gb:
            raise CostModelError(f"S3 zone {zone!r}: no storage price (known: {', '.join(per_gb)})")
        out[zone] = Decimal(int(n)) / GB * _d(per_gb[zone]) * months
    return out


def s3_requests(class_a: int, class_b: int, prices: dict | None = None) -> Decimal:
    s = (prices or load_prices())["s3"]
    return Decimal(class_a) / 1000 * _d(s["usd_per_1000_class_a"]) + Decimal(class_b) / 1000 * _d(
        s["usd_per_1000_class_b"]
    )


def per_request(n: int, usd_per_million: str) -> Decimal:
    return Decimal(n) / 1_000_000 * _d(usd_per_million)


def cloudwatch_month(
    metrics: int,
    alarms: int,
    api_requests: int,
    prices: dict | None = None,
    free_tier: bool = True,
    high_resolution_alarms: int = 0,
) -> Decimal:
    c = (prices or load_prices())["cloudwatch"]
    free_m, free_a, free_r = (
        (c["free_metrics"], c["free_alarms"], c["free_api_requests_per_month"]) if free_tier else (0, 0, 0)
    )
    std_alarms = alarms - high_resolution_alarms
    billable_std = max(0, std_alarms - free_a)
    billable_hr = max(0, high_resolution_alarms - max(0, free_a - std_alarms))
    return (
        max(0, metrics - free_m) * _d(c["usd_per_metric_month"])
        + billable_std * _d(c["usd_per_standard_alarm_month"])
        + billable_hr * _d(c["usd_per_high_resolution_alarm_month"])
        + Decimal(max(0, api_requests - free_r)) / 1000 * _d(c["usd_per_1000_api_requests"])
    )


# ---- one run -------------------------------------------------------------------------------------------
@dataclass
class RunUsage:
    """What one run used, in billing units' raw terms."""

    glue_jobs: list[dict] = field(default_factory=list)  # {"job", "seconds", "worker_type", "workers"}
    crawler_runs_s: list[float] = field(default_factory=list)
    redshift_active_s: list[float] = field(default_factory=list)
    s3_class_a: int = 0
    s3_class_b: int = 0
    sqs_requests: int = 0
    sns_publishes: int = 0
    cloudwatch_requests: int = 0


def _jobs_by_local(jobgraph: dict) -> dict[str, dict]:
    return {j["local"]: j for j in jobgraph["jobs"]}


def _active_periods(steps: list[tuple[str, float]]) -> list[float]:
    """Consecutive warehouse-querying steps are one active period of the Redshift workgroup."""
    periods: list[float] = []
    inside = False
    for name, seconds in steps:
        if name in WAREHOUSE_STAGES:
            if inside:
                periods[-1] += seconds
            else:
                periods.append(seconds)
            inside = True
        else:
            inside = False
    return periods


def usage_from_report(report: dict, jobgraph: dict) -> RunUsage:
    """Usage of a run report (its JSON form): pipeline stages, or the incremental path's daily drops."""
    jobs = _jobs_by_local(jobgraph)
    u = RunUsage()

    def job(local: str, seconds: float) -> None:
        spec = jobs[local]
        u.glue_jobs.append(
            {
                "job": spec["name"],
                "seconds": float(seconds),
                "worker_type": spec["worker_type"],
                "workers": int(spec["number_of_workers"]),
            }
        )

    steps: list[tuple[str, float]] = []
    for st in report.get("stages", []):
        if st.get("status") == "skipped":
            continue
        name, secs = st["name"], float(st.get("seconds") or 0.0)
        if name in STAGE_JOB and STAGE_JOB[name] in jobs:
            job(STAGE_JOB[name], secs)
        elif name == "crawl":
            u.crawler_runs_s.append(secs)
        steps.append((name, secs))
    seen: set = set()
    for d in report.get("drops", []):
        # Drops processed together share one workflow run: their stage times are copies of each other.
        batch = (d.get("visible_at"), tuple(sorted(d.get("stages", {}).items())))
        if batch in seen:
            continue
        seen.add(batch)
        stages = d.get("stages", {})
        for name in ("etl", "aggregates", "warehouse"):
            if name in stages:
                job(name, stages[name])
        if "crawl_after_visible" in stages:
            u.crawler_runs_s.append(stages["crawl_after_visible"])
        steps += [(k, float(v)) for k, v in stages.items()]
        u.sqs_requests += 2  # the receive that brought the event and its delete
    u.redshift_active_s = _active_periods(steps)
    return u


def estimate(usage: RunUsage, prices: dict | None = None) -> dict:
    """Itemised cost of one run's usage (no free tier). Decimal figures."""
    p = prices or load_prices()
    lines = []
    for j in usage.glue_jobs:
        lines.append(
            {
                "service": "glue",
                "item": j["job"],
                "quantity": f"{j['workers']} x {j['worker_type']}, {billed_seconds(j['seconds'], p['glue']['job_minimum_seconds'])} s billed ({j['seconds']:.1f} s run)",
                "usd": glue_job(j["seconds"], j["worker_type"], j["workers"], p),
            }
        )
    for s in usage.crawler_runs_s:
        lines.append(
            {
                "service": "glue",
                "item": "crawler",
                "quantity": f"{p['glue']['crawler_dpus_assumed']} DPU, {billed_seconds(s, p['glue']['crawler_minimum_seconds'])} s billed ({s:.1f} s run)",
                "usd": glue_crawler(s, p),
            }
        )
    for s in usage.redshift_active_s:
        r = p["redshift_serverless"]
        lines.append(
            {
                "service": "redshift",
                "item": "serverless active period",
                "quantity": f"{r['base_capacity_rpu']} RPU, {billed_seconds(s, r['minimum_seconds_per_active_period'])} s billed ({s:.1f} s active)",
                "usd": redshift_serverless([s], p),
            }
        )
    if usage.s3_class_a or usage.s3_class_b:
        lines.append(
            {
                "service": "s3",
                "item": "requests",
                "quantity": f"{usage.s3_class_a} class A, {usage.s3_class_b} class B",
                "usd": s3_requests(usage.s3_class_a, usage.s3_class_b, p),
            }
        )
    # Billed per count: (service, item, count, the count's price), priced only when counted.
    counted: list[tuple[str, str, int, Callable[[int], Decimal]]] = [
        (
            "sqs",
            "requests",
            usage.sqs_requests,
            lambda n: per_request(n, p["sqs"]["usd_per_million_requests"]),
        ),
        (
            "sns",
            "publishes",
            usage.sns_publishes,
            lambda n: per_request(n, p["sns"]["usd_per_million_publishes"]),
        ),
        (
            "cloudwatch",
            "API requests",
            usage.cloudwatch_requests,
            lambda n: Decimal(n) / 1000 * _d(p["cloudwatch"]["usd_per_1000_api_requests"]),
        ),
    ]
    for service, item, count, price in counted:
        if count:
            lines.append({"service": service, "item": item, "quantity": str(count), "usd": price(count)})
    by_service: dict[str, Decimal] = {}
    for ln in lines:
        by_service[ln["service"]] = by_service.get(ln["service"], Decimal(0)) + ln["usd"]
    return {"lines": lines, "by_service": by_service, "total": sum(by_service.values(), Decimal(0))}


def run_cost(
    report: dict,
    jobgraph: dict,
    prices: dict | None = None,
    s3_class_a: int = 0,
    s3_class_b: int = 0,
    cloudwatch_requests: int = 0,
    sns_publishes: int = 0,
) -> dict:
    """The JSON-able estimate stored in a run report's estimated_cost field."""
    u = usage_from_report(report, jobgraph)
    u.s3_class_a, u.s3_class_b = s3_class_a, s3_class_b
    u.cloudwatch_requests, u.sns_publishes = cloudwatch_requests, sns_publishes
    e = estimate(u, prices)
    return {
        "total_usd": str(e["total"]),
        "by_service_usd": {k: str(v) for k, v in e["by_service"].items()},
        "lines": [{**ln, "usd": str(ln["usd"])} for ln in e["lines"]],
        "usage": asdict(u),
        "prices_recorded_on": (prices or load_prices())["recorded_on"],
    }


def report_total(report: dict, jobgraph: dict, prices: dict | None = None) -> Decimal:
    """A report's estimated cost: its stored field, else computed from its stage times (older reports)."""
    ec = report.get("estimated_cost")
    if ec and ec.get("total_usd") is not None:
        return Decimal(ec["total_usd"])
    return estimate(usage_from_report(report, jobgraph), prices)["total"]


def report_glue(report: dict, jobgraph: dict, prices: dict | None = None) -> Decimal:
    ec = report.get("estimated_cost")
    if ec and "by_service_usd" in ec:
        return Decimal(ec["by_service_usd"].get("glue", "0"))
    return estimate(usage_from_report(report, jobgraph), prices)["by_service"].get("glue", Decimal(0))


# ---- a month ------------------------------------------------------------------------------------------
def projected_month(
    month_to_date: Decimal, active_days: int, day_of_month: int, days_in_month: int
) -> Decimal:
    """Month to date plus, for each remaining day, the average cost of the days with runs so far (a pipeline
    that runs daily keeps running daily). No run yet: 0."""
    if active_days <= 0:
        return month_to_date
    if not 1 <= day_of_month <= days_in_month:
        raise CostModelError(f"day {day_of_month} outside a {days_in_month}-day month")
    return month_to_date + month_to_date / active_days * (days_in_month - day_of_month)


def days_in(year: int, month: int) -> int:
    return monthrange(year, month)[1]


@dataclass
class Projection:
    gb_per_day: float
    days: int
    per_day: dict[str, Decimal]
    per_month: dict[str, Decimal]
    storage_first_month: dict[str, Decimal]
    assumptions: list[str]

    @property
    def glue_month(self) -> Decimal:
        return self.per_month.get("glue", Decimal(0))

    @property
    def total_month(self) -> Decimal:
        return sum(self.per_month.values(), Decimal(0)) + sum(self.storage_first_month.values(), Decimal(0))


def project_volume(
    reference: dict,
    raw_gb: float,
    gb_per_day: float,
    jobgraph: dict,
    zone_ratio: dict[str, float],
    local_cores: int,
    days: int = 30,
    prices: dict | None = None,
) -> Projection:
    """A month of daily runs at gb_per_day of raw, scaled from a measured reference run of raw_gb.

    Spark jobs: seconds per GB measured locally, divided by the speed-up of the job's Glue executors over the
    lab's cores (executors = (workers - 1) x 4 vCPU per DPU; one worker is the driver). Warehouse steps:
    seconds per GB as measured (no speed-up assumed). Crawler: as measured (metadata, not volume).
    Storage: the first month's average (data grows from 0 to a month's worth) per zone at the measured
    zone/raw byte ratios."""
    p = prices or load_prices()
    if raw_gb <= 0 or gb_per_day <= 0:
        raise CostModelError(f"volumes must be > 0 GB (reference {raw_gb}, daily {gb_per_day})")
    scale = gb_per_day / raw_gb
    jobs = _jobs_by_local(jobgraph)
    u = usage_from_report(reference, jobgraph)
    day = RunUsage(
        s3_class_a=int(reference.get("estimated_cost", {}).get("usage", {}).get("s3_class_a", 0) * scale),
        s3_class_b=int(reference.get("estimated_cost", {}).get("usage", {}).get("s3_class_b", 0) * scale),
        cloudwatch_requests=int(
            reference.get("estimated_cost", {}).get("usage", {}).get("cloudwatch_requests", 0)
        ),
    )
    spark_locals = ("etl", "aggregates")
    for j in u.glue_jobs:
        local = next(k for k, v in jobs.items() if v["name"] == j["job"])
        if local in spark_locals:
            glue_vcpus = (
                max(1, (j["workers"] - 1)) * VCPU_PER_DPU * float(p["glue"]["worker_dpu"][j["worker_type"]])
            )
            secs = j["seconds"] * scale * local_cores / glue_vcpus
        else:
            secs = j["seconds"] * scale
        day.glue_jobs.append({**j, "seconds": secs})
    day.crawler_runs_s = list(u.crawler_runs_s)
    day.redshift_active_s = [s * scale for s in u.redshift_active_s]
    e = estimate(day, p)
    per_day = dict(e["by_service"])
    per_month = {k: v * days for k, v in per_day.items()}
    month_gb = gb_per_day * days
    storage_bytes = {z: int(month_gb * r * 2**30 / 2) for z, r in zone_ratio.items()}
    storage = s3_storage(storage_bytes, p)
    assumptions = [
        f"{gb_per_day:g} GB of raw per day, one run per day, {days} days (the seed's 1-2 GB/day)",
        f"reference run {reference.get('run_id')} ({reference.get('month')}): {raw_gb:.4f} GB of raw; every "
        f"measured time scaled linearly by {scale:,.1f}x",
        f"Spark jobs (etl, aggregates) on Glue run as fast per vCPU as on the lab's {local_cores} core(s); "
        f"executors = (workers - 1) x {VCPU_PER_DPU} vCPU per DPU",
        "warehouse load/validate take as long on Redshift Serverless "
        f"({p['redshift_serverless']['base_capacity_rpu']} RPU) as on the lab's PostgreSQL",
        f"crawler: measured time, billed at the {p['glue']['crawler_minimum_seconds'] // 60}-minute minimum, "
        f"{p['glue']['crawler_dpus_assumed']} DPU assumed",
        "storage: first month's average (grows by a month of data every month), zones at the measured byte ratio "
        + ", ".join(f"{z} {r:.2f}" for z, r in zone_ratio.items()),
        f"list prices recorded {p['recorded_on']} ({p['region']}); no free tier in the daily figures",
    ]
    return Projection(gb_per_day, days, per_day, per_month, storage, assumptions)
