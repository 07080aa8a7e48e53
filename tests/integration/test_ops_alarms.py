"""Each alarm driven end to end on the embedded services: real runs put their metrics into the emulator's
CloudWatch, the lab evaluates the declared alarms over them, and every state change reaches the SNS topic's
SQS inbox and the mailbox file.

Drills lower thresholds and shorten periods through the lab's override file, never by sleeping long:
periods of 10 s and missing data `ignore` (a state changes only on a real datapoint) make each change the
work of one run. Five small runs in all (20k synthetic rows each)."""

from __future__ import annotations

import io
import json
import time
import uuid
from datetime import UTC, datetime, timedelta

import pyarrow.parquet as pq
import pytest

from spark_jobs.io import paths
from taxilab import ops
from taxilab.core.clients import client
from taxilab.ops import alarms, notify
from taxilab.orchestration import drops as incremental
from taxilab.orchestration.pipeline import Pipeline, PipelineOptions, StageError
from taxilab.report import RunReport

pytestmark = pytest.mark.integration

MONTH = "2023-11"
ROWS = 20_000
DRILLED = (
    "taxilab-job-failed",
    "taxilab-end-to-end-over-kpi",
    "taxilab-reconciliation-failed",
    "taxilab-drop-freshness-over-sla",
)
PERIOD = 10


def _override(settings, topic: str, **alarm_changes) -> None:
    changes = {name: {"period": PERIOD, "treat_missing_data": "ignore"} for name in DRILLED}
    for name, fields in alarm_changes.items():
        changes[name].update(fields)
    p = alarms.override_file(settings)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(json.dumps({"sns_topic": topic, "alarms": changes}))


def _new_period() -> None:
    """Wait for the next 10-second period, so the next evaluation sees only what comes after."""
    time.sleep(PERIOD - time.time() % PERIOD + 0.2)


def _run(settings, month=MONTH):
    return Pipeline(PipelineOptions(month, "synthetic", ROWS, 7, progress=False), settings=settings).run()


@pytest.fixture(scope="module")
def drill(lab_settings, spark):
    topic = f"taxilab-alerts-it-{uuid.uuid4().hex[:6]}"
    _override(lab_settings, topic)
    alarms.state_file(lab_settings).unlink(missing_ok=True)  # earlier tests' runs left states behind
    decl = alarms.declarations_for(lab_settings)
    notify.ensure_topic(lab_settings, decl)
    yield {"settings": lab_settings, "topic": topic, "decl": decl, "messages": [], "runs": {}}
    alarms.override_file(lab_settings).unlink(missing_ok=True)


def _changes(drill, alarm: str, state: str) -> tuple[dict, dict]:
    """The SNS->SQS message and the mailbox entry of the latest change of `alarm` to `state`."""
    s, decl = drill["settings"], drill["decl"]
    drill["messages"] += notify.receive(s, decl, wait_s=2)
    got = [m for m in drill["messages"] if m["alarm"] == alarm and m["state"] == state]
    assert got, (
        f"no {state} message for {alarm} on the inbox; got {[(m['alarm'], m['state']) for m in drill['messages']]}"
    )
    mail = [
        m for m in notify.read_mailbox(s) if m["message"]["alarm"] == alarm and m["message"]["state"] == state
    ]
    assert mail and mail[-1]["to"] == drill["topic"] and alarm in mail[-1]["subject"]
    assert mail[-1]["message"] == got[-1]
    return got[-1], mail[-1]


def _state(drill, alarm: str) -> str:
    return alarms.read_states(drill["settings"])[alarm]["state"]


