"""The workflow runner's Glue semantics (conditional triggers, retries, timeout, run records, one run per
month), with tiny Python jobs standing in for the Spark jobs the nodes normally run."""

from __future__ import annotations

import json
import threading
import time

import pytest

from emulation.glue import workflow
from taxilab.core import jobgraph as definitions
from taxilab.core.runs import RunInProgress, month_lock
from taxilab.core.settings import load_settings


def defs_for(tmp_path, jobs: dict[str, dict], triggers: list[dict]):
    raw = {
        "glue_version": "5.0",
        "jobs": [
            {
                "name": n,
                "script": f"{n}.py",
                "local": spec.get("local", n),
                "worker_type": "G.1X",
                "number_of_workers": 2,
                "timeout_minutes": 1,
                "max_retries": spec.get("retries", 0),
                **({"timeout_seconds": spec["timeout"]} if "timeout" in spec else {}),
            }
            for n, spec in jobs.items()
        ],
        "crawlers": [],
        "workflow": {"name": "wf", "triggers": triggers},
    }
    p = tmp_path / "defs.json"
    p.write_text(json.dumps(raw))
    return definitions.load(p)


def chain(*names, on="SUCCEEDED"):
    trig = [{"name": "start", "type": "ON_DEMAND", "actions": [{"job": names[0]}]}]
    for a, b in zip(names, names[1:], strict=False):
        trig.append(
            {
                "name": f"after-{a}",
                "type": "CONDITIONAL",
                "predicate": {"logical": "AND", "conditions": [{"job": a, "state": on}]},
                "actions": [{"job": b}],
            }
        )
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
    assert [(r.job, r.state, r.attempt) for r in wf.runs] == [
        ("a", "FAILED", 0),
        ("a", "FAILED", 1),
        ("a", "FAILED", 2),
    ]
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
    d = defs_for(
        tmp_path, {"a": {"local": "boom"}, "cleanup": {"local": "ok"}}, chain("a", "cleanup", on="FAILED")
    )
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


# ---- job run states ------------------------------------------------------------------------------------
def test_every_job_run_goes_starting_running_then_its_final_state(s, tmp_path):
    seen_inside = {}

    def looks(rt, spec, month, run_id):
        seen_inside["states"] = workflow.transitions(
            rt.settings, run_id
        )  # recorded before the job's code ran
        return {}

    release = threading.Event()

    def slow(rt, spec, month, run_id):
        release.wait(5)
        return {}

    d = defs_for(
        tmp_path,
        {"a": {"local": "looks"}, "b": {"local": "boom"}, "c": {"local": "slow", "timeout": 0.2}},
        chain("a", "b")
        + [
            {
                "name": "after-b",
                "type": "CONDITIONAL",
                "predicate": {"conditions": [{"job": "b", "state": "FAILED"}]},
                "actions": [{"job": "c"}],
            }
        ],
    )
    wf = workflow.run_workflow(s, "2023-09", d, jobs={"looks": looks, "boom": boom, "slow": slow})
    release.set()
    assert seen_inside["states"] == ["STARTING", "RUNNING"]
    assert [workflow.transitions(s, r.id) for r in wf.runs] == [
        ["STARTING", "RUNNING", "SUCCEEDED"],
        ["STARTING", "RUNNING", "FAILED"],
        ["STARTING", "RUNNING", "TIMEOUT"],
    ]
    last = workflow.history(s)[-1]
    assert (last["job"], last["state"], last["attempt"]) == ("c", "TIMEOUT", 0)
    assert last["started_on"] <= last["completed_on"] and "timeout of 0.2 s" in last["error"]


def test_a_retry_names_the_run_it_retries(s, tmp_path):
    d = defs_for(tmp_path, {"a": {"local": "boom", "retries": 1}}, chain("a"))
    wf = workflow.run_workflow(s, "2023-09", d, jobs={"boom": boom}, backoff_s=0.01)
    assert [r.previous_run_id for r in wf.runs] == [None, wf.runs[0].id]


def fakes(calls: list[str], fail: str | None = None) -> dict:
    def make(name):
        def job(rt, spec, month, run_id):
            calls.append(spec["name"])
            if name == fail:
                raise RuntimeError(f"{name} broke")
            return {}

        return job

    return {n: make(n) for n in ("etl", "aggregates", "crawler", "warehouse", "validate")}


