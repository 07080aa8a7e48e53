"""Incremental daily runs: a drop landing in raw raises an S3 event notification to SQS; the lab consumes
it and runs the declared workflow (spark_jobs/jobgraph.json) for just that data, then measures freshness.
Why: docs/adr/0010-incremental-daily-runs.md.
"""

from __future__ import annotations

import json
import logging
import math
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import unquote_plus

from spark_jobs.io import paths
from spark_jobs.month import Month
from taxilab.core.clients import arrow_s3_filesystem, client, queue_for_service
from taxilab.core.runs import timed
from taxilab.core.settings import Settings, check_schema

log = logging.getLogger(__name__)
NOTIFICATION_ID = "taxilab-raw-drops"
DROP_WORKFLOW = "taxilab-incremental"  # drop runs are recorded apart from the monthly workflow's runs


class IncrementalError(RuntimeError):
    pass


@dataclass(frozen=True)
class DropEvent:
    bucket: str
    key: str
    etag: str
    size: int
    event_time: datetime  # aware, UTC
    receipt_handle: str

    @property
    def month(self) -> str:
        return month_of_key(self.key)


@dataclass
class DropResult:
    key: str
    month: str
    created: str
    visible_at: str = ""
    freshness_s: float | None = None
    rows_in: int = 0
    rows_visible: int = 0
    dates: list[str] = field(default_factory=list)
    stages: dict[str, float] = field(default_factory=dict)
    whole_month: bool = False


def queue_name(settings: Settings) -> str:
    return f"{settings.bucket}-raw-drops"[:80]


def raw_dataset_prefix(settings: Settings) -> str:
    return paths.raw_month_prefix(settings.dataset, "2000-01").split("year=")[0]


def month_of_key(key: str) -> str:
    """'raw/dataset=d/year=2024/month=04/x.parquet' -> '2024-04'; a key outside that layout is an error."""
    parts = dict(seg.split("=", 1) for seg in key.split("/") if "=" in seg)
    try:
        month = f"{int(parts['year']):04d}-{int(parts['month']):02d}"
        Month.parse(month)
    except (KeyError, ValueError):
        raise IncrementalError(
            f"raw object {key!r} is not under raw/dataset=<d>/year=YYYY/month=MM/"
        ) from None
    return month


# ---- wiring: queue, its policy, the bucket notification --------------------------------------------------
def ensure_notifications(settings: Settings) -> str:
    """Create the SQS queue (idempotent), let the bucket send to it, and add (or refresh) the bucket's
    notification for new raw Parquet objects, keeping any other notification configured. Returns the URL."""
    s3 = client("s3", settings)
    # Visibility timeout above a drop's worst processing time: an unfinished message is not redelivered
    # to a second consumer while the first still works on it.
    url, arn = queue_for_service(
        settings,
        queue_name(settings),
        "s3-raw-drops",
        "s3.amazonaws.com",
        f"arn:aws:s3:::{settings.bucket}",
        {"VisibilityTimeout": "600"},
    )
    current = s3.get_bucket_notification_configuration(Bucket=settings.bucket)
    current.pop("ResponseMetadata", None)
    ours = {
        "Id": NOTIFICATION_ID,
        "QueueArn": arn,
        "Events": ["s3:ObjectCreated:*"],
        "Filter": {
            "Key": {
                "FilterRules": [
                    {"Name": "prefix", "Value": raw_dataset_prefix(settings)},
                    {"Name": "suffix", "Value": ".parquet"},
                ]
            }
        },
    }
    current["QueueConfigurations"] = [
        c for c in current.get("QueueConfigurations", []) if c.get("Id") != NOTIFICATION_ID
    ] + [ours]
    s3.put_bucket_notification_configuration(Bucket=settings.bucket, NotificationConfiguration=current)
    return url


def _parse_time(s: str) -> datetime:
    t = datetime.fromisoformat(s.replace("Z", "+00:00"))
    return t if t.tzinfo else t.replace(tzinfo=UTC)


