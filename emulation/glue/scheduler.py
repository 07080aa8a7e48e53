"""SCHEDULED triggers that fire: the lab's stand-in for Glue's trigger scheduler (ADR 0006)."""

from __future__ import annotations

import fcntl
import json
import logging
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from emulation.glue import workflow as wfm
from spark_jobs.io import paths
from spark_jobs.month import Month
from taxilab.core import cron
from taxilab.core.jobgraph import Definitions
from taxilab.core.jobgraph import load as load_definitions
from taxilab.core.runs import now_iso
from taxilab.core.settings import Settings
from taxilab.core.state import write_json

log = logging.getLogger(__name__)
KEEP_FIRES = 50  # fire records kept per trigger


@dataclass(frozen=True)
class Fire:
    trigger: str
    workflow: str
    slot: datetime  # the cron fire time (naive UTC)
    missed: int  # earlier slots since the last fire that were skipped (downtime)


@dataclass
class FireResult:
    fire: Fire
    month: str | None
    status: str  # COMPLETED | FAILED | STOPPED | REFUSED | NOTHING_TO_DO | ERROR
    workflow_run_id: str | None = None
    note: str = ""


def _naive_utc(t: datetime) -> datetime:
    return t.astimezone(UTC).replace(tzinfo=None) if t.tzinfo else t


def _iso(t: datetime) -> str:
    return t.isoformat(timespec="seconds")


def due(defs: Definitions, state: dict, now: datetime) -> tuple[list[Fire], dict]:
    """(slots to fire now, the new state). Pure: the same inputs give the same answer, no I/O."""
    now = _naive_utc(now)
    new = {k: dict(v) for k, v in state.items()}
    fires: list[Fire] = []
    for t in defs.triggers:
        if t["type"] != "SCHEDULED":
            continue
        st = state.get(t["name"])
        if st is None or st.get("schedule") != t["schedule"]:
            new[t["name"]] = {
                "schedule": t["schedule"],
                "armed_at": _iso(now),
                "last_slot": None,
                "fires": [],
            }
            continue
        c = cron.parse(t["schedule"])
        base = datetime.fromisoformat(st.get("last_slot") or st["armed_at"])
        latest = c.last_at_or_before(now, not_before=base)
        if latest is None or latest <= base:
            continue
        fires.append(Fire(t["name"], defs.workflow["name"], latest, c.count_between(base, latest)))
        new[t["name"]]["last_slot"] = _iso(latest)
    return fires, new


def next_fire(defs: Definitions, state: dict, now: datetime) -> datetime | None:
    """The earliest future slot of any armed SCHEDULED trigger (naive UTC), for the loop's sleep."""
    now = _naive_utc(now)
    out = []
    for t in defs.triggers:
        if t["type"] == "SCHEDULED":
            st = state.get(t["name"]) or {}
            base = datetime.fromisoformat(st.get("last_slot") or st.get("armed_at") or _iso(now))
            out.append(cron.parse(t["schedule"]).next_after(max(base, now)))
    return min(out) if out else None


# ---- the month a fire processes ----------------------------------------------------------------------
_RAW_MONTH = re.compile(r"/year=(\d{4})/month=(\d{2})/[^/]+\.parquet$")


def raw_months(settings: Settings) -> list[str]:
    """Months with at least one Parquet object in raw, sorted."""
    from taxilab.core.clients import client

    prefix = paths.raw_month_prefix(settings.dataset, "2000-01").split("/year=")[0] + "/"
    months = set()
    for page in (
        client("s3", settings)
        .get_paginator("list_objects_v2")
        .paginate(Bucket=settings.bucket, Prefix=prefix)
    ):
        for o in page.get("Contents", []):
            m = _RAW_MONTH.search(o["Key"])
            if m:
                months.add(f"{m.group(1)}-{m.group(2)}")
    return sorted(months)


def pick_month(raw: list[str], completed: set[str]) -> str | None:
    """The latest month in raw without a COMPLETED run of the workflow."""
    todo = [m for m in raw if m not in completed]
    return max(todo) if todo else None


def completed_months(settings: Settings, workflow: str) -> set[str]:
    return {r["month"] for r in wfm.workflow_runs(settings, workflow) if r["status"] == "COMPLETED"}


def month_for(settings: Settings, defs: Definitions, trigger_name: str) -> str | None:
    trig = next(t for t in defs.triggers if t["name"] == trigger_name)
    fixed = trig.get("arguments", {}).get("--month")
    if fixed:
        Month.parse(fixed)
        return fixed
    return pick_month(raw_months(settings), completed_months(settings, defs.workflow["name"]))


# ---- state on disk -------------------------------------------------------------------------------------
def state_file(settings: Settings):
    return settings.state_dir / "glue" / "scheduler.json"


def load_state(settings: Settings) -> dict:
    p = state_file(settings)
    return json.loads(p.read_text()).get("triggers", {}) if p.exists() else {}


def _save_state(settings: Settings, triggers: dict) -> None:
    write_json(state_file(settings), {"triggers": triggers})