def test_repo_workflow_fires_etl_aggregates_crawler_load_warehouse_validate_in_order(s):
    calls: list[str] = []
    wf = workflow.run_workflow(s, "2023-09", definitions.load(), jobs=fakes(calls))
    assert calls == [
        "taxilab-etl",
        "taxilab-aggregates",
        "taxilab-crawler",
        "taxilab-load-warehouse",
        "taxilab-validate",
    ]
    assert wf.status == "COMPLETED"
    [rec] = workflow.workflow_runs(s, "taxilab-monthly", "2023-09")
    assert (rec["id"], rec["status"], rec["started_by"]) == (wf.id, "COMPLETED", "manual")
    assert [j["job"] for j in rec["job_runs"]] == calls


def test_a_failed_warehouse_load_does_not_fire_validate(s):
    calls: list[str] = []
    wf = workflow.run_workflow(
        s, "2023-09", definitions.load(), jobs=fakes(calls, fail="warehouse"), backoff_s=0.01
    )
    assert calls[-2:] == ["taxilab-load-warehouse", "taxilab-load-warehouse"]  # max_retries 1, then nothing
    assert "taxilab-validate" not in calls and wf.status == "FAILED"


# ---- STOPPED -------------------------------------------------------------------------------------------
def waits_at_safe_points(rt, spec, month, run_id):
    for _ in range(100):  # ~10 s of work in small steps, each step ending at a safe point
        rt.sleep(0.1)
    return {}


def _when_running(s, job: str, then, timeout: float = 10) -> threading.Thread:
    def watch():
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(h["job"] == job and h["state"] == "RUNNING" for h in workflow.history(s)):
                then()
                return
            time.sleep(0.02)

    t = threading.Thread(target=watch, daemon=True)
    t.start()
    return t


def test_stop_request_on_disk_stops_the_running_job_and_fires_nothing(s, tmp_path):
    d = defs_for(tmp_path, {"a": {"local": "waits"}, "b": {"local": "ok"}}, chain("a", "b"))
    watcher = _when_running(
        s, "a", lambda: workflow.request_stop(s, "wf")
    )  # as `taxilab glue stop --workflow wf`
    t0 = time.monotonic()
    wf = workflow.run_workflow(s, "2023-09", d, jobs={"waits": waits_at_safe_points, "ok": ok})
    watcher.join()
    assert time.monotonic() - t0 < 5  # stopped at a safe point, not after its ~10 s of work
    assert [(r.job, r.state) for r in wf.runs] == [("a", "STOPPED")]  # not retried, b never started
    assert workflow.transitions(s, wf.runs[0].id) == ["STARTING", "RUNNING", "STOPPED"]
    assert "stop requested by taxilab glue stop" in wf.runs[0].error
    assert wf.status == "STOPPED"
    [rec] = workflow.workflow_runs(s, "wf")
    assert rec["status"] == "STOPPED" and not workflow.stop_file(s, wf.id).exists()
    with pytest.raises(workflow.StopError, match="not running: STOPPED"):
        workflow.request_stop(s, "wf", wf.id)


def test_sigterm_to_the_runner_stops_the_run_and_restores_the_handler(s, tmp_path):
    import os
    import signal

    before = signal.getsignal(signal.SIGTERM)
    d = defs_for(tmp_path, {"a": {"local": "waits", "retries": 2}, "b": {"local": "ok"}}, chain("a", "b"))
    watcher = _when_running(s, "a", lambda: os.kill(os.getpid(), signal.SIGTERM))
    wf = workflow.run_workflow(s, "2023-09", d, jobs={"waits": waits_at_safe_points, "ok": ok})
    watcher.join()
    assert [(r.job, r.state) for r in wf.runs] == [("a", "STOPPED")]
    assert wf.status == "STOPPED" and "SIGTERM" in wf.stop_reason
    assert signal.getsignal(signal.SIGTERM) is before


