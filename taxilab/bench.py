"""`make bench`: the default month end to end with per-stage wall times and peak memory, then one warm daily
drop, and in the same run references: DuckDB doing the same clean/enrich/aggregate work on the same local
file (month and drop), PostgreSQL's binary COPY of the same fct_trips rows. Issue 15's targets are printed
as ratios to those references with met/MISSED, never asserted (a shared 2-core machine is noisy);
docs/perf.md, docs/adr/0021-binary-copy-from-arrow.md, docs/adr/0010-incremental-daily-runs.md."""

from __future__ import annotations

import argparse
import csv
import os
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import psutil
from rich.console import Console
from rich.table import Table

from taxilab.core.settings import load_settings
from taxilab.orchestration.pipeline import Pipeline, PipelineOptions
from taxilab.reference import run_reference

# Issue 15's targets, each a ratio to a reference measured in the same run.
TARGET_E2E_X_DUCKDB = 5.0
TARGET_SPARK_X_DUCKDB = 4.0
TARGET_WAREHOUSE_X_COPY = 1.5
TARGET_PEAK_LAB_MB_AT_30M = 8000.0
TARGET_SPARK_X_DUCKDB_AT_30M = 3.0
# A warm daily drop, landed -> queryable and validated, against DuckDB on the drop file.
TARGET_DROP_X_DUCKDB = 2.0
ROWS_30M = 30_000_000
ROWS_DROP = 100_000  # issue 15's daily drop
DROP_MARKER = "_bench-"  # in the name of the bench's drop files: the next bench run of the month removes them
COPY_REFERENCE_TABLE = "bench_copy_reference"
SCALING_FIELDS = [
    "at",
    "month",
    "rows",
    "ingest_s",
    "etl_s",
    "aggregates_s",
    "crawl_s",
    "warehouse_s",
    "validate_s",
    "e2e_s",
    "duckdb_s",
    "copy_reference_s",
    "e2e_x_duckdb",
    "spark_x_duckdb",
    "warehouse_x_copy",
    "peak_lab_mb",
    "peak_services_mb",
    "loadavg_start",
    "loadavg_end",
    # Added with the daily-drop measure; rows recorded before have none of these (read as "").
    "drop_rows",
    "drop_s",
    "drop_freshness_s",
    "drop_duckdb_s",
    "drop_x_duckdb",
    "drop_rows_ok",
    # Added with PSS sampling (PeakMemory): the whole lab's peak, each shared page counted once.
    "peak_whole_pss_mb",
]


class PeakMemory:
    """Samples the memory of this process and all its children (the Spark JVM) every 0.2 s, and of the
    embedded services (moto, PostgreSQL), which are separate process trees. Two measures: RSS per tree (a
    page shared by several processes, such as PostgreSQL's shared buffers mapped by every backend, counts
    once per process) and PSS (each shared page split between the processes mapping it, so summing over
    processes counts it once): `peak_whole_pss` is the highest sum over all of them at one instant, the
    figure the 8 GB target is judged on."""

    def __init__(self, extra_pids: list[int] | None = None, interval_s: float = 0.2, pss_every: int = 5):
        self.extra = extra_pids or []
        self.interval_s = interval_s
        # PSS reads /proc/<pid>/smaps_rollup, which walks the page tables: ~10-100 ms a sample with a
        # JVM of several GB, so it is taken every `pss_every`-th sample (1 s by default), RSS every one.
        self.pss_every = pss_every
        self.peak_lab = 0
        self.peak_services = 0
        self.peak_lab_pss = 0
        self.peak_services_pss = 0
        self.peak_whole_pss = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    @staticmethod
    def _tree(pid: int, pss: bool) -> tuple[int, int]:
        """(RSS, PSS or 0) summed over the process `pid` and its descendants; processes gone meanwhile
        count 0."""
        try:
            p = psutil.Process(pid)
            procs = [p, *p.children(recursive=True)]
        except psutil.Error:
            return 0, 0
        rss = shared_once = 0
        for q in procs:
            try:
                if pss:
                    full = q.memory_full_info()  # /proc/<pid>/smaps_rollup
                    rss, shared_once = rss + full.rss, shared_once + full.pss
                else:
                    rss += q.memory_info().rss
            except psutil.Error:
                continue
        return rss, shared_once

    def sample(self, pss: bool = True) -> None:
        lab_rss, lab_pss = self._tree(os.getpid(), pss)
        services = [self._tree(p, pss) for p in self.extra]
        services_rss, services_pss = sum(r for r, _ in services), sum(p for _, p in services)
        self.peak_lab = max(self.peak_lab, lab_rss)
        self.peak_services = max(self.peak_services, services_rss)
        if pss:
            self.peak_lab_pss = max(self.peak_lab_pss, lab_pss)
            self.peak_services_pss = max(self.peak_services_pss, services_pss)
            self.peak_whole_pss = max(self.peak_whole_pss, lab_pss + services_pss)

    def _run(self):
        n = 0
        while not self._stop.is_set():
            self.sample(pss=n % self.pss_every == 0)
            n += 1
            self._stop.wait(self.interval_s)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.sample()  # the last state counts too


