"""`taxilab glue ...`: the Glue side of the lab — crawler, catalog, job bookmarks, workflow, deployment."""

from __future__ import annotations

import json
import sys
import time

import typer
from rich.console import Console
from rich.table import Table

from taxilab.core.settings import Settings, get_settings

app = typer.Typer(
    help="Glue fidelity: crawl the lake into the Glue catalog, job bookmarks, the workflow.",
    no_args_is_help=True,
)
bookmarks_app = typer.Typer(
    help="Glue job bookmarks kept by the lab (state under .lab/bookmarks).", no_args_is_help=True
)
workflow_app = typer.Typer(
    help="The pipeline as a Glue workflow (spark_jobs/jobgraph.json).", no_args_is_help=True
)
app.add_typer(bookmarks_app, name="bookmarks")
app.add_typer(workflow_app, name="workflow")
console = Console(highlight=False, width=None if sys.stdout.isatty() else 160)
err = Console(stderr=True, highlight=False, width=None if sys.stderr.isatty() else 160)


def _fail(msg: str, code: int = 1) -> None:
    err.print(f"[red]error:[/] {msg}")
    raise typer.Exit(code)


def _live() -> Settings:
    """Settings with the embedded services running (local profile); other profiles as configured."""
    from taxilab import resources

    s = get_settings()
    services = resources.for_settings(s).services
    if services.starts_with_pipeline:
        s, _ = services.ensure_running(s)
    return s


@app.command()
def crawl(
    zone: list[str] = typer.Option(None, "--zone", "-z", help="Zone(s) to crawl; default all four."),
) -> None:
    """Crawl raw/staging/quarantine/curated into their Glue databases (new partitions only; schema policy)."""
    from emulation.glue import crawler

    s = _live()
    try:
        results = crawler.crawl(s, tuple(zone) if zone else crawler.ZONES)
    except crawler.CrawlError as e:
        results = getattr(e, "results", [])
        _print_results(results)
        _fail(str(e))
    _print_results(results)


def _print_results(results) -> None:
    t = Table(title="crawl", title_justify="left")
    for col in ("database", "table", "action", "partitions", "added", "removed", "new columns", "widened"):
        t.add_column(col)
    for r in results:
        t.add_row(
            r.database,
            r.table,
            r.action,
            str(r.partitions_total),
            str(r.partitions_added),
            str(r.partitions_removed),
            ", ".join(r.new_columns),
            ", ".join(r.widened) + (" (LOG: not applied)" if r.held_back and r.widened else ""),
        )
    console.print(t)
    for r in results:  # incompatible type changes (SchemaChangePolicy, ADR 0017), each by name
        for c in r.conflicts:
            console.print(f"[red]schema conflict[/] {c}")


@app.command("catalog")
def catalog_cmd(
    columns: bool = typer.Option(False, "--columns", help="Also list every table's columns."),
) -> None:
    """List what the Glue catalog holds: databases, tables, partition counts, versions, columns."""
    from taxilab import catalog

    t = Table(title="Glue Data Catalog", title_justify="left")
    for col in ("database", "table", "partition keys", "partitions", "versions", "columns", "location"):
        t.add_column(col)
    dbs = catalog.describe(_live())
    for db in dbs:
        if not db.tables:
            t.add_row(db.name, "(no tables)", "", "", "", "", "")
        for tb in db.tables:
            t.add_row(
                db.name,
                tb.name,
                ", ".join(f"{k} {ty}" for k, ty in tb.partition_keys),
                str(tb.partitions),
                str(tb.versions),
                str(len(tb.columns)),
                tb.location,
            )
    console.print(t)
    if columns:
        for db in dbs:
            for tb in db.tables:
                console.print(
                    f"[bold]{db.name}.{tb.name}[/]: " + ", ".join(f"{n} {ty}" for n, ty in tb.columns)
                )


@bookmarks_app.command("list")
def bookmarks_list() -> None:
    """Show each job's committed bookmark state (objects per transformation context)."""
    from emulation.glue import bookmarks

    rows = bookmarks.describe(get_settings())
    if not rows:
        console.print("no bookmark state")
    for r in rows:
        console.print(
            f"{r['job']} / {r['context']}: {r['objects']} objects, committed {r['committed_at']} "
            f"by run {r['run_id']}"
        )


