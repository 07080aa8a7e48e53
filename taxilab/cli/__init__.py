"""The lab's command line: `taxilab --help`, and `--help` on every command."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

import typer
from rich.console import Console

from taxilab.core.settings import get_settings, load_settings

app = typer.Typer(
    help="Local-first lab of an AWS analytics pipeline on NYC TLC taxi data (S3/Glue/Redshift emulated).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
# Piped output (CI logs, `| tee`) gets a fixed wide layout instead of rich's 80-column default.
console = Console(highlight=False, width=None if sys.stdout.isatty() else 160)
err = Console(stderr=True, highlight=False, width=None if sys.stderr.isatty() else 160)

MONTH = typer.Option("2024-02", "--month", "-m", help="Month to process, YYYY-MM.")
SOURCE = typer.Option(
    "synthetic",
    "--source",
    "-s",
    help="synthetic | tlc (download the TLC file) | path to a local Parquet file.",
)
ROWS = typer.Option(
    3_007_526, "--rows", "-n", help="Rows to generate for SOURCE=synthetic (default: real Feb 2024)."
)
SEED = typer.Option(42, "--seed", help="Seed of the synthetic generator (same seed, same bytes).")


def _setup_logging() -> None:
    """Library and Spark noise goes to .lab/logs/taxilab.log, not the terminal."""
    import warnings

    logging.captureWarnings(True)  # library warnings (e.g. platformdirs via pgserver) go to the log file
    warnings.simplefilter("default")
    s = get_settings()
    s.logs_dir.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(s.logs_dir / "taxilab.log")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(s.log_level)
    for noisy in ("py4j", "botocore", "boto3", "urllib3", "s3transfer"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


@app.callback()
def _main() -> None:
    _setup_logging()


def _fail(msg: str, code: int = 1) -> None:
    err.print(f"[red]error:[/] {msg}")
    raise typer.Exit(code)


def _services():
    from taxilab import resources

    return resources.for_settings(get_settings()).services


@app.command()
def up(
    idle_minutes: float = typer.Option(
        None,
        "--idle-minutes",
        min=0.01,
        help="Stop PostgreSQL after this many minutes without a connection "
        "(the next command starts it again); default never.",
    ),
) -> None:
    """Start the profile's services in the background (local: moto server + PostgreSQL; compose: the stack)."""
    from taxilab.resources import ServiceError

    try:
        for line in _services().up(get_settings(), idle_minutes):
            console.print(line)
    except ServiceError as e:
        _fail(str(e))


@app.command()
def down() -> None:
    """Stop the profile's services (the embedded PostgreSQL's data stays on disk under .lab/pg)."""
    from taxilab.resources import ServiceError

    try:
        for line in _services().down(get_settings()):
            console.print(line)
    except ServiceError as e:
        _fail(str(e))


@app.command()
def status() -> None:
    """Show whether the profile's services run and where."""
    console.print_json(json.dumps(_services().status(get_settings()), default=str))


@app.command()
def pipeline(
    month: str = MONTH,
    source: str = SOURCE,
    rows: int = ROWS,
    seed: int = SEED,
    progress: bool = typer.Option(True, help="Show progress bars."),
) -> None:
    """Run the whole pipeline for a month: ingest -> etl -> aggregates -> warehouse -> validate."""
    from taxilab.orchestration.pipeline import Pipeline, PipelineOptions, RunInProgress, StageError
    from taxilab.report import render

    p = Pipeline(
        PipelineOptions(month, source, rows, seed, progress and sys.stderr.isatty()), console=console
    )
    try:
        rep = p.run()
    except RunInProgress as e:
        _fail(str(e), 3)
    except StageError as e:
        render(p.report.to_dict(), console)
        _fail(f"{e}\n  report: {p.settings.runs_dir / 'latest.json'}; logs: {p.settings.logs_dir}")
    except ValueError as e:
        _fail(str(e), 2)
    render(rep.to_dict(), console)
    console.print(f"report: {p.settings.runs_dir / 'latest.json'}")


@app.command()
def report(run_file: Path = typer.Argument(None, help="A run JSON; default .lab/runs/latest.json.")) -> None:
    """Print a run report (default: the latest run)."""
    from taxilab.report import render

    s = get_settings()
    path = run_file or s.runs_dir / "latest.json"
    if not path.exists():
        _fail(f"no run report at {path}: run `make pipeline` first")
    render(json.loads(path.read_text()), console)