def _service_pids(settings) -> list[int]:
    from emulation import services

    st = services.status(settings)
    pids = []
    if st.get("running"):
        pids.append(st["moto"]["pid"])
        pidfile = Path(st["postgres"]["pgdata"]) / "postmaster.pid"
        if pidfile.exists():
            pids.append(int(pidfile.read_text().split()[0]))
    return pids


def copy_reference(settings, month: str) -> dict:
    """Seconds PostgreSQL needs to COPY the month's fct_trips rows in binary format from Arrow.

    The month's staging rows (what the warehouse stage loads into fct_trips) are read from the lake
    into Arrow and encoded to binary COPY tuples (spooled to a file) before the clock starts; the clock covers only the
    COPY into a scratch table of fct_trips' shape (LIKE ... INCLUDING ALL: its defaults and sort-key
    index) and the commit. The scratch table is a regular, logged table, as fct_trips is: an UNLOGGED
    one would skip the write-ahead log the real load must write, making the reference a load nobody
    could ship. It is created before and dropped after the timed part.
    """
    import pyarrow.dataset as ds
    from psycopg import sql

    from emulation.redshift.arrow_copy import (
        _PG_SIGNATURE,
        _PG_TRAILER,
        column_types,
        encode_binary_rows,
    )
    from spark_jobs.io import paths
    from spark_jobs.month import Month
    from spark_jobs.schemas.contracts import STAGING_COLUMNS
    from taxilab.warehouse.loader import STAGING_PARTITIONING, _lake_dataset, connect

    start, end = Month.parse(month).bounds()
    columns = [c for c, _ in STAGING_COLUMNS]
    staging = _lake_dataset(settings, paths.staging_prefix(settings.dataset), STAGING_PARTITIONING).filter(
        (ds.field("pickup_date") >= start) & (ds.field("pickup_date") < end)
    )
    schema = settings.warehouse_schema
    scratch = sql.Identifier(schema, COPY_REFERENCE_TABLE)
    with connect(settings) as conn:
        pg_types = column_types(conn, f"{schema}.fct_trips")
        types = [pg_types[c] for c in columns]
        # Encoded to a file first (not kept in memory: 30M trips are ~10 GB of tuples), read back in the COPY.
        spool = tempfile.TemporaryFile(dir=settings.state_dir)
        size = 0
        for b in staging.to_batches(columns=columns):
            if b.num_rows:
                size += spool.write(encode_binary_rows(b, types))
        rows = 0
        conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(scratch))
        conn.execute(
            sql.SQL("CREATE TABLE {} (LIKE {} INCLUDING ALL)").format(
                scratch, sql.Identifier(schema, "fct_trips")
            )
        )
        conn.commit()
        copy_sql = sql.SQL("COPY {} ({}) FROM STDIN WITH (FORMAT binary)").format(
            scratch, sql.SQL(", ").join(map(sql.Identifier, columns))
        )
        try:
            t0 = time.monotonic()
            with conn.cursor() as cur:
                with cur.copy(copy_sql) as copy:
                    copy.write(_PG_SIGNATURE)
                    spool.seek(0)
                    while data := spool.read(1 << 23):
                        copy.write(data)
                    copy.write(_PG_TRAILER)
                rows = cur.rowcount
            conn.commit()
            seconds = time.monotonic() - t0
        finally:
            spool.close()
            conn.rollback()
            conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(scratch))
            conn.commit()
    return {"seconds": seconds, "rows": rows, "bytes": size}