@bookmarks_app.command("reset")
def bookmarks_reset(
    job: str = typer.Argument(..., help="Job name, e.g. taxilab-etl."),
    context: str = typer.Option(None, help="Only this transformation context."),
) -> None:
    """Forget what a job processed: its next bookmarked run reads every raw object again."""
    from emulation.glue import bookmarks

    try:
        had = bookmarks.reset(get_settings(), job, context)
    except bookmarks.BookmarkError as e:
        _fail(str(e), 2)
    console.print(
        f"bookmark of {job}{' / ' + context if context else ''} " + ("reset" if had else "had no state")
    )


@workflow_app.command("run")
def workflow_run(
    month: str = typer.Option("2024-02", "--month", "-m", help="Month to process, YYYY-MM."),
    bookmark: str = typer.Option(
        None,
        "--job-bookmark-option",
        help="job-bookmark-enable | job-bookmark-disable | job-bookmark-pause "
        "(default: each job's definition).",
    ),
) -> None:
    """Run the workflow (etl -> aggregates -> crawler -> load-warehouse -> validate, Glue trigger semantics) for
    a month's landed raw data. SIGTERM/Ctrl-C or `taxilab glue stop` stop it (STOPPED)."""
    from emulation.glue import bookmarks, workflow
    from taxilab.core.jobgraph import DefinitionError
    from taxilab.core.runs import RunInProgress
    from taxilab.orchestration.jobs import run_workflow

    def started(wf) -> None:
        console.print(
            f"workflow {wf.workflow} run {wf.id} for {month} started (stop it: taxilab glue stop "
            f"--workflow {wf.workflow} --run-id {wf.id}, or Ctrl-C)"
        )

    from taxilab.ops.workflow import report_workflow_run

    s = _live()
    try:
        wf = run_workflow(s, month, bookmark_option=bookmark, on_start=started)
    except RunInProgress as e:
        _fail(str(e), 3)
    except (DefinitionError, bookmarks.BookmarkError, ValueError) as e:
        _fail(str(e), 2)
    report_workflow_run(s, wf)  # run report + metrics, cost, alarms (taxilab.ops); never raises
    _print_runs([workflow.asdict(r) for r in wf.runs])
    if wf.status != "COMPLETED":
        _fail(
            f"workflow {wf.workflow} run {wf.id} for {month}: {wf.status}"
            + (f" ({wf.stop_reason})" if wf.stop_reason else ""),
            130 if wf.status == "STOPPED" else 1,
        )
    console.print(f"[green]workflow {wf.workflow} run {wf.id} for {month}: {wf.status}[/]")


@workflow_app.command("runs")
def workflow_runs_cmd(
    month: str = typer.Option(None, "--month", "-m", help="Only this month."),
    limit: int = typer.Option(30, help="How many runs."),
) -> None:
    """Workflow runs: id, month, status, started by, start/end, seconds (state_dir/glue/workflow_runs)."""
    from emulation.glue import workflow

    t = Table(title="workflow runs", title_justify="left")
    for col in ("id", "workflow", "month", "status", "started by", "started", "completed", "s", "note"):
        t.add_column(col)
    for r in workflow.workflow_runs(get_settings(), month=month)[-limit:]:
        note = "process gone" if r.get("orphaned") else (r.get("stop_reason") or "")
        t.add_row(
            r["id"],
            r["workflow"],
            r["month"],
            r["status"],
            r.get("started_by") or "",
            r["started_on"],
            r.get("completed_on") or "",
            f"{r['seconds']:.1f}" if r.get("seconds") is not None else "",
            note,
        )
    console.print(t)


@workflow_app.command("history")
def workflow_history(
    job: str = typer.Option(None, help="Only this job."), limit: int = typer.Option(30, help="How many runs.")
) -> None:
    """Job run history: id, job, month, attempt, state, start/end, seconds, error."""
    from emulation.glue import workflow

    _print_runs(workflow.history(get_settings(), job, limit))


def _print_runs(runs: list[dict]) -> None:
    t = Table(title="job runs", title_justify="left")
    for col in ("id", "job", "month", "attempt", "state", "started", "completed", "s", "error"):
        t.add_column(col)
    for r in runs:
        t.add_row(
            r["id"][:15],
            r["job"],
            r["month"],
            str(r["attempt"]),
            r["state"],
            r["started_on"],
            r["completed_on"] or "",
            str(r["execution_seconds"] or ""),
            (r["error"] or "")[:80],
        )
    console.print(t)