def test_a_run_puts_its_metrics_into_the_emulators_cloudwatch(drill):
    s = drill["settings"]
    _override(s, drill["topic"], **{"taxilab-end-to-end-over-kpi": {"threshold": 1}})
    rep = _run(s)
    drill["runs"]["first"] = rep
    assert rep.status == "succeeded"
    assert rep.estimated_cost and float(rep.estimated_cost["total_usd"]) > 0
    assert {"glue", "redshift"} <= set(rep.estimated_cost["by_service_usd"])
    on_disk = json.loads((s.runs_dir / f"{rep.run_id}.json").read_text())
    assert on_disk["estimated_cost"]["total_usd"] == rep.estimated_cost["total_usd"]
    cw = client("cloudwatch", s)
    start, end = datetime.fromisoformat(rep.started_at), datetime.now(UTC) + timedelta(seconds=1)
    etl = rep.get("etl")

    def series(name, **dims):  # this run's datapoints only: from its start
        r = cw.get_metric_data(
            StartTime=start,
            EndTime=end,
            MetricDataQueries=[
                {
                    "Id": "m",
                    "MetricStat": {
                        "Metric": {
                            "Namespace": drill["decl"].namespace,
                            "MetricName": name,
                            # sorted by name, as the lab puts them (moto 5.2.5's
                            # Dimension.__lt__ is broken: unsorted queries miss)
                            "Dimensions": [{"Name": k, "Value": v} for k, v in sorted(dims.items())],
                        },
                        "Period": 600,
                        "Stat": "Maximum",
                    },
                }
            ],
        )
        return r["MetricDataResults"][0]["Values"]

    detail = {"stage": "etl", "job": "taxilab-etl", "month": MONTH, "profile": "local"}
    assert series("RowsIn", **detail) == [float(etl.rows_in)]
    assert series("RowsQuarantined", **detail) == [float(etl.quarantined)]
    reason, n = max(etl.quarantined_by_reason.items(), key=lambda kv: kv[1])
    assert series("RowsQuarantined", reason=reason, **detail) == [float(n)]
    assert series("Duration", job="taxilab-etl", profile="local") == [pytest.approx(etl.seconds)]
    assert series("QuarantineRate", profile="local") == [pytest.approx(100 * etl.quarantined / etl.rows_in)]
    assert series("EstimatedCost", month=MONTH, profile="local") == [
        pytest.approx(float(rep.estimated_cost["total_usd"]))
    ]


def test_a_run_slower_than_the_lowered_end_to_end_threshold_raises_its_alarm(drill):
    rep = drill["runs"]["first"]
    assert _state(drill, "taxilab-end-to-end-over-kpi") == "ALARM"
    msg, _ = _changes(drill, "taxilab-end-to-end-over-kpi", "ALARM")
    assert msg["month"] == MONTH and msg["run_id"] == rep.run_id and msg["stage"] == "pipeline"
    assert msg["threshold"] == 1 and msg["value"] == pytest.approx(rep.seconds)
    assert any("taxilab-end-to-end-over-kpi" in n and "ALARM" in n for n in rep.notes)


def test_a_failed_job_raises_the_job_alarm_and_a_good_run_clears_both(drill):
    s = drill["settings"]
    assert _state(drill, "taxilab-job-failed") == "OK"  # the first run was good
    s3 = client("s3", s)
    bad_key = paths.raw_month_prefix(s.dataset, MONTH) + "corrupt-drop.parquet"

    class CorruptFileAfterIngest(Pipeline):
        """Fault injection: a corrupt object lands in the month's raw prefix by other means between ingest
        and the etl job, which refuses it by name and fails."""

        def ingest(self):
            super().ingest()
            s3.put_object(Bucket=s.bucket, Key=bad_key, Body=b"this is not a parquet file")

    try:
        with pytest.raises(StageError, match="(?s)stage 'etl' failed.*corrupt-drop.parquet"):
            CorruptFileAfterIngest(
                PipelineOptions(MONTH, "synthetic", ROWS, 7, progress=False), settings=s
            ).run()
    finally:
        s3.delete_object(Bucket=s.bucket, Key=bad_key)
    assert _state(drill, "taxilab-job-failed") == "ALARM"
    msg, mail = _changes(drill, "taxilab-job-failed", "ALARM")
    assert (msg["job"], msg["stage"], msg["month"]) == ("taxilab-etl", "etl", MONTH)
    assert msg["value"] == 1 and msg["threshold"] == 0 and msg["previous"] == "OK"
    assert "taxilab-etl" in mail["subject"] and MONTH in mail["subject"]
    # The end-to-end alarm has no datapoint from a failed run: `ignore` keeps it in ALARM.
    assert _state(drill, "taxilab-end-to-end-over-kpi") == "ALARM"

    _override(s, drill["topic"])  # the KPI threshold back (15 minutes)
    good = _run(s)
    assert good.status == "succeeded"
    assert _state(drill, "taxilab-job-failed") == "OK"
    assert _state(drill, "taxilab-end-to-end-over-kpi") == "OK"
    ok, _ = _changes(drill, "taxilab-job-failed", "OK")
    assert ok["run_id"] == good.run_id and ok["previous"] == "ALARM" and ok["value"] == 0
    ok, _ = _changes(drill, "taxilab-end-to-end-over-kpi", "OK")
    assert ok["value"] == pytest.approx(good.seconds) and ok["threshold"] == 900
    history = [(h["previous"], h["state"]) for h in alarms.history(s, "taxilab-job-failed")]
    assert history[-3:] == [("INSUFFICIENT_DATA", "OK"), ("OK", "ALARM"), ("ALARM", "OK")]
    stored = client("cloudwatch", s).describe_alarms(AlarmNames=["taxilab-job-failed"])["MetricAlarms"][0]
    assert stored["StateValue"] == "OK" and stored["Period"] == PERIOD


