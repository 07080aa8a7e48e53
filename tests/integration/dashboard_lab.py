"""The lab the dashboard, browser and notebook tests share: two small synthetic months run through the
real pipeline once per test session (the tests then read them only through the named queries and the
run reports), and the environment that points the dashboard or a notebook kernel at that lab."""

from __future__ import annotations

import os

from taxilab.orchestration.pipeline import Pipeline, PipelineOptions

# Months no other integration test loads: the dashboard lists them among whatever else is loaded.
MONTHS = ("2024-12", "2025-02")
ROWS = 20_000
SEED = 14

_runs: dict = {}


def _still_there(settings, month: str, rep) -> bool:
    """The month's run is still what the lab holds: its trips in the warehouse, its raw file in the lake
    and its run report (another test of the session may have restarted a service meanwhile)."""
    import psycopg

    from spark_jobs.io import paths
    from taxilab.core.clients import client
    from taxilab.warehouse import queries

    try:
        with psycopg.connect(settings.warehouse_dsn) as conn:
            loaded = {r[0]: r[2] for r in queries.run(conn, "loaded_months").rows}
        client("s3", settings).head_object(
            Bucket=settings.bucket,
            Key=paths.raw_month_prefix(settings.dataset, month) + paths.raw_file_name(month),
        )
    except Exception:  # noqa: BLE001 - any failure means: run the month again
        return False
    return (
        loaded.get(month) == rep.get("etl").rows_out and (settings.runs_dir / f"{rep.run_id}.json").exists()
    )


def load_months(settings) -> dict:
    """{month: RunReport} for MONTHS, each run once per session (the fixture may be imported by several
    modules, each with its own fixture instance; the runs are shared here) and again only if the lab
    lost it meanwhile."""
    for month in MONTHS:
        if month not in _runs or not _still_there(settings, month, _runs[month]):
            rep = Pipeline(
                PipelineOptions(month, "synthetic", ROWS, SEED, progress=False), settings=settings
            ).run()
            assert rep.status == "succeeded", (month, rep.error)
            _runs[month] = rep
    return dict(_runs)


def lab_env(settings, **extra) -> dict[str, str]:
    """Environment for a process (streamlit, a notebook kernel) that must find the test lab through
    load_settings(): its state dir (services file, run reports), bucket and shared data."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TAXILAB_")}
    env.update(
        {
            "TAXILAB_PROFILE": "local",
            "TAXILAB_STATE_DIR": str(settings.state_dir),
            "TAXILAB_BUCKET": settings.bucket,
            "TAXILAB_SHARED_DIR": str(settings.shared_dir),
        }
    )
    env.update(extra)
    return env