def parse_message(body: str, receipt_handle: str) -> list[DropEvent]:
    """The object-created records of an S3 event message (s3:TestEvent and other events: none)."""
    try:
        msg = json.loads(body)
    except ValueError:
        raise IncrementalError(f"SQS message is not JSON: {body[:200]!r}") from None
    out = []
    for r in msg.get("Records", []):
        if not str(r.get("eventName", "")).startswith("ObjectCreated"):
            continue
        o = r["s3"]["object"]
        out.append(
            DropEvent(
                r["s3"]["bucket"]["name"],
                unquote_plus(o["key"]),
                str(o.get("eTag", "")).strip('"'),
                int(o.get("size", 0)),
                _parse_time(r["eventTime"]),
                receipt_handle,
            )
        )
    return out


def receive(
    settings: Settings, queue_url: str, max_wait_s: float, expect_keys: set[str] | None = None
) -> list[DropEvent]:
    """Long-poll the queue for at most max_wait_s (never longer): return once every key of expect_keys has
    arrived, or (without expect_keys) once a poll brought messages and the next immediate poll brought no
    more. Messages that carry no object-created record (the test event S3 sends on configuration) are
    deleted here; drop messages stay until `delete` (after they were processed)."""
    sqs = client("sqs", settings)
    deadline = time.monotonic() + max_wait_s
    events: list[DropEvent] = []
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return events
        waiting = expect_keys is not None and not expect_keys <= {e.key for e in events}
        wait = min(20, math.ceil(remaining)) if (waiting or not events) else 0
        resp = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=wait)
        msgs = resp.get("Messages", [])
        for m in msgs:
            got = parse_message(m["Body"], m["ReceiptHandle"])
            if not got:
                sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=m["ReceiptHandle"])
            events += got
        if expect_keys is not None:
            if expect_keys <= {e.key for e in events}:
                return events
        elif events and not msgs:
            return events


def delete(settings: Settings, queue_url: str, events: list[DropEvent]) -> None:
    sqs = client("sqs", settings)
    for h in {e.receipt_handle for e in events}:
        sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=h)


def land_drop(settings: Settings, path: str | Path, month: str) -> str:
    """Put a drop file into the month's raw prefix under its own name; returns the key."""
    from taxilab.ingest.raw import raw_key

    path = Path(path)
    key = raw_key(settings, month, path.name)  # refuses a name the etl would not read
    client("s3", settings).upload_file(str(path), settings.bucket, key)
    return key


# ---- processing ---------------------------------------------------------------------------------------------
def _affected_dates(settings: Settings, files: list[str], month: str) -> list:
    """Pickup dates (within the month) of the processed raw files: read from their pickup column only."""
    import pyarrow.parquet as pq

    from taxilab.ingest.drops import PICKUP, days_in

    fs = arrow_s3_filesystem(settings)
    dates: set = set()
    for f in files:
        t = pq.read_table(f.split("://", 1)[1], columns=[PICKUP], filesystem=fs)
        dates |= set(days_in(t, month))
    return sorted(dates)


def process(
    settings: Settings,
    events: list[DropEvent],
    spark_factory,
    report=None,
    received_s: float = 0.0,
    crawl: bool = True,
) -> list[DropResult]:
    """Run the declared workflow (spark_jobs/jobgraph.json) for the drops of `events`, month by month, with
    the daily-drop implementations of its jobs: the etl reads only what its bookmark has not seen, the
    aggregates rebuild the month's curated folders, the crawler registers new partitions, the warehouse job
    replaces only the drops' pickup dates (their rows become queryable: freshness ends there) and validate
    reconciles the month. Returns one DropResult per drop with its freshness and stage times."""
    results: list[DropResult] = []
    by_month: dict[str, list[DropEvent]] = {}
    for e in events:
        if e.bucket != settings.bucket:
            raise IncrementalError(f"event for bucket {e.bucket!r}, the lab's bucket is {settings.bucket!r}")
        by_month.setdefault(e.month, []).append(e)
    for month, evs in sorted(by_month.items()):
        results += _drop_month(settings, month, evs, spark_factory, report, received_s, crawl)
    return results


