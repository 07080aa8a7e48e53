"""The scheduler's pure core (definitions, last-fire state, injected clock) and its on-disk ticks, with tiny
Python jobs standing in for the workflow's Spark jobs."""

from __future__ import annotations

import json
from datetime import datetime

import pytest

from emulation.glue import scheduler, workflow
from taxilab.core import jobgraph as definitions
from taxilab.core.runs import month_lock
from taxilab.core.settings import load_settings

T = datetime.fromisoformat


def defs_with(tmp_path, schedule="cron(15 12 * * ? *)", **trigger_extra):
    raw = {
        "glue_version": "5.0",
        "jobs": [
            {
                "name": "a",
                "script": "a.py",
                "local": "ok",
                "worker_type": "G.1X",
                "number_of_workers": 2,
                "timeout_minutes": 1,
                "max_retries": 0,
            }
        ],
        "crawlers": [],
        "workflow": {
            "name": "wf",
            "triggers": [
                {
                    "name": "nightly",
                    "type": "SCHEDULED",
                    "schedule": schedule,
                    "actions": [{"job": "a"}],
                    **trigger_extra,
                }
            ],
        },
    }
    p = tmp_path / "defs.json"
    p.write_text(json.dumps(raw))
    return definitions.load(p)


def at(defs, state, now):
    fires, new = scheduler.due(defs, state, T(now))
    return [(f.trigger, f.slot.isoformat(timespec="minutes"), f.missed) for f in fires], new


def test_first_sight_arms_the_trigger_without_firing(tmp_path):
    d = defs_with(tmp_path)
    fires, state = at(d, {}, "2024-03-01 12:15")
    assert fires == [] and state["nightly"]["armed_at"] == "2024-03-01T12:15:00"


def test_fires_at_its_slot_not_a_minute_before_and_not_twice(tmp_path):
    d = defs_with(tmp_path)
    _, state = at(d, {}, "2024-03-01 09:00")
    assert at(d, state, "2024-03-01 12:14:59")[0] == []
    fires, state = at(d, state, "2024-03-01 12:15")
    assert fires == [("nightly", "2024-03-01T12:15", 0)]
    assert at(d, state, "2024-03-01 12:15:40")[0] == []  # same slot, later tick
    assert at(d, state, "2024-03-02 12:14")[0] == []
    assert at(d, state, "2024-03-02 12:16")[0] == [("nightly", "2024-03-02T12:15", 0)]


def test_after_downtime_only_the_latest_missed_slot_fires(tmp_path):
    d = defs_with(tmp_path)
    state = {
        "nightly": {
            "schedule": "cron(15 12 * * ? *)",
            "armed_at": "2024-02-01T00:00:00",
            "last_slot": "2024-03-01T12:15:00",
        }
    }
    fires, state = at(d, state, "2024-03-04 13:00")
    assert fires == [("nightly", "2024-03-04T12:15", 2)]  # Mar 2 and 3 counted as missed, not run
    assert at(d, state, "2024-03-04 13:01")[0] == []


def test_a_changed_schedule_rearms_instead_of_firing_old_slots(tmp_path):
    d = defs_with(tmp_path, "cron(0 6 * * ? *)")
    state = {
        "nightly": {
            "schedule": "cron(15 12 * * ? *)",
            "armed_at": "2024-02-01T00:00:00",
            "last_slot": "2024-03-01T12:15:00",
        }
    }
    fires, state = at(d, state, "2024-03-04 13:00")
    assert fires == [] and state["nightly"]["schedule"] == "cron(0 6 * * ? *)"
    assert at(d, state, "2024-03-05 06:00")[0] == [("nightly", "2024-03-05T06:00", 0)]


def test_due_is_pure(tmp_path):
    d = defs_with(tmp_path)
    state = {
        "nightly": {"schedule": "cron(15 12 * * ? *)", "armed_at": "2024-03-01T00:00:00", "last_slot": None}
    }
    snapshot = json.dumps(state)
    assert at(d, state, "2024-03-01 12:20") == at(d, state, "2024-03-01 12:20")
    assert json.dumps(state) == snapshot