@app.command()
def generate(
    month: str = MONTH,
    rows: int = ROWS,
    seed: int = SEED,
    out: Path = typer.Option(..., "--out", "-o", help="Parquet file to write."),
) -> None:
    """Write a synthetic TLC month (exact 2024 schema, realistic dirt) to a local Parquet file."""
    from tqdm import tqdm

    from taxilab.ingest.synthetic import generate_month

    with tqdm(
        total=rows, unit="rows", unit_scale=True, desc="generate", disable=not sys.stderr.isatty()
    ) as bar:
        g = generate_month(month, rows, out, seed=seed, progress=bar.update)
    console.print(f"{g.path}: {g.rows:,} rows, sha256 {g.sha256}, {g.seconds:.1f} s")


@app.command()
def download(
    month: str = MONTH,
    out: Path = typer.Option(None, "--out", "-o", help="Destination (default: the input cache)."),
) -> None:
    """Download a TLC yellow month (retries, resume, SHA-256 and rows recorded)."""
    from spark_jobs.io import paths
    from spark_jobs.schemas.tlc import SOURCE_URL
    from taxilab.ingest.download import DownloadError
    from taxilab.ingest.download import download as dl

    s = get_settings()
    dest = out or s.cache_dir / "inputs" / "tlc" / paths.raw_file_name(month)
    dest.parent.mkdir(parents=True, exist_ok=True)
    try:
        got = dl(SOURCE_URL.format(month=month), dest)
    except DownloadError as e:
        _fail(str(e))
    console.print(f"{got.path}: {got.bytes:,} bytes, {got.rows:,} rows, sha256 {got.sha256}")


@app.command("run-job")
def run_job(job: str = typer.Argument(..., help="etl | aggregates"), month: str = MONTH) -> None:
    """Run one Glue job script with the profile's job runner (locally: this machine's Spark) as Glue calls it."""
    from spark_jobs.io import paths
    from taxilab import resources
    from taxilab.core.runs import job_argv

    s = load_settings()
    if job == "etl":
        argv = job_argv(
            "etl",
            bucket=s.bucket,
            dataset=s.dataset,
            month=month,
            zone_lookup=paths.s3_url(s.bucket, paths.zone_lookup_key()),
        )
    elif job == "aggregates":
        argv = job_argv("aggregates", bucket=s.bucket, dataset=s.dataset, month=month)
    else:
        _fail(f"unknown job {job!r}: expected etl or aggregates", 2)
    console.print_json(json.dumps(resources.for_settings(s).jobs.run(job, argv), default=str))


@app.command()
def validate(month: str = MONTH) -> None:
    """Reconcile lake and warehouse for a month (exact counts and sums); exit 1 on any mismatch."""
    from taxilab.validation.reconcile import reconcile

    checks = reconcile(load_settings(), month)
    for c in checks:
        mark = "[green]ok[/]" if c.ok else "[red]MISMATCH[/]"
        console.print(f"{mark} {c.name}: expected {c.expected}, actual {c.actual}")
    if not all(c.ok for c in checks):
        raise typer.Exit(1)


@app.command()
def jars() -> None:
    """Download (once) and verify the Spark S3A connector jars from Maven Central."""
    from emulation.spark import ensure_jars

    for p in ensure_jars(get_settings()):
        console.print(str(p))


@app.command()
def bench(
    month: str = MONTH,
    rows: int = ROWS,
    seed: int = SEED,
    rows_drop: int = typer.Option(
        100_000, "--rows-drop", min=0, help="Rows of the warm daily drop timed after the month (0: none)."
    ),
) -> None:
    """End-to-end benchmark on the default month and one warm daily drop, each with a DuckDB single-node
    reference (printed figures)."""
    from taxilab.bench import run_bench

    run_bench(month, rows, seed, console, rows_drop=rows_drop)


def _register_subcommands() -> None:
    from taxilab.cli import glue as cli_glue
    from taxilab.cli import ops as cli_ops
    from taxilab.cli import sql as cli_sql

    app.add_typer(cli_sql.app, name="sql")
    app.add_typer(cli_glue.app, name="glue")
    app.add_typer(cli_ops.app, name="ops")


_register_subcommands()

if __name__ == "__main__":
    app()