@workflow_app.command("next")
def workflow_next(count: int = typer.Option(3, help="How many fire times.")) -> None:
    """Next fire times (UTC) of the workflow's scheduled start trigger."""
    from datetime import UTC, datetime

    from taxilab.core import cron
    from taxilab.core import jobgraph as definitions

    d = definitions.load()
    for t in d.triggers:
        if t["type"] == "SCHEDULED":
            c, at = cron.parse(t["schedule"]), datetime.now(UTC).replace(tzinfo=None)
            for _ in range(count):
                at = c.next_after(at)
                console.print(f"{t['name']} {t['schedule']}: {at:%Y-%m-%d %H:%M} UTC")


@app.command("deploy-plan")
def deploy_plan(
    role_arn: str = typer.Option("arn:aws:iam::123456789012:role/taxilab-glue", help="Glue job role."),
    scripts_prefix: str = typer.Option("scripts", help="Key prefix the job scripts are uploaded under."),
    apply: bool = typer.Option(False, "--apply", help="Create them through the Glue API of the profile."),
) -> None:
    """Print the boto3 create_job/create_crawler/create_workflow/create_trigger kwargs (or --apply them)."""
    from taxilab.core import jobgraph as definitions
    from taxilab.core.clients import client

    s = _live() if apply else get_settings()
    kw = definitions.to_aws(definitions.load(), s, role_arn, scripts_prefix)
    if apply:
        console.print(definitions.deploy(client("glue", s), kw))
    else:
        console.print_json(json.dumps(kw))


@app.command()
def stop(
    workflow_name: str = typer.Option("taxilab-monthly", "--workflow", "-w", help="Workflow name."),
    run_id: str = typer.Option(
        None, "--run-id", help="Workflow run id (wr_...); default: its only running run."
    ),
    wait: float = typer.Option(30.0, help="Seconds to wait for the run to end STOPPED (0: just ask)."),
) -> None:
    """Stop a running workflow run: the running job stops at its next safe point (its Spark work cancelled),
    ends STOPPED, fires nothing, and the workflow run ends STOPPED."""
    import time

    from emulation.glue import workflow

    s = get_settings()
    try:
        run = workflow.request_stop(s, workflow_name, run_id)
    except workflow.StopError as e:
        _fail(str(e), 2)
    console.print(f"stop requested for {workflow_name} run {run['id']} ({run['month']}, pid {run['pid']})")
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        [now] = [r for r in workflow.workflow_runs(s, workflow_name) if r["id"] == run["id"]]
        if now["status"] != "RUNNING":
            console.print(
                f"run {run['id']}: {now['status']}"
                + (f" ({now['stop_reason']})" if now.get("stop_reason") else "")
            )
            return
        time.sleep(0.5)
    if wait:
        _fail(f"run {run['id']} still RUNNING after {wait:g} s (the job has not reached a safe point yet)")