def test_the_month_is_the_latest_raw_month_without_a_completed_run():
    assert scheduler.pick_month(["2024-01", "2024-02", "2024-03"], {"2024-03"}) == "2024-02"
    assert scheduler.pick_month(["2024-01", "2024-03"], set()) == "2024-03"
    assert scheduler.pick_month(["2024-01"], {"2024-01"}) is None


# ---- ticks on disk ---------------------------------------------------------------------------------------
@pytest.fixture()
def s(tmp_path):
    return load_settings(state_dir=tmp_path / "state")


def ok(rt, spec, month, run_id):
    return {}


def runner_for(s, d, seen: list):
    def run(month, by):
        # The slot is on disk before the run starts: a crash from here on cannot fire it again.
        fires = scheduler.load_state(s)["nightly"]["fires"]
        seen.append((month, fires[-1]["status"]))
        return workflow.run_workflow(s, month, d, jobs={"ok": ok}, started_by=by)

    return run


def test_tick_fires_the_workflow_once_per_slot_across_restarts(s, tmp_path):
    d = defs_with(tmp_path, arguments={"--month": "2023-08"})
    seen: list = []
    assert scheduler.tick(s, T("2024-03-01 12:00"), d, runner_for(s, d, seen)) == []  # arms
    [r] = scheduler.tick(s, T("2024-03-01 12:15"), d, runner_for(s, d, seen))
    assert (r.month, r.status) == ("2023-08", "COMPLETED") and seen == [("2023-08", "FIRED")]
    restarted = load_settings(state_dir=s.state_dir)  # a new scheduler process, same state dir
    assert scheduler.tick(restarted, T("2024-03-01 12:15:30"), d, runner_for(restarted, d, seen)) == []
    [rec] = workflow.workflow_runs(s, "wf", "2023-08")
    assert rec["status"] == "COMPLETED" and rec["started_by"] == "schedule nightly 2024-03-01T12:15:00"
    [fire] = scheduler.load_state(s)["nightly"]["fires"]
    assert (fire["slot"], fire["status"], fire["workflow_run_id"]) == (
        "2024-03-01T12:15:00",
        "COMPLETED",
        rec["id"],
    )


def test_a_fire_for_a_month_already_running_is_refused_and_the_slot_consumed(s, tmp_path):
    d = defs_with(tmp_path)
    scheduler.tick(s, T("2024-03-01 12:00"), d, month_resolver=lambda t: "2023-08")
    with month_lock(s, "2023-08"):
        [r] = scheduler.tick(
            s,
            T("2024-03-01 12:15"),
            d,
            month_resolver=lambda t: "2023-08",
            runner=lambda m, by: workflow.run_workflow(s, m, d, jobs={"ok": ok}, started_by=by),
        )
    assert r.status == "REFUSED" and "already in progress" in r.note
    assert scheduler.tick(s, T("2024-03-01 12:16"), d, month_resolver=lambda t: "2023-08") == []
    assert scheduler.load_state(s)["nightly"]["fires"][-1]["status"] == "REFUSED"


def test_nothing_to_process_is_recorded_not_run(s, tmp_path):
    d = defs_with(tmp_path)
    scheduler.tick(s, T("2024-03-01 12:00"), d, month_resolver=lambda t: None)
    [r] = scheduler.tick(
        s,
        T("2024-03-03 12:20"),
        d,
        month_resolver=lambda t: None,
        runner=lambda m, by: pytest.fail("nothing should run"),
    )
    assert r.status == "NOTHING_TO_DO" and "2 earlier slot(s) missed" in r.note  # Mar 1 and 2


def test_serve_once_with_a_shifted_clock_fires_the_due_slot(s, tmp_path):
    d = defs_with(tmp_path, arguments={"--month": "2023-08"})
    scheduler.tick(s, T("2024-03-01 12:00"), d, runner_for(s, d, []))
    out = scheduler.serve(s, once=True, now=T("2024-03-01 12:15:10"), defs=d, run_kwargs={"jobs": {"ok": ok}})
    assert [(r.fire.slot, r.status) for r in out] == [(T("2024-03-01 12:15"), "COMPLETED")]