def drop_reference(drop_file: Path, zones_csv: Path, month: str) -> dict:
    """DuckDB doing a daily drop's work on the drop's local file: taxilab.reference.run_reference (all
    cores) cleans, enriches and aggregates the file's rows alone and writes the staging rows, the quarantine
    and the five curated tables as Parquet to a temp dir. It covers the drop's own rows only: not the lab's
    upload and S3 event, the catalog crawl, the warehouse load of the drop's dates, or the reconciliation,
    and not the rebuild of the month's curated folders that the lab's aggregates job does for a drop."""
    with tempfile.TemporaryDirectory() as tmp:
        return run_reference(drop_file, zones_csv, month, out_dir=Path(tmp))


def _fct_rows(settings, dates: list, source_file: str) -> tuple[int, int]:
    """fct_trips rows on `dates` (all sources) and those of them from `source_file`, as a query sees them
    (no fct_trips table yet: none)."""
    import psycopg
    from psycopg import sql

    from taxilab.core.settings import check_schema
    from taxilab.warehouse.loader import connect

    if not dates:
        return 0, 0
    query = sql.SQL(
        "SELECT count(*), count(*) FILTER (WHERE source_file = %s) FROM {}.fct_trips WHERE pickup_date = ANY(%s)"
    ).format(sql.Identifier(check_schema(settings.warehouse_schema)))
    with connect(settings) as conn:
        try:
            row = conn.execute(query, [source_file, sorted(dates)]).fetchone()
        except psycopg.errors.UndefinedTable:  # a warehouse nothing was loaded into yet
            return 0, 0
    return (int(row[0]), int(row[1])) if row else (0, 0)


def remove_bench_drops(settings, month: str) -> list[str]:
    """Delete the drop files an earlier bench run landed in the month's raw prefix (DROP_MARKER in their
    name), so the month's whole run reads the month file alone. Returns the deleted keys; none on a fresh lab
    whose bucket the run has yet to create."""
    from spark_jobs.io import paths
    from taxilab.core.clients import client

    s3 = client("s3", settings)
    prefix = paths.raw_month_prefix(settings.dataset, month)
    try:
        keys = [
            o["Key"]
            for page in s3.get_paginator("list_objects_v2").paginate(Bucket=settings.bucket, Prefix=prefix)
            for o in page.get("Contents", [])
            if DROP_MARKER in o["Key"].rsplit("/", 1)[-1]
        ]
    except s3.exceptions.NoSuchBucket:
        return []
    for k in keys:
        s3.delete_object(Bucket=settings.bucket, Key=k)
    return keys