@app.command()
def scheduler(
    once: bool = typer.Option(False, "--once", help="Evaluate the schedules once and exit."),
    now: str = typer.Option(
        None,
        "--now",
        help="Pretend the clock reads this UTC time (ISO, e.g. "
        "2024-03-01T12:15); with --once, evaluate at exactly that instant.",
    ),
    max_runs: int = typer.Option(None, "--max-runs", help="Exit after starting this many workflow runs."),
    show: bool = typer.Option(False, "--show", help="Only print each scheduled trigger's state."),
) -> None:
    """Fire the workflow's SCHEDULED triggers (Glue cron, UTC): each slot once, recorded under
    state_dir/glue/scheduler.json; the run processes the latest raw month without a COMPLETED run (or the
    trigger's --month argument). The first start arms a trigger: it fires from its next slot on."""
    from datetime import datetime

    from emulation.glue import scheduler as sched

    try:
        at = datetime.fromisoformat(now) if now else None
    except ValueError:
        _fail(f"--now {now!r}: expected an ISO time such as 2024-03-01T12:15", 2)
    if show:
        for d in sched.describe(get_settings(), now=at):
            console.print(
                f"{d['trigger']} {d['schedule']}: armed {d['armed_at'] or '(not yet)'}, last slot "
                f"{d['last_slot'] or '-'}, next slot {d['next_slot']} UTC"
            )
            for f in d["fires"][-5:]:
                console.print(
                    f"  {f['slot']}: {f['status']} {f.get('month') or ''} {f.get('workflow_run_id') or ''} "
                    f"{f.get('note') or ''}".rstrip()
                )
        return
    s = _live()
    before = sched.load_state(s)

    def show_result(r) -> None:
        console.print(
            f"{r.fire.trigger} slot {r.fire.slot:%Y-%m-%d %H:%M} UTC: {r.month or '-'} {r.status}"
            + (f" run {r.workflow_run_id}" if r.workflow_run_id else "")
            + (f" ({r.note})" if r.note else "")
        )

    from taxilab.ops.workflow import report_workflow_run
    from taxilab.orchestration.jobs import local_jobs

    results = sched.serve(
        s,
        once=once,
        now=at,
        max_runs=max_runs,
        on_result=show_result,
        run_kwargs={"jobs": local_jobs(), "on_end": lambda wf: report_workflow_run(s, wf)},
    )
    if not results:
        for d in sched.describe(s, now=at):
            armed = " (armed now)" if d["trigger"] not in before else ""
            console.print(
                f"{d['trigger']} {d['schedule']}: nothing due{armed}; next slot {d['next_slot']} UTC"
            )
    if any(r.status in ("FAILED", "ERROR") for r in results):
        raise typer.Exit(1)


@app.command()
def backfill(
    start: str = typer.Option(..., "--from", help="First month, YYYY-MM."),
    end: str = typer.Option(..., "--to", help="Last month, YYYY-MM (inclusive)."),
    force: bool = typer.Option(False, "--force", help="Rerun months that already have a COMPLETED run."),
    continue_on_failure: bool = typer.Option(
        False,
        "--continue-on-failure/--stop-on-failure",
        help="Go on with the next month after a month fails.",
    ),
    source: str = typer.Option(
        None,
        help="Land each month in raw first: synthetic | tlc | a Parquet "
        "file (default: the months are already in raw).",
    ),
    rows: int = typer.Option(100_000, help="Rows per month for --source synthetic."),
) -> None:
    """Run the workflow (etl -> aggregates -> crawler -> load-warehouse -> validate) for each month of a range,
    in order, one run per month; prints months, states and durations."""
    from taxilab.orchestration import backfill as bf

    try:
        bf.months_between(start, end)
    except ValueError as e:
        _fail(str(e), 2)
    s = _live()

    def progress(r) -> None:
        console.print(f"{r.month}: {r.status}" + (f" in {r.seconds:.1f} s" if r.seconds is not None else ""))

    results = bf.backfill(
        s,
        start,
        end,
        force=force,
        continue_on_failure=continue_on_failure,
        source=source,
        rows=rows,
        on_month=progress,
    )
    t = Table(title=f"backfill {start}..{end}", title_justify="left")
    for col in ("month", "state", "seconds", "workflow run", "note"):
        t.add_column(col)
    for r in results:
        colour = {"COMPLETED": "green", "SKIPPED": "dim"}.get(r.status, "red")
        t.add_row(
            r.month,
            f"[{colour}]{r.status}[/]",
            f"{r.seconds:.1f}" if r.seconds is not None else "",
            r.workflow_run_id or "",
            r.note[:100],
        )
    console.print(t)
    if any(r.status not in ("COMPLETED", "SKIPPED") for r in results):
        raise typer.Exit(1)