def _drop_month(
    settings: Settings,
    month: str,
    evs: list[DropEvent],
    spark_factory,
    report,
    received_s: float,
    crawl: bool,
) -> list[DropResult]:
    """One month's drops through the declared workflow (see process)."""
    from emulation.glue import workflow as wfm
    from taxilab import resources
    from taxilab.orchestration.jobs import run_workflow
    from taxilab.validation.reconcile import ReconciliationError, reconcile

    warehouse = resources.warehouse(settings)
    s3 = client("s3", settings)
    results: list[DropResult] = []
    stages: dict[str, float] = {"receive": round(received_s, 2)}
    run: dict = {
        "files": [],
        "dates": [],
        "whole": False,
        "etl": {},
        "loaded": {},
        "visible": {},
        "own_dates": [],
        "visible_at": None,
    }
    urls = [f"s3://{e.bucket}/{e.key}" for e in evs]

    def etl_job(rt, spec, m, run_id):
        with timed() as clock:
            metrics = wfm.run_etl(rt, spec, m, run_id)
        stages["etl"] = clock.seconds
        run["etl"], run["files"] = metrics, list(metrics.get("files") or [])
        run["whole"] = bool(metrics.get("bookmark", {}).get("whole_month"))
        with timed() as clock:
            run["dates"] = Month.parse(m).days if run["whole"] else _affected_dates(settings, run["files"], m)
        stages["affected_dates"] = clock.seconds
        return metrics

    def aggregates_job(rt, spec, m, run_id):
        if not run["files"]:
            return {"skipped": "no new raw objects"}
        with timed() as clock:
            metrics = wfm.run_aggregates(rt, spec, m, run_id)
        stages["aggregates"] = clock.seconds
        return metrics

    def crawler_job(rt, spec, m, run_id):
        if not (crawl and run["files"]):
            return {"skipped": "no new raw objects" if crawl else "crawl off"}
        with timed() as clock:
            metrics = wfm.run_crawler(rt, spec, m, run_id)
        stages["crawl"] = clock.seconds
        return metrics

    def warehouse_job(rt, spec, m, run_id):
        rt.checkpoint()
        if run["dates"]:
            with timed() as clock:
                run["loaded"] = warehouse.load_dates(run["dates"])
            stages["warehouse"] = clock.seconds
        with timed() as clock:
            # The drops' own dates (a redelivered, already loaded drop has no new dates to load, but its
            # rows are still there to see).
            own = (
                run["dates"]
                if not run["whole"] and set(urls) <= set(run["files"])
                else _affected_dates(settings, urls, m)
            )
            run["own_dates"], run["visible"] = own, _visible_rows(settings, own, urls)
            run["visible_at"] = datetime.now(UTC)
        stages["visible_query"] = clock.seconds
        return {"dates": [str(d) for d in run["dates"]], "rows_in": run["loaded"].get("rows_in", 0)}

    def validate_job(rt, spec, m, run_id):
        rt.checkpoint()
        with timed() as clock:
            checks = reconcile(settings, m)
        stages["validate"] = clock.seconds
        bad = [c for c in checks if not c.ok]
        if bad:
            raise ReconciliationError(
                f"{len(bad)} reconciliation check(s) failed after the drop: "
                + "; ".join(f"{c.name} (expected {c.expected}, got {c.actual})" for c in bad)
            )
        return {"checks": len(checks)}

    jobs = {
        "etl": etl_job,
        "aggregates": aggregates_job,
        "crawler": crawler_job,
        "warehouse": warehouse_job,
        "validate": validate_job,
    }
    wf = run_workflow(
        settings,
        month,
        jobs=jobs,
        spark_factory=spark_factory,
        run_as=DROP_WORKFLOW,
        started_by=f"daily drop(s) {', '.join(e.key.rsplit('/', 1)[-1] for e in evs)}",
    )
    if wf.status != "COMPLETED":
        failed = next((r for r in reversed(wf.runs) if r.state != "SUCCEEDED"), None)
        raise IncrementalError(
            f"{month} drops: workflow run {wf.id} {wf.status}"
            + (f" at {failed.job}: {failed.error}" if failed else "")
        )
    visible_at, etl_m = run["visible_at"], run["etl"]
    for e in evs:
        created = e.event_time
        if created is None:  # pragma: no cover - S3 events always carry eventTime
            created = s3.head_object(Bucket=e.bucket, Key=e.key)["LastModified"]
        results.append(
            DropResult(
                e.key,
                month,
                created.isoformat(),
                visible_at.isoformat(),
                round((visible_at - created).total_seconds(), 2),
                rows_in=int(etl_m.get("rows_in", 0)) if len(evs) == 1 else 0,
                rows_visible=run["visible"].get(f"s3://{e.bucket}/{e.key}", 0),
                dates=[str(d) for d in run["own_dates"]],
                stages=dict(stages),
                whole_month=run["whole"],
            )
        )
    if report is not None:
        loaded = run["loaded"]
        report.drops.extend(r.__dict__ for r in results[-len(evs) :])
        report.notes.append(
            f"{month}: workflow run {wf.id}: "
            + ", ".join(f"{r.job} {r.state}" for r in wf.runs)
            + (
                f"; warehouse {loaded.get('tables', {}).get('fct_trips', {}).get('rows', 0)} "
                f"fct_trips rows for {len(run['dates'])} date(s)"
                if loaded
                else ""
            )
        )
    return results