def measure_drop(
    settings,
    month: str,
    rows: int,
    seed: int,
    spark_factory: Callable,
    work_dir: Path,
    wait_s: float = 60.0,
) -> dict:
    """One warm daily drop of `rows` synthetic trips for the first day of `month`, timed from landing to
    queryable and validated in the warehouse, and the DuckDB reference on the same local drop file.

    The drop goes the way `taxilab glue simulate` sends it (S3 event -> SQS -> the incremental workflow:
    etl with bookmarks, aggregates, crawl, warehouse load of its dates, reconciliation) under a name of its
    own (DROP_MARKER and the time), so its bytes are never taken for an object the bookmark has seen. The
    check is computed: fct_trips rows on the drop's dates grew by what DuckDB accepts from the drop file,
    and that many carry the drop's source_file; the etl read every row of the file. `problems` lists what
    did not hold (empty: the drop landed)."""
    import pyarrow.parquet as pq

    from taxilab.ingest.drops import PICKUP, days_in, synthetic_drops
    from taxilab.orchestration import drops as incremental

    [gen] = synthetic_drops(month, 1, rows, work_dir / "generated", seed)
    tag = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
    path = gen.path.rename(work_dir / f"{gen.path.stem}{DROP_MARKER}{tag}.parquet")
    dates = days_in(pq.read_table(path, columns=[PICKUP]), month)
    queue = incremental.ensure_notifications(settings)
    before, _ = _fct_rows(settings, dates, "")

    t0 = time.monotonic()
    key = incremental.land_drop(settings, path, month)
    [r] = incremental.consume(settings, queue, spark_factory, max_wait_s=wait_s, expect_keys={key})
    drop_s = time.monotonic() - t0
    source = f"s3://{settings.bucket}/{key}"
    after, from_drop = _fct_rows(settings, dates, source)

    ref = drop_reference(path, settings.zone_lookup_path, month)
    accepted = ref["accepted"]
    problems = []
    if r.rows_in != gen.rows:
        problems.append(f"the etl read {r.rows_in:,} rows of the drop, its file holds {gen.rows:,}")
    if after - before != accepted:
        problems.append(
            f"fct_trips on {', '.join(map(str, dates))} grew by {after - before:,} rows "
            f"({before:,} -> {after:,}), DuckDB accepts {accepted:,} of the drop file"
        )
    if from_drop != accepted:
        problems.append(f"{from_drop:,} fct_trips rows come from {source}, DuckDB accepts {accepted:,}")
    duck = ref["seconds"] or float("nan")
    return {
        "key": key,
        "rows": gen.rows,
        "dates": [str(d) for d in dates],
        "seconds": drop_s,
        "freshness_s": r.freshness_s,
        "stages": r.stages,
        "whole_month": r.whole_month,
        "duckdb_s": ref["seconds"],
        "ratio": drop_s / duck,
        "accepted": accepted,
        "rejected": ref["rejected"],
        "warehouse_before": before,
        "warehouse_after": after,
        "warehouse_from_drop": from_drop,
        "problems": problems,
    }


