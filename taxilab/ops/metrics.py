"""CloudWatch metrics from every run report: one namespace (alarms.json), dimensions job, stage, month, profile.
Why: docs/adr/0013-operations-metrics-alarms-cost.md.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal

from taxilab.core.settings import Settings
from taxilab.ops.declarations import stage_jobs  # noqa: F401 - re-exported for callers

log = logging.getLogger(__name__)
ZONES = ("raw", "staging", "quarantine", "curated", "reference")


@dataclass
class Published:
    datapoints: int = 0
    requests: int = 0
    estimated_cost: dict | None = None
    transitions: list = field(default_factory=list)
    error: str | None = None


def _as_dict(report) -> dict:
    return report if isinstance(report, dict) else report.to_dict()


def _f(x) -> float:
    return float(Decimal(str(x)))


def lake_usage(settings: Settings, since: str) -> dict:
    """Objects in the lake per zone (count, bytes) and those written since the run started (S3 LastModified)."""
    from taxilab.core.clients import client

    s3 = client("s3", settings)
    since_t = datetime.fromisoformat(since)
    if since_t.tzinfo is None:
        since_t = since_t.replace(tzinfo=UTC)
    # LastModified has 1-second resolution: an object written in the run's first second still counts.
    since_t = since_t.replace(microsecond=0)
    out = {z: {"objects": 0, "bytes": 0, "written": 0} for z in ZONES}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=settings.bucket):
        for o in page.get("Contents", []):
            zone = o["Key"].split("/", 1)[0]
            if zone not in out:
                continue
            out[zone]["objects"] += 1
            out[zone]["bytes"] += o["Size"]
            if o["LastModified"] >= since_t:
                out[zone]["written"] += 1
    return out


def s3_requests_of(report: dict, usage: dict) -> tuple[int, int]:
    """Class A = objects the run wrote (one PUT each); class B = objects read once by the next stage: the
    month's raw objects by etl, staging by aggregates and by the warehouse load, curated by the load.
    S3A's own HEAD/LIST calls are not counted (ADR 0013)."""
    written = {z: v["written"] for z, v in usage.items()}
    a = sum(written.values())
    raw_read = usage["raw"]["written"] if report.get("drops") else max(1, usage["raw"]["written"])
    b = raw_read + 2 * written["staging"] + written["curated"]
    return a, b


