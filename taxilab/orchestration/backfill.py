"""Backfill: the declared workflow run for each month of a range, oldest first, one run per month.
Why: docs/adr/0006-glue-crawler-bookmarks-workflow-run-by-the-lab.md.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from emulation.glue import workflow as wfm
from spark_jobs.month import Month, MonthError
from taxilab.core.jobgraph import Definitions
from taxilab.core.jobgraph import load as load_definitions
from taxilab.core.settings import Settings
from taxilab.ops.workflow import report_workflow_run
from taxilab.orchestration.jobs import run_workflow


class BackfillError(ValueError):
    pass


@dataclass
class MonthResult:
    month: str
    status: str  # COMPLETED | FAILED | STOPPED | SKIPPED | REFUSED | NOT_RUN | INGEST_FAILED
    seconds: float | None = None
    workflow_run_id: str | None = None
    note: str = ""


def months_between(start: str, end: str) -> list[str]:
    try:
        return [str(m) for m in Month.range(start, end)]
    except MonthError as e:
        raise BackfillError(f"--from {start} --to {end}: {e}") from None


def land(settings: Settings, month: str, source: str, rows: int, seed: int = 42) -> str:
    """Put the month's source file into raw (idempotent by content) and the zone lookup beside it."""
    from taxilab.ingest import raw

    src = raw.obtain_source(settings, month, source, rows, seed)
    raw.ensure_bucket(settings)
    landed = raw.land_month(settings, month, src)
    raw.land_zone_lookup(settings)
    return f"raw {landed.action} ({landed.rows:,} rows)"


def backfill(
    settings: Settings,
    start: str,
    end: str,
    *,
    force: bool = False,
    continue_on_failure: bool = False,
    defs: Definitions | None = None,
    source: str | None = None,
    rows: int = 100_000,
    seed: int = 42,
    runner: Callable[[str], wfm.WorkflowRun] | None = None,
    stop: wfm.StopControl | None = None,
    on_month: Callable[[MonthResult], None] | None = None,
    **run_kwargs,
) -> list[MonthResult]:
    """Run the range; returns one MonthResult per month of the range, in order."""
    from taxilab.core.runs import RunInProgress

    months = months_between(start, end)
    defs = defs or load_definitions()
    control = stop or wfm.StopControl()
    runner = runner or (
        lambda month: run_workflow(
            settings,
            month,
            defs,
            started_by=f"backfill {start}..{end}",
            stop=control,
            on_end=lambda wf: report_workflow_run(settings, wf),  # metrics, cost, alarms; never raises
            **run_kwargs,
        )
    )
    name = defs.workflow["name"]
    out: list[MonthResult] = []
    halted = ""
    with wfm.stop_on_signals(control):
        for month in months:
            if halted or control.stopped:
                res = MonthResult(month, "NOT_RUN", note=halted or f"backfill stopped ({control.reason})")
            else:
                res = _one(settings, month, name, force, source, rows, seed, runner, RunInProgress)
                if res.status not in ("COMPLETED", "SKIPPED") and not continue_on_failure:
                    halted = (
                        f"backfill halted after {month} {res.status} (use --continue-on-failure to go on)"
                    )
                if res.status == "STOPPED":
                    halted = f"backfill stopped at {month}"
            out.append(res)
            if on_month:
                on_month(res)
    return out


def _one(settings, month, workflow, force, source, rows, seed, runner, run_in_progress) -> MonthResult:
    done = [r for r in wfm.workflow_runs(settings, workflow, month) if r["status"] == "COMPLETED"]
    if done and not force:
        return MonthResult(
            month,
            "SKIPPED",
            done[-1].get("seconds"),
            done[-1]["id"],
            f"already COMPLETED on {done[-1]['completed_on']} (--force to rerun)",
        )
    t0 = time.monotonic()
    note = ""
    if source:
        try:
            note = land(settings, month, source, rows, seed)
        except Exception as e:  # noqa: BLE001 - the month's row names the problem
            return MonthResult(
                month,
                "INGEST_FAILED",
                round(time.monotonic() - t0, 1),
                None,
                f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}",
            )
    try:
        wf = runner(month)
    except run_in_progress as e:
        return MonthResult(month, "REFUSED", round(time.monotonic() - t0, 1), None, str(e))
    failed = [r for r in wf.runs if r.state != "SUCCEEDED"]
    if failed and wf.status != "COMPLETED":
        from taxilab.orchestration.pipeline import half_done

        last = failed[-1]
        note = (note + "; " if note else "") + f"{last.job} {last.state}: {last.error or ''}".strip()
        half = half_done(month, [r.job for r in wf.runs if r.state == "SUCCEEDED"])
        if half:
            note += f"; {half}"
    return MonthResult(month, wf.status, round(time.monotonic() - t0, 1), wf.id, note)
