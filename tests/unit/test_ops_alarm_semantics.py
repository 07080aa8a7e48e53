"""CloudWatch alarm semantics against hand-worked series: M out of N datapoints to alarm, and each
missing-data treatment; the evaluation range; the declarations file."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from taxilab.core.jobgraph import load as load_jobgraph
from taxilab.ops import alarms
from taxilab.ops.alarms import Alarm, evaluate_series

_ = None  # a missing datapoint


def alarm(n=3, m=2, treat="missing", threshold=10, op="GreaterThanThreshold", period=300) -> Alarm:
    return Alarm("a", "test", "M", {"profile": "local"}, "Maximum", period, n, m, threshold, op, treat)


@pytest.mark.parametrize(
    "values,state",
    [
        ([5, 12, 15], "ALARM"),  # 2 of 3 breach, 2 needed
        ([12, 5, 5], "OK"),  # 1 of 3
        ([12, _, 15], "ALARM"),  # 2 real ones, both breach: enough real data, treatment unused
        ([12, _, 5], "OK"),  # 2 real ones, 1 breaches
    ],
)
def test_m_out_of_n_with_enough_real_datapoints(values, state):
    for treat in alarms.TREATMENTS:  # with >= M real datapoints the treatment does not matter
        assert evaluate_series(alarm(treat=treat), values, "OK").state == state


@pytest.mark.parametrize(
    "treat,current,state",
    [
        ("missing", "OK", "INSUFFICIENT_DATA"),
        ("ignore", "ALARM", "ALARM"),
        ("ignore", "OK", "OK"),
        ("breaching", "OK", "ALARM"),
        ("notBreaching", "ALARM", "OK"),
    ],
)
def test_no_datapoint_at_all_follows_the_treatment(treat, current, state):
    assert evaluate_series(alarm(treat=treat), [_, _, _], current).state == state


@pytest.mark.parametrize(
    "values,treat,current,state",
    [
        # one real datapoint, 2 needed: the two missing ones are filled per the treatment
        ([_, 12, _], "breaching", "OK", "ALARM"),  # 1 + 2 missing >= 2
        ([_, 12, _], "notBreaching", "ALARM", "OK"),  # 1 < 2
        ([_, 12, _], "missing", "OK", "ALARM"),  # every real datapoint breaches
        ([_, 12, _], "ignore", "OK", "OK"),  # undecidable: state kept
        ([_, 12, _], "ignore", "ALARM", "ALARM"),
        ([_, 5, _], "breaching", "OK", "ALARM"),  # 0 + 2 missing >= 2
        ([_, 5, _], "missing", "ALARM", "OK"),
        ([_, 5, _], "ignore", "ALARM", "OK"),  # a real good datapoint clears it
    ],
)
def test_fewer_real_datapoints_than_needed_fill_the_missing_per_treatment(values, treat, current, state):
    assert evaluate_series(alarm(treat=treat), values, current).state == state


def test_cloudwatch_documented_three_of_five_rows():
    # The AWS guide's table for 3 datapoints to alarm (newest last): real data decides when there is enough.
    a = alarm(n=5, m=3, threshold=0)
    X, G = 1, 0  # breaching, good
    assert evaluate_series(a, [G, _, X, _, X]).state == "OK"
    assert evaluate_series(a, [G, X, X, _, X]).state == "ALARM"
    assert evaluate_series(alarm(n=5, m=3, threshold=0, treat="breaching"), [_, _, X, _, _]).state == "ALARM"
    assert evaluate_series(alarm(n=5, m=3, threshold=0, treat="notBreaching"), [_, _, X, _, _]).state == "OK"
    assert evaluate_series(alarm(n=5, m=3, threshold=0, treat="ignore"), [_, _, X, _, _], "OK").state == "OK"


def test_operators_and_threshold_edges():
    assert evaluate_series(alarm(n=1, m=1, threshold=10), [10]).state == "OK"
    assert (
        evaluate_series(alarm(n=1, m=1, threshold=10, op="GreaterThanOrEqualToThreshold"), [10]).state
        == "ALARM"
    )
    assert evaluate_series(alarm(n=1, m=1, threshold=1, op="LessThanThreshold"), [0.5]).state == "ALARM"


def test_the_message_value_is_the_newest_breaching_datapoint():
    ev = evaluate_series(alarm(), [15, 12, 5])
    assert ev.state == "ALARM" and ev.value == 12


def test_evaluation_range_ends_with_the_period_holding_now():
    now = datetime(2026, 11, 29, 12, 7, 30, tzinfo=UTC)
    starts = alarms.window(alarm(n=3, period=300), now)
    assert [s.strftime("%H:%M") for s in starts] == ["11:55", "12:00", "12:05"]
    assert [s.strftime("%S") for s in alarms.window(alarm(n=2, period=10), now)] == ["20", "30"]


def test_declarations_fill_the_profile_and_keep_putmetricalarm_keys():
    d = alarms.load_declarations("compose")
    assert d.namespace == "TaxiLab" and d.sns_topic and d.budget["thresholds_percent"] == [50, 80, 100]
    assert all(a.dimensions["profile"] == "compose" for a in d.alarms)
    raw = json.loads(alarms.DECLARATIONS.read_text())
    assert all(set(a) == set(alarms.ALARM_KEYS) for a in raw["alarms"])
    names = {a.alarm_name for a in d.alarms}
    for expected in (
        "taxilab-job-failed",
        "taxilab-end-to-end-over-kpi",
        "taxilab-drop-freshness-over-sla",
        "taxilab-quarantine-rate-high",
        "taxilab-reconciliation-failed",
        "taxilab-projected-cost-over-budget",
    ):
        assert expected in names
    assert d.alarm("taxilab-end-to-end-over-kpi").threshold == 15 * 60
    assert d.alarm("taxilab-drop-freshness-over-sla").threshold == 10 * 60


def test_each_job_duration_threshold_is_80_percent_of_its_jobgraph_timeout():
    d = alarms.load_declarations("local")
    for job in load_jobgraph().raw["jobs"]:
        a = next(
            a for a in d.alarms if a.metric_name == "Duration" and a.dimensions.get("job") == job["name"]
        )
        assert a.threshold == 0.8 * job["timeout_minutes"] * 60, job["name"]


def test_overrides_lower_a_threshold_and_refuse_unknown_alarms_and_keys():
    d = alarms.load_declarations(
        "local", override={"alarms": {"taxilab-etl-duration": {"threshold": 1, "period": 10}}}
    )
    assert d.alarm("taxilab-etl-duration").threshold == 1 and d.alarm("taxilab-etl-duration").period == 10
    assert d.overridden == ("taxilab-etl-duration",)
    with pytest.raises(alarms.DeclarationError, match="taxilab-nope"):
        alarms.load_declarations("local", override={"alarms": {"taxilab-nope": {"threshold": 1}}})
    with pytest.raises(alarms.DeclarationError, match="metric_name"):
        alarms.load_declarations("local", override={"alarms": {"taxilab-etl-duration": {"metric_name": "X"}}})
    with pytest.raises(alarms.DeclarationError, match="period 45"):
        alarms.load_declarations("local", override={"alarms": {"taxilab-etl-duration": {"period": 45}}})
    with pytest.raises(alarms.DeclarationError, match="datapoints_to_alarm 3"):
        alarms.load_declarations(
            "local", override={"alarms": {"taxilab-etl-duration": {"datapoints_to_alarm": 3}}}
        )