def append_record(path: Path, result: dict) -> None:
    """Append one run to the CSV at `path` in SCALING_FIELDS' columns. A file written before columns were
    added is first rewritten under the current header (its rows keep their values, new columns empty)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        with path.open(newline="") as f:
            reader = csv.DictReader(f)
            header, old = reader.fieldnames, list(reader)
        if header and header != SCALING_FIELDS:
            unknown = [h for h in header if h not in SCALING_FIELDS]
            if unknown:
                raise ValueError(f"{path}: columns {unknown} are not bench columns; not rewriting it")
            tmp = path.with_name(path.name + ".tmp")
            with tmp.open("w", newline="") as f:
                writer = csv.DictWriter(f, fieldnames=SCALING_FIELDS)
                writer.writeheader()
                writer.writerows({k: r.get(k) or "" for k in SCALING_FIELDS} for r in old)
            tmp.replace(path)
    new = not path.exists() or path.stat().st_size == 0
    with path.open("a", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=SCALING_FIELDS)
        if new:
            writer.writeheader()
        writer.writerow(result)


def _verdict(value: float, limit: float) -> str:
    return "met" if value <= limit else "MISSED"


def run_bench(
    month: str, rows: int, seed: int, console, record: Path | None = None, rows_drop: int = ROWS_DROP
) -> dict:
    load_start = os.getloadavg()[0]
    settings = load_settings()
    from emulation import services
    from taxilab.ingest.raw import obtain_source

    services.ensure_running(settings)
    settings = load_settings()
    console.print(f"bench: {rows:,} synthetic rows for {month} (seed {seed})")
    src = obtain_source(settings, month, "synthetic", rows, seed)
    console.print(
        f"input file: {src.path} ({src.path.stat().st_size / 1e6:.1f} MB; "
        f"{'cached' if src.cached else f'generated in {src.seconds:.1f} s'})"
    )

    removed = remove_bench_drops(settings, month)
    if removed:
        console.print(
            f"removed {len(removed)} drop file(s) of an earlier bench run from {month}'s raw prefix"
        )

    # 1. the lab, end to end from the local file through the validated warehouse
    with PeakMemory(_service_pids(settings)) as mem:
        report = Pipeline(
            PipelineOptions(month, str(src.path), rows, seed, progress=False), settings=settings
        ).run()
    stages = {s.name: s.seconds for s in report.stages}
    e2e = report.seconds

    # 2. the single-node reference on the same file (DuckDB, all cores, writes its outputs as Parquet)
    with tempfile.TemporaryDirectory() as tmp:
        ref = run_reference(src.path, settings.zone_lookup_path, month, out_dir=Path(tmp))
    # 3. PostgreSQL's binary COPY of the same fct_trips rows (the warehouse stage's floor)
    copy_ref = copy_reference(settings, month)
    # 4. one warm daily drop (services up, the month loaded, this process's Spark session alive) and DuckDB
    # on the same drop file
    drop: dict | None = None
    drop_error = ""
    if rows_drop > 0:
        from emulation.spark import get_session

        console.print(f"daily drop: {rows_drop:,} synthetic rows for the first day of {month}")
        try:
            with tempfile.TemporaryDirectory(prefix="taxilab-bench-drop-", dir=settings.state_dir) as tmp:
                drop = measure_drop(
                    settings, month, rows_drop, seed, lambda: get_session(settings), Path(tmp)
                )
        except Exception as e:  # noqa: BLE001 - the month's figures still print; the drop's failure with them
            drop_error = f"{type(e).__name__}: {e}"
    load_end = os.getloadavg()[0]

    duck = ref["seconds"] or float("nan")
    spark_work = stages["etl"] + stages["aggregates"]
    e2e_x = e2e / duck
    spark_x = spark_work / duck
    warehouse_x = stages["warehouse"] / copy_ref["seconds"]
    peak_all_mb = mem.peak_whole_pss / 1e6

    t = Table(
        title=f"benchmark: {rows:,} trips, {month} (load average {load_start:.2f} at start, {load_end:.2f} at end)",
        title_justify="left",
    )
    t.add_column("measure")
    t.add_column("value", justify="right")
    t.add_column("target", justify="right")
    t.add_column("", justify="left")
    for name, secs in stages.items():
        t.add_row(f"stage {name} (s)", f"{secs:.1f}", "", "")
    t.add_row("end to end, local file -> validated warehouse (s)", f"{e2e:.1f}", "", "")
    t.add_row("DuckDB clean/enrich/aggregate, same file (s)", f"{duck:.1f}", "reference", "")
    t.add_row(
        f"PostgreSQL binary COPY of the same {copy_ref['rows']:,} fct_trips rows (s)",
        f"{copy_ref['seconds']:.1f}",
        "reference",
        "",
    )
    t.add_row(
        "end to end / DuckDB",
        f"{e2e_x:.1f}x",
        f"<= {TARGET_E2E_X_DUCKDB:g}x",
        _verdict(e2e_x, TARGET_E2E_X_DUCKDB),
    )
    t.add_row(
        "Spark etl + aggregates / DuckDB",
        f"{spark_x:.1f}x ({spark_work:.1f} s)",
        f"<= {TARGET_SPARK_X_DUCKDB:g}x",
        _verdict(spark_x, TARGET_SPARK_X_DUCKDB),
    )
    t.add_row(
        "warehouse stage / binary COPY",
        f"{warehouse_x:.1f}x",
        f"<= {TARGET_WAREHOUSE_X_COPY:g}x",
        _verdict(warehouse_x, TARGET_WAREHOUSE_X_COPY),
    )
    t.add_row(
        "peak RSS / PSS, lab process + Spark JVM (MB)",
        f"{mem.peak_lab / 1e6:,.0f} / {mem.peak_lab_pss / 1e6:,.0f}",
        "",
        "",
    )
    t.add_row(
        "peak RSS / PSS, moto + PostgreSQL (MB)",
        f"{mem.peak_services / 1e6:,.0f} / {mem.peak_services_pss / 1e6:,.0f}",
        "",
        "",
    )
    at_30m = rows >= ROWS_30M
    t.add_row(
        "peak PSS, whole lab at one instant (MB)",
        f"{peak_all_mb:,.0f}",
        f"< {TARGET_PEAK_LAB_MB_AT_30M:,.0f} at 30M",
        _verdict(peak_all_mb, TARGET_PEAK_LAB_MB_AT_30M)
        if at_30m
        else "not measured in this run (make bench ROWS=30000000)",
    )
    t.add_row(
        "Spark / DuckDB at 30M trips",
        f"{spark_x:.1f}x" if at_30m else "-",
        f"<= {TARGET_SPARK_X_DUCKDB_AT_30M:g}x",
        _verdict(spark_x, TARGET_SPARK_X_DUCKDB_AT_30M)
        if at_30m
        else "not measured in this run (make bench ROWS=30000000)",
    )
    t.add_row(
        "analytics queries p95 (ms)",
        "-",
        "<= 100 every query",
        f"not measured in this run (make bench-queries MONTH={month})",
    )
    if drop is not None:
        t.add_row(
            f"warm daily drop of {drop['rows']:,} rows, landed -> queryable + validated (s)",
            f"{drop['seconds']:.1f}",
            "",
            f"queryable after {drop['freshness_s']:.1f} s",
        )
        t.add_row(
            "DuckDB clean/enrich/aggregate, same drop file (s)", f"{drop['duckdb_s']:.2f}", "reference", ""
        )
        t.add_row(
            "warm daily drop / DuckDB",
            f"{drop['ratio']:.1f}x",
            f"<= {TARGET_DROP_X_DUCKDB:g}x",
            _verdict(drop["ratio"], TARGET_DROP_X_DUCKDB)
            + ("" if drop["rows"] == ROWS_DROP else f" (issue 15's drop is {ROWS_DROP:,} rows)")
            + ("" if not drop["problems"] else " (the drop did NOT land: see below)"),
        )
    else:
        t.add_row(
            f"warm daily drop of {rows_drop:,} rows / DuckDB",
            "-",
            f"<= {TARGET_DROP_X_DUCKDB:g}x",
            "FAILED (see below)" if drop_error else "not measured in this run (--rows-drop 0)",
        )
    t.add_row("make test, fresh clone (min)", "-", "< 15", "not measured in this run (time make test)")
    console.print(t)
    etl = report.get("etl")
    agree = etl is not None and (ref["accepted"], ref["rejected"]) == (etl.rows_out, etl.quarantined)
    console.print(
        f"accepted/quarantined agree with DuckDB: {agree} ({ref['accepted']:,} / {ref['rejected']:,})"
    )
    if copy_ref["rows"] != (etl.rows_out if etl is not None else None):
        console.print(
            f"[yellow]the COPY reference loaded {copy_ref['rows']:,} rows, the etl accepted "
            f"{etl.rows_out if etl is not None else '?':,}: the lake holds other rows for {month}[/]"
        )
    if drop is not None:
        if drop["problems"]:
            console.print(
                "[red]the daily drop did not land as its file says:[/] " + "; ".join(drop["problems"])
            )
        else:
            console.print(
                f"daily drop landed: fct_trips on {', '.join(drop['dates'])} {drop['warehouse_before']:,} -> "
                f"{drop['warehouse_after']:,} rows (+{drop['warehouse_after'] - drop['warehouse_before']:,}), "
                f"{drop['warehouse_from_drop']:,} from {drop['key'].rsplit('/', 1)[-1]}; DuckDB accepts "
                f"{drop['accepted']:,} / rejects {drop['rejected']:,} of its {drop['rows']:,} rows"
                + ("; [yellow]the drop's run redid the whole month[/]" if drop["whole_month"] else "")
            )
        console.print(
            "daily drop stages (s): " + ", ".join(f"{k} {v:.1f}" for k, v in drop["stages"].items())
        )
    elif drop_error:
        console.print(f"[red]the daily drop failed:[/] {drop_error}")
    if report.estimated_cost:  # priced by taxilab.ops.after_run at the end of the run
        from decimal import Decimal

        ec = report.estimated_cost
        console.print(
            f"estimated AWS cost of this run: ${Decimal(ec['total_usd']):.4f} ("
            + ", ".join(f"{k} ${Decimal(v):.4f}" for k, v in ec["by_service_usd"].items())
            + f"; list prices recorded {ec['prices_recorded_on']}); month projection: "
            f"`taxilab ops cost --month {month}`"
        )
    result = {
        "at": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()),
        "month": month,
        "rows": rows,
        **{
            f"{name}_s": round(stages.get(name, float("nan")), 2)
            for name in ("ingest", "etl", "aggregates", "crawl", "warehouse", "validate")
        },
        "e2e_s": round(e2e, 2),
        "duckdb_s": round(duck, 2),
        "copy_reference_s": round(copy_ref["seconds"], 2),
        "e2e_x_duckdb": round(e2e_x, 2),
        "spark_x_duckdb": round(spark_x, 2),
        "warehouse_x_copy": round(warehouse_x, 2),
        "peak_lab_mb": round(mem.peak_lab / 1e6),
        "peak_services_mb": round(mem.peak_services / 1e6),
        "peak_whole_pss_mb": round(mem.peak_whole_pss / 1e6),
        "loadavg_start": round(load_start, 2),
        "loadavg_end": round(load_end, 2),
        **(
            {
                "drop_rows": drop["rows"],
                "drop_s": round(drop["seconds"], 2),
                "drop_freshness_s": drop["freshness_s"],
                "drop_duckdb_s": round(drop["duckdb_s"], 2),
                "drop_x_duckdb": round(drop["ratio"], 2),
                "drop_rows_ok": not drop["problems"],
            }
            if drop is not None
            else {}
        ),
    }
    if record is not None:
        append_record(record, result)
        console.print(f"recorded in {record}")
    return result


def scaling_report(csv_path: Path, out_dir: Path) -> tuple[Path, Path]:
    """The scaling curve from `make bench-scaling`'s CSV: a markdown table and a PNG plot (time and
    peak memory against rows; the latest run of each size). Returns (markdown, png) paths."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if not csv_path.exists():
        raise FileNotFoundError(f"{csv_path}: no scaling runs recorded (run `make bench-scaling`)")
    with csv_path.open(newline="") as f:
        latest = {int(r["rows"]): r for r in csv.DictReader(f)}  # later runs of a size win
    if not latest:
        raise ValueError(f"{csv_path} holds no runs")
    runs = [latest[n] for n in sorted(latest)]
    cols = [
        ("rows", "trips"),
        ("e2e_s", "end to end (s)"),
        ("etl_s", "etl (s)"),
        ("aggregates_s", "aggregates (s)"),
        ("warehouse_s", "warehouse (s)"),
        ("duckdb_s", "DuckDB (s)"),
        ("copy_reference_s", "binary COPY (s)"),
        ("e2e_x_duckdb", "e2e / DuckDB"),
        ("spark_x_duckdb", "Spark / DuckDB"),
        ("warehouse_x_copy", "warehouse / COPY"),
        ("peak_lab_mb", "peak lab+JVM (MB)"),
        ("peak_services_mb", "peak services (MB)"),
        ("peak_whole_pss_mb", "peak PSS whole lab (MB)"),
        ("drop_s", "daily drop (s)"),
        ("drop_x_duckdb", "drop / DuckDB"),
        ("loadavg_start", "load avg"),
        ("at", "measured (UTC)"),
    ]
    lines = [
        "| " + " | ".join(h for _, h in cols) + " |",
        "|" + "|".join("---:" for _ in cols) + "|",
    ]
    for r in runs:
        lines.append(
            "| "
            + " | ".join(f"{int(r['rows']):,}" if k == "rows" else (r.get(k) or "-") for k, _ in cols)
            + " |"
        )
    out_dir.mkdir(parents=True, exist_ok=True)
    md = out_dir / "bench_scaling.md"
    md.write_text(
        "<!-- written by `make bench-scaling` (taxilab.bench.scaling_report) -->\n" + "\n".join(lines) + "\n"
    )

    x = [int(r["rows"]) for r in runs]
    fig, (ax_t, ax_m) = plt.subplots(1, 2, figsize=(11, 4.2))
    for key, label in [
        ("e2e_s", "end to end"),
        ("etl_s", "Spark etl"),
        ("aggregates_s", "Spark aggregates"),
        ("warehouse_s", "warehouse"),
        ("duckdb_s", "DuckDB reference"),
        ("copy_reference_s", "binary COPY reference"),
    ]:
        ax_t.plot(x, [float(r[key]) for r in runs], marker="o", label=label)
    ax_t.set(xscale="log", yscale="log", xlabel="trips", ylabel="seconds", title="time against rows")
    ax_t.legend(fontsize=8)
    for key, label in [
        ("peak_lab_mb", "lab + Spark JVM (RSS)"),
        ("peak_services_mb", "moto + PostgreSQL (RSS)"),
        ("peak_whole_pss_mb", "whole lab (PSS, one instant)"),
    ]:
        measured = [(n, float(r[key])) for n, r in zip(x, runs, strict=True) if r.get(key)]
        if measured:  # runs recorded before a column existed have none
            ax_m.plot(*zip(*measured, strict=True), marker="o", label=label)
    ax_m.axhline(
        TARGET_PEAK_LAB_MB_AT_30M, color="grey", linestyle="--", label="8 GB target (whole lab, 30M)"
    )
    ax_m.set(xscale="log", xlabel="trips", ylabel="peak memory (MB)", title="peak memory against rows")
    ax_m.legend(fontsize=8)
    loads = ", ".join(f"{int(r['rows']):,}: {float(r['loadavg_start']):.1f}" for r in runs)
    fig.suptitle(f"make bench-scaling; load average at the start of each run ({loads})", fontsize=9)
    fig.tight_layout()
    png = out_dir / "bench_scaling.png"
    fig.savefig(png, dpi=110)
    plt.close(fig)
    return md, png