def test_a_damaged_staging_file_raises_the_reconciliation_alarm_and_a_good_run_clears_it(drill):
    from taxilab.ops.checks import revalidate

    s = drill["settings"]
    s3 = client("s3", s)
    staged = [
        o["Key"]
        for o in s3.list_objects_v2(Bucket=s.bucket, Prefix=paths.staging_prefix(s.dataset))["Contents"]
        if o["Key"].endswith(".parquet") and "pickup_date=2023-11-" in o["Key"]
    ]
    key = sorted(staged)[0]
    table = pq.read_table(io.BytesIO(s3.get_object(Bucket=s.bucket, Key=key)["Body"].read()))
    buf = io.BytesIO()
    pq.write_table(table.slice(1), buf)  # one row lost
    s3.put_object(Bucket=s.bucket, Key=key, Body=buf.getvalue())
    _new_period()
    rep = revalidate(s, MONTH)
    assert rep.status == "failed" and not all(c.ok for c in rep.checks)
    assert _state(drill, "taxilab-reconciliation-failed") == "ALARM"
    msg, _ = _changes(drill, "taxilab-reconciliation-failed", "ALARM")
    assert (msg["stage"], msg["job"], msg["month"]) == ("validate", "taxilab-validate", MONTH)
    assert msg["value"] == sum(1 for c in rep.checks if not c.ok) and msg["threshold"] == 0

    good = _run(s)  # the etl rewrites the month's staging
    assert good.status == "succeeded"
    assert _state(drill, "taxilab-reconciliation-failed") == "OK"
    ok, _ = _changes(drill, "taxilab-reconciliation-failed", "OK")
    assert ok["run_id"] == good.run_id and ok["value"] == 0
    drill["runs"]["last"] = good


def _drop_event(s, key: str, event_time: datetime) -> str:
    return json.dumps(
        {
            "Records": [
                {
                    "eventName": "ObjectCreated:Put",
                    "eventTime": event_time.isoformat(),
                    "s3": {"bucket": {"name": s.bucket}, "object": {"key": key, "eTag": "e", "size": 1}},
                }
            ]
        }
    )


def _drop_run(drill, spark, event_time: datetime) -> RunReport:
    """What `taxilab glue simulate` does for one drop, with the drop's S3 event created at event_time."""
    s = drill["settings"]
    key = drill["runs"]["last"].get("ingest").detail["raw_key"]
    url = incremental.ensure_notifications(s)
    client("sqs", s).send_message(QueueUrl=url, MessageBody=_drop_event(s, key, event_time))
    report = RunReport(MONTH, "drops:it", s.profile)
    incremental.consume(s, url, lambda: spark, max_wait_s=30, expect_keys={key}, report=report, crawl=False)
    report.finish("succeeded")
    ops.after_run(s, report)
    report.write(s.runs_dir)
    return report


def test_a_drop_older_than_the_sla_raises_the_freshness_alarm_and_a_fresh_drop_clears_it(drill, spark):
    _new_period()
    late = _drop_run(drill, spark, datetime.now(UTC) - timedelta(minutes=25))
    [d] = late.drops
    assert d["freshness_s"] > 25 * 60
    assert _state(drill, "taxilab-drop-freshness-over-sla") == "ALARM"
    msg, _ = _changes(drill, "taxilab-drop-freshness-over-sla", "ALARM")
    assert msg["month"] == MONTH and msg["stage"] == "drops" and msg["threshold"] == 600
    assert msg["value"] == pytest.approx(d["freshness_s"])

    _new_period()
    fresh = _drop_run(drill, spark, datetime.now(UTC))
    assert fresh.drops[0]["freshness_s"] < 600
    assert _state(drill, "taxilab-drop-freshness-over-sla") == "OK"
    ok, _ = _changes(drill, "taxilab-drop-freshness-over-sla", "OK")
    assert ok["run_id"] == fresh.run_id and ok["value"] == pytest.approx(fresh.drops[0]["freshness_s"])


def test_ops_status_shows_runs_alarms_freshness_and_cost(drill):
    from taxilab.ops import status

    st = status.gather(drill["settings"], runs=3)
    assert st["runs"][-1]["source"] == "drops:it" and st["runs"][-1]["estimated_cost_usd"]
    states = {a["alarm"]: a["state"] for a in st["alarms"]}
    assert all(states[a] == "OK" for a in DRILLED)
    assert {"taxilab-monthly-50pct", "taxilab-monthly-80pct", "taxilab-monthly-100pct"} <= set(states)
    assert st["freshness"]["drops"][0]["within_sla"] is True
    assert float(st["cost"]["month_to_date_usd"]) > 0 and st["overrides"]
