"""`make bench`: the default month end to end with per-stage wall times and peak memory, and in the same
run an independent single-node engine (DuckDB) doing the same clean/enrich/aggregate work on the same
local file, printed as a ratio. Figures are printed, not asserted: a shared 2-core machine is noisy.
"""

from __future__ import annotations

import os
import tempfile
import threading
import time
from pathlib import Path

import psutil
from rich.table import Table

from taxilab.core.settings import load_settings
from taxilab.orchestration.pipeline import Pipeline, PipelineOptions
from taxilab.reference import run_reference

TARGET_E2E_S = 90.0
TARGET_RATIO = 8.0


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


def run_bench(month: str, rows: int, seed: int, console) -> dict:
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
    spark_work = stages["etl"] + stages["aggregates"]
    ratio = spark_work / ref["seconds"] if ref["seconds"] else float("inf")

    t = Table(title=f"benchmark: {rows:,} trips, {month}", title_justify="left")
    t.add_column("measure")
    t.add_column("value", justify="right")
    t.add_column("target", justify="right")
    for name, secs in stages.items():
        t.add_row(f"stage {name} (s)", f"{secs:.1f}", "")
    t.add_row("end to end, local file -> validated warehouse (s)", f"{e2e:.1f}", f"<= {TARGET_E2E_S:.0f}")
    t.add_row("peak RSS, lab process + Spark JVM (MB)", f"{mem.peak_lab / 1e6:,.0f}", "")
    t.add_row("peak RSS, moto + PostgreSQL (MB)", f"{mem.peak_services / 1e6:,.0f}", "")
    t.add_row("Spark etl + aggregates (s)", f"{spark_work:.1f}", "")
    t.add_row("DuckDB clean/enrich/aggregate, same file (s)", f"{ref['seconds']:.1f}", "")
    t.add_row("ratio Spark / DuckDB", f"{ratio:.1f}x", f"<= {TARGET_RATIO:.0f}x")
    console.print(t)
    etl = report.get("etl")
    agree = etl is not None and (ref["accepted"], ref["rejected"]) == (etl.rows_out, etl.quarantined)
    console.print(
        f"accepted/quarantined agree with DuckDB: {agree} ({ref['accepted']:,} / {ref['rejected']:,})"
    )
    console.print(
        f"end to end {'meets' if e2e <= TARGET_E2E_S else 'MISSES'} the {TARGET_E2E_S:.0f} s target; "
        f"ratio {'meets' if ratio <= TARGET_RATIO else 'MISSES'} the {TARGET_RATIO:.0f}x target"
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
    return {
        "stages": stages,
        "e2e": e2e,
        "ratio": ratio,
        "duckdb_seconds": ref["seconds"],
        "peak_lab_mb": mem.peak_lab / 1e6,
        "peak_services_mb": mem.peak_services / 1e6,
        "at": time.time(),
    }
