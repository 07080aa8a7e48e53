"""Daily drops: a month's TLC Parquet file split into one file per pickup day, in the file's exact schema.

The TLC publishes monthly files; a daily feed is what an incremental pipeline sees. `split_month_file`
turns any month file (the TLC's own, or the synthetic generator's) into such a feed. Every row lands in
exactly one drop: a row whose pickup is outside the month (TLC files carry a few, e.g. 2002 or 2026
timestamps) or null goes to the drop of the nearest day of the month, so the drops together hold the
month's rows exactly and the etl job quarantines those rows as it would in the monthly file.
"""

from __future__ import annotations

import calendar
import tempfile
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from spark_jobs.io.paths import split_month

PICKUP = "tpep_pickup_datetime"


class DropError(ValueError):
    pass


@dataclass(frozen=True)
class Drop:
    day: date
    path: Path
    rows: int


def drop_file_name(day: date) -> str:
    return f"yellow_tripdata_{day:%Y-%m-%d}.parquet"


def month_days(month: str) -> list[date]:
    year, mon = split_month(month)
    return [date(year, mon, d) for d in range(1, calendar.monthrange(year, mon)[1] + 1)]


def split_month_file(month_file: str | Path, month: str, out_dir: str | Path,
                     days: list[date] | None = None) -> list[Drop]:
    """Write one Parquet file per pickup day of `month` (only `days`, if given) into out_dir; returns the
    drops in day order. The schema (names, types, order, metadata) is the input file's, unchanged."""
    month_file = Path(month_file)
    all_days = month_days(month)
    wanted = all_days if days is None else sorted(days)
    outside = [d for d in wanted if d not in all_days]
    if outside:
        raise DropError(f"days {[str(d) for d in outside]} are not in month {month}")
    try:
        table = pq.read_table(month_file)
    except (OSError, pa.ArrowException) as e:
        raise DropError(f"{month_file}: not readable as Parquet: {e}") from None
    if PICKUP not in table.column_names or not pa.types.is_timestamp(table.schema.field(PICKUP).type):
        raise DropError(f"{month_file}: no timestamp column {PICKUP!r} to split by (columns {table.column_names})")
    first = all_days[0]
    # Day index of each row in the month, clipped to the month (out-of-month and null rows: nearest day).
    ts = pc.cast(table[PICKUP], pa.timestamp("us"))
    start_us = int((datetime.combine(first, datetime.min.time()) - datetime(1970, 1, 1)).total_seconds() * 1_000_000)
    us = pc.fill_null(pc.cast(ts, pa.int64()), start_us)
    idx = pc.floor(pc.divide(pc.cast(pc.subtract(us, start_us), pa.float64()), 86_400_000_000.0))
    idx = pc.cast(pc.min_element_wise(pc.max_element_wise(idx, 0.0), float(len(all_days) - 1)), pa.int32())
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    out = []
    for d in wanted:
        part = table.filter(pc.equal(idx, (d - first).days))
        path = out_dir / drop_file_name(d)
        # Write-then-rename: a drop file is complete or absent (a watcher never sees half a file).
        fd, tmp = tempfile.mkstemp(dir=out_dir, prefix=f".{path.name}.", suffix=".tmp")
        try:
            with open(fd, "wb") as f:
                pq.write_table(part, f, compression="zstd")
            Path(tmp).replace(path)
        finally:
            Path(tmp).unlink(missing_ok=True)
        out.append(Drop(d, path, part.num_rows))
    return out


def synthetic_drops(month: str, days: int, rows_per_day: int, out_dir: str | Path, seed: int = 42) -> list[Drop]:
    """The first `days` daily drops of a synthetic month of about rows_per_day trips a day (the generator's
    month of rows_per_day * days-in-month rows, split by pickup day)."""
    if days < 1 or rows_per_day < 1:
        raise DropError(f"days and rows-per-day must be positive, got {days} and {rows_per_day}")
    all_days = month_days(month)
    if days > len(all_days):
        raise DropError(f"{month} has {len(all_days)} days, asked for {days}")
    from taxilab.ingest.synthetic import generate_month

    out_dir = Path(out_dir)
    gen = generate_month(month, rows_per_day * len(all_days), out_dir / f".month-{month}.parquet", seed=seed)
    try:
        return split_month_file(gen.path, month, out_dir, all_days[:days])
    finally:
        gen.path.unlink(missing_ok=True)


def days_in(table: pa.Table, month: str) -> list[date]:
    """The distinct pickup days of `table` inside `month` (rows outside the month are quarantined by the
    etl job, so they affect no date)."""
    all_days = set(month_days(month))
    col = pc.cast(table[PICKUP], pa.timestamp("us"))
    got = {d for d in pc.unique(pc.cast(col, pa.date32())).to_pylist() if d is not None}
    return sorted(got & all_days)


__all__ = ["Drop", "DropError", "days_in", "drop_file_name", "month_days", "split_month_file", "synthetic_drops"]