def datapoints(report: dict, profile: str, now: datetime, cost: dict | None, mtd=None) -> list[dict]:
    """The metric data of one run report (PutMetricData entries without the namespace)."""
    jobs = stage_jobs()
    month = report.get("month", "unknown")
    out: list[dict] = []

    def put(name: str, value, unit: str, **dims) -> None:
        d = {k: str(v) for k, v in dims.items() if v is not None}
        out.append(
            {
                "MetricName": name,
                "Value": float(value),
                "Unit": unit,
                "Timestamp": now,
                "Dimensions": [{"Name": k, "Value": v} for k, v in sorted(d.items())],
            }
        )

    failed = 0
    for st in report.get("stages", []):
        name, job = st["name"], jobs.get(st["name"])
        detail = {"stage": name, "job": job, "month": month, "profile": profile}
        if st.get("status") in ("skipped", "running"):
            continue
        bad = 1 if st.get("status") == "failed" else 0
        failed += bad
        put("Duration", st.get("seconds") or 0, "Seconds", **detail)
        put("JobRunFailed", bad, "Count", **detail)
        if job:
            put("Duration", st.get("seconds") or 0, "Seconds", job=job, profile=profile)
        for key, metric in (
            ("rows_in", "RowsIn"),
            ("rows_out", "RowsOut"),
            ("quarantined", "RowsQuarantined"),
        ):
            if st.get(key) is not None:
                put(metric, st[key], "Count", **detail)
        for reason, n in (st.get("quarantined_by_reason") or {}).items():
            put("RowsQuarantined", n, "Count", reason=reason, **detail)
    seen = set()
    for d in report.get("drops", []):
        put("DropFreshness", d["freshness_s"], "Seconds", month=d.get("month", month), profile=profile)
        put("DropFreshness", d["freshness_s"], "Seconds", profile=profile)
        batch = (d.get("visible_at"), tuple(sorted(d.get("stages", {}).items())))
        if batch not in seen:
            seen.add(batch)
            for stage, secs in d.get("stages", {}).items():
                job = jobs.get(stage)
                put(
                    "Duration",
                    secs,
                    "Seconds",
                    stage=f"drop:{stage}",
                    job=job,
                    month=d.get("month", month),
                    profile=profile,
                )
                if job:
                    put("Duration", secs, "Seconds", job=job, profile=profile)
    if report.get("status") == "failed" and not report.get("stages"):
        failed = 1  # an incremental run (no pipeline stages) that failed
    if report.get("status") in ("succeeded", "failed"):
        put("JobRunFailed", failed, "Count", profile=profile)
    if report.get("status") == "succeeded" and report.get("stages"):
        put("EndToEndDuration", report["seconds"], "Seconds", month=month, profile=profile)
        put("EndToEndDuration", report["seconds"], "Seconds", profile=profile)
    etl = next((s for s in report.get("stages", []) if s["name"] == "etl"), None)
    if etl and etl.get("rows_in") and etl.get("quarantined") is not None:
        rate = 100.0 * etl["quarantined"] / etl["rows_in"]
        put("QuarantineRate", rate, "Percent", month=month, profile=profile)
        put("QuarantineRate", rate, "Percent", profile=profile)
    if report.get("checks"):
        bad_checks = sum(1 for c in report["checks"] if not c["ok"])
        put("ReconciliationFailed", bad_checks, "Count", month=month, profile=profile)
        put("ReconciliationFailed", bad_checks, "Count", profile=profile)
    if cost is not None:
        put("EstimatedCost", _f(cost["total_usd"]), "None", month=month, profile=profile)
        put("EstimatedCost", _f(cost["total_usd"]), "None", profile=profile)
    if mtd is not None:
        put("MonthToDateCost", float(mtd.total), "None", profile=profile)
        put("ProjectedMonthCost", float(mtd.projected), "None", profile=profile)
    return out


def publish_run(settings: Settings, report, now: datetime | None = None) -> Published:
    """Estimate the run's AWS cost (stored in report.estimated_cost) and put the run's metrics to CloudWatch
    (the emulator's on the emulated profiles). Never raises: an error is logged and added to the report's
    notes; the run's own outcome stands."""
    import taxilab.ops.budget as budget
    import taxilab.ops.cost as cost
    from taxilab.core.clients import client
    from taxilab.core.jobgraph import load as load_jobgraph
    from taxilab.ops.declarations import declarations_for

    res = Published()
    now = now or datetime.now(UTC)
    try:
        decl = declarations_for(settings)
        rep = _as_dict(report)
        points = None
        try:
            usage = lake_usage(settings, rep["started_at"])
            a, b = s3_requests_of(rep, usage)
        except Exception as e:  # noqa: BLE001 - the lake may be unreachable after a failed run
            log.warning("lake usage for %s not measured: %s", rep.get("run_id"), e)
            usage, a, b = None, 0, 0
        # One PutMetricData call per 1,000 datapoints (the API's limit); counted in the run's own cost.
        est = cost.run_cost(rep, load_jobgraph().raw, s3_class_a=a, s3_class_b=b, cloudwatch_requests=1)
        if usage is not None:
            est["lake"] = usage
        rep["estimated_cost"] = est
        if not isinstance(report, dict):
            report.estimated_cost = est
        mtd = budget.month_to_date(settings, now, rep)
        points = datapoints(rep, settings.profile, now, est, mtd)
        cw = client("cloudwatch", settings)
        for i in range(0, len(points), 1000):
            cw.put_metric_data(Namespace=decl.namespace, MetricData=points[i : i + 1000])
            res.requests += 1
        res.datapoints, res.estimated_cost = len(points), est
    except Exception as e:  # noqa: BLE001 - metrics must never fail the run
        res.error = f"{type(e).__name__}: {e}"
        log.exception("publishing the run's metrics failed")
        _note(report, f"metrics not published: {res.error}")
    return res


def _note(report, text: str) -> None:
    notes = report.setdefault("notes", []) if isinstance(report, dict) else report.notes
    notes.append(text)
