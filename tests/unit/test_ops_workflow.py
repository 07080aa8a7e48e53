"""A workflow run becomes a run report: one stage per job-run attempt, FAILED/TIMEOUT/STOPPED as failed."""

from __future__ import annotations

from types import SimpleNamespace as NS

from taxilab.ops.metrics import datapoints
from taxilab.ops.workflow import report_from_workflow


def test_job_run_attempts_become_stages_and_failures_count():
    runs = [
        NS(
            job="taxilab-etl",
            state="SUCCEEDED",
            error=None,
            execution_seconds=40.0,
            id="jr1",
            attempt=0,
            metrics={"rows_in": 100, "quarantined": 4, "quarantined_by_reason": {"ZERO_DISTANCE": 4}},
        ),
        NS(
            job="taxilab-aggregates",
            state="TIMEOUT",
            error="exceeded 1800 s",
            execution_seconds=1800.0,
            id="jr2",
            attempt=0,
            metrics={},
        ),
        NS(
            job="taxilab-aggregates",
            state="FAILED",
            error="boom",
            execution_seconds=3.0,
            id="jr3",
            attempt=1,
            metrics={},
        ),
    ]
    wf = NS(
        id="wr_1",
        workflow="taxilab-monthly",
        month="2024-03",
        runs=runs,
        status="FAILED",
        started_on="2026-11-29T10:00:00+00:00",
        seconds=1900.0,
    )
    rep = report_from_workflow(wf, "local")
    assert [s.name for s in rep.stages] == ["etl", "aggregates", "aggregates"]
    assert [s.status for s in rep.stages] == ["succeeded", "failed", "failed"]
    assert rep.stages[1].error == "TIMEOUT: exceeded 1800 s"
    assert rep.status == "failed" and rep.seconds == 1900.0 and rep.started_at == wf.started_on
    pts = datapoints(rep.to_dict(), "local", __import__("datetime").datetime(2026, 11, 29), None)
    failed = [p["Value"] for p in pts if p["MetricName"] == "JobRunFailed" and len(p["Dimensions"]) == 1]
    assert failed == [2]  # both failed attempts