def test_a_job_that_never_reaches_a_safe_point_is_abandoned_after_the_grace_period(s, tmp_path):
    release = threading.Event()

    def deaf(rt, spec, month, run_id):
        release.wait(10)
        return {}

    d = defs_for(tmp_path, {"a": {"local": "deaf"}, "b": {"local": "ok"}}, chain("a", "b"))
    stop = workflow.StopControl()
    watcher = _when_running(s, "a", lambda: stop.stop("test"))
    wf = workflow.run_workflow(s, "2023-09", d, jobs={"deaf": deaf, "ok": ok}, stop=stop, stop_grace_s=0.3)
    release.set()
    watcher.join()
    assert [(r.job, r.state) for r in wf.runs] == [("a", "STOPPED")]
    assert "did not reach a safe point within 0.3 s" in wf.runs[0].error


def test_stop_of_a_workflow_without_a_running_run_is_refused(s):
    with pytest.raises(workflow.StopError, match="0 running run"):
        workflow.request_stop(s, "taxilab-monthly")


# ---- warehouse jobs in the definitions --------------------------------------------------------------------
def test_warehouse_jobs_are_glue_5_jobs_that_can_import_the_lab_package(tmp_path):
    d = definitions.load()
    kw = {
        j["Name"]: j
        for j in definitions.to_aws(d, load_settings(state_dir=tmp_path), "arn:r", "scripts")["jobs"]
    }
    for name in ("taxilab-load-warehouse", "taxilab-validate"):
        wh = kw[name]
        # glueetl on Glue 5.0 is Python 3.11 (Python shell stops at 3.9); the smallest worker config
        assert wh["Command"]["Name"] == "glueetl" and wh["GlueVersion"] == "5.0", name
        assert (wh["WorkerType"], wh["NumberOfWorkers"]) == ("G.1X", 2) and "MaxCapacity" not in wh
        assert wh["DefaultArguments"]["--additional-python-modules"].endswith(".whl")
        assert wh["DefaultArguments"]["--job-bookmark-option"] == "job-bookmark-disable"
    assert kw["taxilab-etl"]["Command"]["Name"] == "glueetl" and "MaxCapacity" not in kw["taxilab-etl"]


def test_a_python_shell_job_running_the_lab_package_is_refused(tmp_path):
    raw = json.loads(definitions.DEFINITIONS.read_text())
    [wh] = [j for j in raw["jobs"] if j["name"] == "taxilab-load-warehouse"]
    for key in ("worker_type", "number_of_workers"):
        wh.pop(key)
    wh.update({"command": "pythonshell", "python_version": "3.9", "max_capacity": 0.0625})
    p = tmp_path / "bad.json"
    p.write_text(json.dumps(raw))
    with pytest.raises(definitions.DefinitionError, match="taxilab-load-warehouse.*cannot import"):
        definitions.load(p)


def _with_python_shell_job(tmp_path, change):
    raw = json.loads(definitions.DEFINITIONS.read_text())
    job = {
        "name": "tool",
        "local": "ok",
        "command": "pythonshell",
        "python_version": "3.9",
        "max_capacity": 0.0625,
        "script": "scripts/tool.py",
        "timeout_minutes": 5,
        "max_retries": 0,
        **change,
    }
    raw["jobs"].append(job)
    p = tmp_path / "bad.json"
    p.write_text(json.dumps(raw))
    return p


def test_a_valid_python_shell_job_outside_the_lab_package_is_accepted(tmp_path):
    assert "tool" in definitions.load(_with_python_shell_job(tmp_path, {})).jobs


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"python_version": "3.6"}, "python_version 3.9"),
        ({"max_capacity": 2}, "max_capacity one of"),
        ({"bookmark": "job-bookmark-enable"}, "cannot use job bookmarks"),
        ({"worker_type": "G.1X"}, "not worker_type"),
        ({"command": "gluestreaming"}, "command must be one of"),
    ],
)
def test_a_python_shell_job_glue_would_refuse_is_refused_by_name(tmp_path, change, problem):
    with pytest.raises(definitions.DefinitionError, match=f"'tool'.*{problem}"):
        definitions.load(_with_python_shell_job(tmp_path, change))


def test_a_glueetl_job_below_glues_minimum_workers_is_refused(tmp_path):
    raw = json.loads(definitions.DEFINITIONS.read_text())
    [wh] = [j for j in raw["jobs"] if j["name"] == "taxilab-validate"]
    wh["number_of_workers"] = 1
    p = tmp_path / "bad.json"
    p.write_text(json.dumps(raw))
    with pytest.raises(definitions.DefinitionError, match="taxilab-validate.*number_of_workers >= 2"):
        definitions.load(p)