def _visible_rows(settings: Settings, dates: list, source_files: list[str]) -> dict[str, int]:
    """What a warehouse query sees of each drop now: its accepted rows in fct_trips (source_file is the
    raw object's URL, as the etl job tags every row)."""
    from psycopg import sql

    from taxilab.warehouse.loader import connect

    if not dates:
        return {}
    with connect(settings) as conn:
        query = sql.SQL(
            "SELECT source_file, count(*) FROM {}.fct_trips"
            " WHERE pickup_date = ANY(%s) AND source_file = ANY(%s) GROUP BY source_file"
        ).format(sql.Identifier(check_schema(settings.warehouse_schema)))
        rows = conn.execute(
            query,
            [sorted(dates), source_files],
        ).fetchall()
    return {f: int(n) for f, n in rows}


def consume(
    settings: Settings,
    queue_url: str,
    spark_factory,
    max_wait_s: float = 20.0,
    expect_keys: set[str] | None = None,
    report=None,
    crawl: bool = True,
) -> list[DropResult]:
    """Receive drop events (bounded wait), process them, then delete their messages. No message within
    the wait: nothing done, []."""
    t0 = time.monotonic()
    events = receive(settings, queue_url, max_wait_s, expect_keys)
    received_s = time.monotonic() - t0
    if expect_keys is not None and not expect_keys <= {e.key for e in events}:
        missing = sorted(expect_keys - {e.key for e in events})
        raise IncrementalError(
            f"no S3 event for {missing} within {max_wait_s:g} s on {queue_url}: is the "
            "bucket notification configured (ensure_notifications)?"
        )
    if expect_keys is not None:
        # Only the awaited drops (simulate, tests): other events (e.g. a monthly ingest's object) are left
        # on the queue for a general consumer, they come back after the visibility timeout.
        events = [e for e in events if e.key in expect_keys]
    if not events:
        return []
    results = process(settings, events, spark_factory, report, received_s, crawl)
    delete(settings, queue_url, events)
    return results
