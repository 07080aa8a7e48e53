"""Workflow runs (`taxilab glue workflow run`, backfill, the scheduler) as run reports: one stage per job
run attempt, so their job failures (FAILED / TIMEOUT / STOPPED), durations and cost reach the same metrics,
alarms and month-to-date as pipeline runs. Call `report_workflow_run(settings, wf)` once a workflow run has
ended."""

from __future__ import annotations

from taxilab.core.settings import Settings
from taxilab.report import RunReport, StageResult


def report_from_workflow(wf, profile: str) -> RunReport:
    """A RunReport of a finished workflow run (emulation.glue.workflow.WorkflowRun or the same fields)."""
    from taxilab.ops.declarations import stage_jobs

    stage_of = {job: stage for stage, job in stage_jobs().items()}
    rep = RunReport(wf.month, f"workflow:{wf.workflow}:{wf.id}", profile)
    if wf.started_on:
        rep.started_at = wf.started_on
    for r in wf.runs:
        m = r.metrics or {}
        st = StageResult(
            stage_of.get(r.job, r.job),
            status="succeeded" if r.state == "SUCCEEDED" else "failed",
            rows_in=m.get("rows_in"),
            rows_out=m.get("rows_out"),
            quarantined=m.get("quarantined"),
            quarantined_by_reason=dict(m.get("quarantined_by_reason") or {}),
            seconds=float(r.execution_seconds or 0.0),
            detail={"job": r.job, "job_run_id": r.id, "attempt": r.attempt, "state": r.state},
            error=None if r.state == "SUCCEEDED" else f"{r.state}: {r.error or ''}".strip(),
        )
        rep.stages.append(st)
    rep.finish(
        "succeeded" if wf.status == "COMPLETED" else "failed",
        None if wf.status == "COMPLETED" else f"workflow run {wf.status}",
    )
    if wf.seconds is not None:
        rep.seconds = round(wf.seconds, 2)
    return rep


def report_workflow_run(settings: Settings, wf) -> RunReport:
    """Write the workflow run's report after pricing it, putting its metrics and evaluating the alarms."""
    from taxilab import ops

    rep = report_from_workflow(wf, settings.profile)
    ops.after_run(settings, rep)
    rep.write(settings.runs_dir)
    return rep