def main(argv: list[str] | None = None) -> int:
    """`python -m taxilab.bench run|report`: what `make bench-scaling` runs, one process per size."""
    parser = argparse.ArgumentParser(prog="python -m taxilab.bench")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="one bench run, appended to a CSV")
    run.add_argument("--month", required=True)
    run.add_argument("--rows", type=int, required=True)
    run.add_argument("--seed", type=int, default=42)
    run.add_argument("--record", type=Path, required=True)
    run.add_argument("--rows-drop", type=int, default=ROWS_DROP, help="rows of the daily drop (0: none)")
    report = sub.add_parser("report", help="markdown table + PNG plot from the CSV")
    report.add_argument("--record", type=Path, required=True)
    report.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    console = Console(width=max(Console().width, 140))  # the table stays readable when piped to a log
    if args.command == "run":
        if args.rows <= 0:
            parser.error(f"--rows must be a positive number of trips, got {args.rows}")
        if args.rows_drop < 0:
            parser.error(f"--rows-drop must be 0 (no drop) or a number of trips, got {args.rows_drop}")
        run_bench(args.month, args.rows, args.seed, console, record=args.record, rows_drop=args.rows_drop)
    else:
        md, png = scaling_report(args.record, args.out)
        console.print(f"wrote {md} and {png}")
        console.print(md.read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