@contextmanager
def _locked(settings: Settings) -> Iterator[None]:
    p = state_file(settings).with_suffix(".lock")
    p.parent.mkdir(parents=True, exist_ok=True)
    with p.open("a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _update_fire(settings: Settings, fire: Fire, **fields) -> None:
    with _locked(settings):
        state = load_state(settings)
        for rec in state.get(fire.trigger, {}).get("fires", []):
            if rec["slot"] == _iso(fire.slot):
                rec.update(fields)
        _save_state(settings, state)


Runner = Callable[[str, str], "wfm.WorkflowRun"]  # (month, started_by) -> the finished workflow run


def tick(
    settings: Settings,
    now: datetime,
    defs: Definitions | None = None,
    runner: Runner | None = None,
    month_resolver: Callable[[str], str | None] | None = None,
    stop: wfm.StopControl | None = None,
    run_kwargs: dict | None = None,
) -> list[FireResult]:
    """Fire what is due at `now`: record each slot, then run the workflow for its month (one at a time).
    run_kwargs go to run_workflow (e.g. spark_factory, jobs)."""
    from taxilab.core.runs import RunInProgress

    defs = defs or load_definitions()
    control = stop or wfm.StopControl()
    runner = runner or (
        lambda month, by: wfm.run_workflow(
            settings, month, defs, started_by=by, stop=control, **(run_kwargs or {})
        )
    )
    resolve = month_resolver or (lambda trigger: month_for(settings, defs, trigger))
    with _locked(settings):
        fires, new = due(defs, load_state(settings), now)
        for f in fires:  # recorded before anything runs: a crash or restart never fires the slot again
            new[f.trigger]["fires"] = [
                *new[f.trigger].get("fires", []),
                {"slot": _iso(f.slot), "fired_on": now_iso(), "missed": f.missed, "status": "FIRED"},
            ][-KEEP_FIRES:]
        _save_state(settings, new)
    results = []
    for f in fires:
        if control.stopped:
            results.append(FireResult(f, None, "STOPPED", note="the scheduler is stopping"))
            _update_fire(settings, f, status="STOPPED")
            continue
        try:
            month = resolve(f.trigger)
        except Exception as e:  # noqa: BLE001 - recorded; the scheduler keeps running
            res = FireResult(f, None, "ERROR", note=f"cannot pick the month: {type(e).__name__}: {e}")
        else:
            if month is None:
                res = FireResult(f, None, "NOTHING_TO_DO", note="no month in raw without a COMPLETED run")
            else:
                try:
                    wf = runner(month, f"schedule {f.trigger} {_iso(f.slot)}")
                    res = FireResult(f, month, wf.status, wf.id)
                except RunInProgress as e:
                    res = FireResult(f, month, "REFUSED", note=str(e))
        if f.missed:
            res.note = (
                res.note + "; " if res.note else ""
            ) + f"{f.missed} earlier slot(s) missed while down, not run"
        _update_fire(
            settings,
            f,
            status=res.status,
            month=res.month,
            workflow_run_id=res.workflow_run_id,
            note=res.note,
        )
        log.info("trigger %s slot %s: %s %s", f.trigger, f.slot, res.month, res.status)
        results.append(res)
    return results


def serve(
    settings: Settings,
    once: bool = False,
    now: datetime | None = None,
    max_runs: int | None = None,
    defs: Definitions | None = None,
    on_result: Callable[[FireResult], None] | None = None,
    max_sleep_s: float = 60.0,
    stop: wfm.StopControl | None = None,
    run_kwargs: dict | None = None,
) -> list[FireResult]:
    """The scheduler loop. `now` shifts the clock (the loop's time runs on from it); --once ticks once.
    Stops on SIGTERM/SIGINT (a running workflow run is stopped too), after max_runs workflow runs, or
    after the single tick of once."""
    defs = defs or load_definitions()
    control = stop or wfm.StopControl()
    offset = (_naive_utc(now) - datetime.now(UTC).replace(tzinfo=None)) if now else timedelta(0)

    def clock() -> datetime:
        return datetime.now(UTC).replace(tzinfo=None) + offset

    out: list[FireResult] = []
    started = 0
    with wfm.stop_on_signals(control):
        while not control.stopped:
            for r in tick(settings, clock(), defs, stop=control, run_kwargs=run_kwargs):
                out.append(r)
                started += r.workflow_run_id is not None
                if on_result:
                    on_result(r)
            if once or (max_runs is not None and started >= max_runs) or control.stopped:
                break
            nxt = next_fire(defs, load_state(settings), clock())
            wait = max_sleep_s if nxt is None else (nxt - clock()).total_seconds() + 0.5
            control.event.wait(min(max(wait, 0.5), max_sleep_s))
    return out


def describe(settings: Settings, defs: Definitions | None = None, now: datetime | None = None) -> list[dict]:
    """Per SCHEDULED trigger: schedule, armed at, last slot fired, next slot, recent fires."""
    defs = defs or load_definitions()
    state, now = load_state(settings), _naive_utc(now or datetime.now(UTC))
    out = []
    for t in defs.triggers:
        if t["type"] == "SCHEDULED":
            st = state.get(t["name"], {})
            base = datetime.fromisoformat(st.get("last_slot") or st.get("armed_at") or _iso(now))
            out.append(
                {
                    "trigger": t["name"],
                    "schedule": t["schedule"],
                    "armed_at": st.get("armed_at"),
                    "last_slot": st.get("last_slot"),
                    "next_slot": _iso(cron.parse(t["schedule"]).next_after(max(base, now))),
                    "fires": st.get("fires", []),
                }
            )
    return out
