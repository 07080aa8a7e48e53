"""The metric data a run report becomes: detailed series per stage (stage, job, month, profile) and the
series the alarms watch (exact dimension sets, no month)."""

from __future__ import annotations

from datetime import UTC, datetime

from taxilab.ops.metrics import datapoints

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


def _by(points, name, **dims):
    want = sorted(dims.items())
    return [
        p["Value"]
        for p in points
        if p["MetricName"] == name and [(d["Name"], d["Value"]) for d in p["Dimensions"]] == want
    ]


def test_a_pipeline_report_becomes_stage_job_and_alarm_series():
    report = {
        "month": "2024-02",
        "status": "failed",
        "seconds": 50.0,
        "checks": [],
        "drops": [],
        "stages": [
            {"name": "ingest", "status": "succeeded", "seconds": 2.0, "rows_in": 1000, "rows_out": 1000},
            {
                "name": "etl",
                "status": "succeeded",
                "seconds": 30.0,
                "rows_in": 1000,
                "rows_out": 960,
                "quarantined": 40,
                "quarantined_by_reason": {"NEGATIVE_AMOUNT": 25, "ZERO_DISTANCE": 15},
            },
            {"name": "aggregates", "status": "failed", "seconds": 7.5},
        ],
    }
    pts = datapoints(report, "local", NOW, None)
    etl = {"stage": "etl", "job": "taxilab-etl", "month": "2024-02", "profile": "local"}
    assert _by(pts, "RowsIn", **etl) == [1000] and _by(pts, "RowsOut", **etl) == [960]
    assert _by(pts, "RowsQuarantined", reason="ZERO_DISTANCE", **etl) == [15]
    assert _by(pts, "Duration", job="taxilab-etl", profile="local") == [30.0]
    assert _by(pts, "RowsIn", stage="ingest", month="2024-02", profile="local") == [
        1000
    ]  # no Glue job: no job
    assert _by(
        pts, "JobRunFailed", stage="aggregates", job="taxilab-aggregates", month="2024-02", profile="local"
    ) == [1]
    assert _by(pts, "JobRunFailed", profile="local") == [1]
    assert _by(pts, "QuarantineRate", profile="local") == [4.0]
    assert _by(pts, "EndToEndDuration", profile="local") == []  # a failed run has no end-to-end time
    assert all(p["Timestamp"] == NOW for p in pts)
    # every dimension list is sorted by name (moto's GetMetricData matches only the same order)
    assert all(
        [d["Name"] for d in p["Dimensions"]] == sorted(d["Name"] for d in p["Dimensions"]) for p in pts
    )


def test_reconciliation_freshness_and_cost_series():
    report = {
        "month": "2024-04",
        "status": "succeeded",
        "seconds": 80.0,
        "stages": [],
        "checks": [{"ok": True}, {"ok": False}, {"ok": False}],
        "drops": [
            {"month": "2024-04", "freshness_s": 700.5, "visible_at": "t", "stages": {"etl": 9.0}},
            {"month": "2024-04", "freshness_s": 12.0, "visible_at": "u", "stages": {"etl": 8.0}},
        ],
    }
    pts = datapoints(report, "aws", NOW, {"total_usd": "0.25"})
    assert _by(pts, "ReconciliationFailed", profile="aws") == [2]
    assert _by(pts, "DropFreshness", profile="aws") == [700.5, 12.0]
    assert _by(pts, "Duration", job="taxilab-etl", profile="aws") == [9.0, 8.0]
    assert _by(pts, "EstimatedCost", month="2024-04", profile="aws") == [0.25]
    assert _by(pts, "JobRunFailed", profile="aws") == [0]
