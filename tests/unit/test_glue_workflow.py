"""The workflow runner's Glue semantics (conditional triggers, retries, timeout, run records, one run per
month), with tiny Python jobs standing in for the Spark jobs the nodes normally run."""

from __future__ import annotations

import json
import threading
import time

import pytest

from taxilab.glue import definitions, workflow
from taxilab.pipeline import RunInProgress, month_lock
from taxilab.settings import load_settings


def defs_for(tmp_path, jobs: dict[str, dict], triggers: list[dict]):
    raw = {"glue_version": "5.0",
           "jobs": [{"name": n, "script": f"{n}.py", "local": spec.get("local", n), "worker_type": "G.1X",
                     "number_of_workers": 2, "timeout_minutes": 1, "max_retries": spec.get("retries", 0),
                     **({"timeout_seconds": spec["timeout"]} if "timeout" in spec else {})} for n, spec in jobs.items()],
           "crawlers": [], "workflow": {"name": "wf", "triggers": triggers}}
    p = tmp_path / "defs.json"
    p.write_text(json.dumps(raw))
    return definitions.load(p)


def chain(*names, on="SUCCEEDED"):
    trig = [{"name": "start", "type": "ON_DEMAND", "actions": [{"job": names[0]}]}]
    for a, b in zip(names, names[1:], strict=False):
        trig.append({"name": f"after-{a}", "type": "CONDITIONAL",
                     "predicate": {"logical": "AND", "conditions": [{"job": a, "state": on}]},
                     "actions": [{"job": b}]})
    return trig


@pytest.fixture()
def s(tmp_path):
    return load_settings(state_dir=tmp_path / "state")


def ok(rt, spec, month, run_id):
    return {"month": month}


def boom(rt, spec, month, run_id):
    raise ValueError("bad input s3://b/raw/x.parquet")


def test_successors_fire_on_success_and_runs_are_recorded(s, tmp_path):
    d = defs_for(tmp_path, {"a": {"local": "ok"}, "b": {"local": "ok"}}, chain("a", "b"))
    wf = workflow.run_workflow(s, "2023-09", d, jobs={"ok": ok})
    assert [(r.job, r.state, r.attempt) for r in wf.runs] == [("a", "SUCCEEDED", 0), ("b", "SUCCEEDED", 0)]
    assert wf.status == "COMPLETED"
    hist = workflow.history(s)
    assert [(h["job"], h["state"]) for h in hist] == [("a", "SUCCEEDED"), ("b", "SUCCEEDED")]
    assert all(h["started_on"] and h["completed_on"] and h["id"].startswith("jr_") for h in hist)


def test_failed_job_is_retried_with_backoff_then_does_not_fire_its_successor(s, tmp_path):
    d = defs_for(tmp_path, {"a": {"local": "boom", "retries": 2}, "b": {"local": "ok"}}, chain("a", "b"))
    t0 = time.monotonic()
    wf = workflow.run_workflow(s, "2023-09", d, jobs={"ok": ok, "boom": boom}, backoff_s=0.05)
    assert [(r.job, r.state, r.attempt) for r in wf.runs] == [("a", "FAILED", 0), ("a", "FAILED", 1), ("a", "FAILED", 2)]
    assert "bad input s3://b/raw/x.parquet" in wf.runs[-1].error
    assert time.monotonic() - t0 >= 0.05 + 0.1  # exponential waits between the attempts
    assert wf.status == "FAILED"


def test_a_retry_that_succeeds_fires_the_successor(s, tmp_path):
    calls = []

    def flaky(rt, spec, month, run_id):
        calls.append(run_id)
        if len(calls) == 1:
            raise ConnectionError("throttled")
        return {}

    d = defs_for(tmp_path, {"a": {"local": "flaky", "retries": 1}, "b": {"local": "ok"}}, chain("a", "b"))
    wf = workflow.run_workflow(s, "2023-09", d, jobs={"ok": ok, "flaky": flaky}, backoff_s=0.01)
    assert [(r.job, r.state) for r in wf.runs] == [("a", "FAILED"), ("a", "SUCCEEDED"), ("b", "SUCCEEDED")]
    assert wf.status == "COMPLETED"


def test_failure_conditioned_trigger_fires_on_failure(s, tmp_path):
    d = defs_for(tmp_path, {"a": {"local": "boom"}, "cleanup": {"local": "ok"}}, chain("a", "cleanup", on="FAILED"))
    wf = workflow.run_workflow(s, "2023-09", d, jobs={"ok": ok, "boom": boom})
    assert [(r.job, r.state) for r in wf.runs] == [("a", "FAILED"), ("cleanup", "SUCCEEDED")]


def test_job_over_its_timeout_ends_timeout(s, tmp_path):
    release = threading.Event()

    def slow(rt, spec, month, run_id):
        release.wait(5)
        return {}

    d = defs_for(tmp_path, {"a": {"local": "slow", "timeout": 0.2}, "b": {"local": "ok"}}, chain("a", "b"))
    wf = workflow.run_workflow(s, "2023-09", d, jobs={"ok": ok, "slow": slow})
    release.set()
    assert [(r.job, r.state) for r in wf.runs] == [("a", "TIMEOUT")]
    assert "timeout of 0.2 s" in wf.runs[0].error


def test_second_run_of_the_same_month_is_refused(s, tmp_path):
    d = defs_for(tmp_path, {"a": {"local": "ok"}}, chain("a"))
    with month_lock(s, "2023-09"), pytest.raises(RunInProgress, match="2023-09"):
        workflow.run_workflow(s, "2023-09", d, jobs={"ok": ok})
    assert workflow.run_workflow(s, "2023-10", d, jobs={"ok": ok}).status == "COMPLETED"


def test_repo_definitions_are_valid_and_a_bad_reference_is_named(tmp_path):
    d = definitions.load()
    assert {"taxilab-etl", "taxilab-aggregates"} <= set(d.jobs)
    bad = json.loads(definitions.DEFINITIONS.read_text())
    bad["workflow"]["triggers"][1]["actions"] = [{"job": "no-such-job"}]
    p = tmp_path / "bad.json"
    p.write_text(json.dumps(bad))
    with pytest.raises(definitions.DefinitionError, match="no-such-job"):
        definitions.load(p)
