"""`make bench`: the default month end to end with per-stage wall times and peak memory, and in the same run
two references: DuckDB doing the same clean/enrich/aggregate work on the same local file, and PostgreSQL's
binary COPY of the same fct_trips rows. Issue 15's targets are printed as ratios to those references with
met/MISSED, never asserted (a shared 2-core machine is noisy); docs/perf.md, docs/adr/0021-binary-copy-from-arrow.md."""

from __future__ import annotations

import argparse
import csv
import os
import sys
import tempfile
import threading
import time
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
ROWS_30M = 30_000_000
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
]


class PeakMemory:
    """Samples the resident memory of this process and all its children (the Spark JVM) every 0.2 s;
    also the embedded services (moto, PostgreSQL), which are separate process trees."""

    def __init__(self, extra_pids: list[int] | None = None):
        self.extra = extra_pids or []
        self.peak_lab = 0
        self.peak_services = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _tree_rss(self, pid: int) -> int:
        try:
            p = psutil.Process(pid)
            procs = [p, *p.children(recursive=True)]
        except psutil.Error:
            return 0
        total = 0
        for q in procs:
            try:
                total += q.memory_info().rss
            except psutil.Error:
                pass
        return total

    def _run(self):
        while not self._stop.is_set():
            self.peak_lab = max(self.peak_lab, self._tree_rss(os.getpid()))
            self.peak_services = max(self.peak_services, sum(self._tree_rss(p) for p in self.extra))
            self._stop.wait(0.2)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


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


def _verdict(value: float, limit: float) -> str:
    return "met" if value <= limit else "MISSED"


def run_bench(month: str, rows: int, seed: int, console, record: Path | None = None) -> dict:
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
    load_end = os.getloadavg()[0]

    duck = ref["seconds"] or float("nan")
    spark_work = stages["etl"] + stages["aggregates"]
    e2e_x = e2e / duck
    spark_x = spark_work / duck
    warehouse_x = stages["warehouse"] / copy_ref["seconds"]
    peak_all_mb = (mem.peak_lab + mem.peak_services) / 1e6

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
    t.add_row("peak RSS, lab process + Spark JVM (MB)", f"{mem.peak_lab / 1e6:,.0f}", "", "")
    t.add_row("peak RSS, moto + PostgreSQL (MB)", f"{mem.peak_services / 1e6:,.0f}", "", "")
    at_30m = rows >= ROWS_30M
    t.add_row(
        "peak RSS, whole lab (MB)",
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
    t.add_row(
        "warm daily drop of 100k rows / DuckDB",
        "-",
        "<= 2x",
        "not measured in this run (make simulate ROWS_PER_DAY=100000 prints freshness; "
        "no DuckDB drop reference yet)",
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
        "loadavg_start": round(load_start, 2),
        "loadavg_end": round(load_end, 2),
    }
    if record is not None:
        record.parent.mkdir(parents=True, exist_ok=True)
        new = not record.exists()
        with record.open("a", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=SCALING_FIELDS)
            if new:
                writer.writeheader()
            writer.writerow(result)
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
        ("loadavg_start", "load avg"),
        ("at", "measured (UTC)"),
    ]
    lines = [
        "| " + " | ".join(h for _, h in cols) + " |",
        "|" + "|".join("---:" for _ in cols) + "|",
    ]
    for r in runs:
        lines.append(
            "| " + " | ".join(f"{int(r['rows']):,}" if k == "rows" else r[k] for k, _ in cols) + " |"
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
    for key, label in [("peak_lab_mb", "lab + Spark JVM"), ("peak_services_mb", "moto + PostgreSQL")]:
        ax_m.plot(x, [float(r[key]) for r in runs], marker="o", label=label)
    ax_m.axhline(
        TARGET_PEAK_LAB_MB_AT_30M, color="grey", linestyle="--", label="8 GB target (whole lab, 30M)"
    )
    ax_m.set(xscale="log", xlabel="trips", ylabel="peak RSS (MB)", title="peak memory against rows")
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
    report = sub.add_parser("report", help="markdown table + PNG plot from the CSV")
    report.add_argument("--record", type=Path, required=True)
    report.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    console = Console(width=max(Console().width, 140))  # the table stays readable when piped to a log
    if args.command == "run":
        if args.rows <= 0:
            parser.error(f"--rows must be a positive number of trips, got {args.rows}")
        run_bench(args.month, args.rows, args.seed, console, record=args.record)
    else:
        md, png = scaling_report(args.record, args.out)
        console.print(f"wrote {md} and {png}")
        console.print(md.read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