@app.command()
def simulate(
    month: str = typer.Option("2024-04", "--month", "-m", help="Month of the drops, YYYY-MM."),
    days: int = typer.Option(3, "--days", help="How many daily drops (the month's first N days)."),
    rows_per_day: int | None = typer.Option(
        None, "--rows-per-day", help="Synthetic trips per day (default 100000)."
    ),
    gb_per_day: float | None = typer.Option(
        None,
        "--gb-per-day",
        help="Daily volume in GB of drop file instead of --rows-per-day "
        "(converted at the generator's measured bytes/row).",
    ),
    seed: int = typer.Option(
        42,
        help="Generator seed; the same seed twice re-drops identical objects, "
        "which the bookmark skips (a different seed replaces them).",
    ),
    wait: float = typer.Option(60.0, help="Longest wait for a drop's S3 event on the queue, seconds."),
    crawl: bool = typer.Option(True, "--crawl/--no-crawl", help="Crawl new partitions after each drop."),
) -> None:
    """Drop N synthetic days into raw one by one through the incremental path (S3 event -> SQS -> etl with
    bookmarks -> aggregates -> warehouse, affected dates only) and print each drop's freshness and stage times."""
    import tempfile

    from taxilab import ops
    from taxilab.ingest import drops, raw
    from taxilab.orchestration import drops as incremental
    from taxilab.report import RunReport, render

    try:  # the volume is checked before any service starts
        plan = drops.plan_volume(month, days, rows_per_day, gb_per_day)
    except drops.DropError as e:
        _fail(str(e), 2)
    rows_per_day = plan.rows_per_day
    console.print(
        f"planned: {days} drop(s) of {rows_per_day:,} rows/day, ~{plan.bytes_per_day / 1e6:,.1f} MB "
        f"per drop file ({drops.BYTES_PER_ROW} bytes/row)"
    )
    if plan.large:
        console.print(
            f"[yellow]large volume:[/] expect ~{plan.generate_s / 60:.1f} min to generate the drops and "
            f"~{plan.pipeline_s / 60:.0f} min to process them on this 2-core machine "
            f"(~{drops.PIPELINE_ROWS_PER_S:,.0f} rows/s end to end), and "
            f"{days * plan.bytes_per_day / 1e9:.1f} GB in the temp dir; running it anyway"
        )
    s = _live()
    spark_holder: list = []

    def spark():
        if not spark_holder:
            from emulation.spark import get_session

            spark_holder.append(get_session(s))
        return spark_holder[0]

    report = RunReport(month, f"drops:synthetic:{days}x{rows_per_day}:seed{seed}", s.profile)
    try:
        raw.ensure_bucket(s)
        raw.land_zone_lookup(s)
        queue = incremental.ensure_notifications(s)
        # The consumer is a long-running service: its Spark session is up before the first drop lands, so
        # a drop's freshness does not include a JVM start (ADR 0010).
        t0 = time.monotonic()
        spark()
        console.print(f"consumer ready: Spark session started in {time.monotonic() - t0:.1f} s")
        with tempfile.TemporaryDirectory(prefix="taxilab-drops-") as d:
            feed = drops.synthetic_drops(month, days, rows_per_day, d, seed)
            for drop in feed:
                key = incremental.land_drop(s, drop.path, month)
                [r] = incremental.consume(
                    s, queue, spark, max_wait_s=wait, expect_keys={key}, report=report, crawl=crawl
                )
                console.print(
                    f"{drop.day}: {drop.rows:,} rows dropped, {r.rows_visible:,} queryable, freshness "
                    f"{r.freshness_s:.1f} s  (" + ", ".join(f"{k} {v:.1f}" for k, v in r.stages.items()) + ")"
                )
        report.finish("succeeded")
    except Exception as e:  # noqa: BLE001 - every failure ends as a failed run report with its message
        msg = (
            str(e)
            if isinstance(e, drops.DropError | incremental.IncrementalError)
            else f"{type(e).__name__}: {e}"
        )
        report.finish("failed", msg)
        ops.after_run(s, report)  # metrics, cost, alarms; never raises
        report.write(s.runs_dir)
        _fail(
            f"simulate stopped: {msg}\n  the run report is in {s.runs_dir}; drops already processed stay loaded"
        )
    ops.after_run(s, report)
    report.write(s.runs_dir)
    fresh = [x["freshness_s"] for x in report.drops]
    totals: dict[str, float] = {}
    for x in report.drops:
        for k, v in x["stages"].items():
            totals[k] = totals.get(k, 0.0) + v
    render(report.to_dict(), console)
    console.print(
        f"freshness over {len(fresh)} drop(s): mean {sum(fresh) / len(fresh):.1f} s, max {max(fresh):.1f} s "
        f"(target <= 60 s); stage totals: " + ", ".join(f"{k} {v:.1f} s" for k, v in totals.items())
    )
