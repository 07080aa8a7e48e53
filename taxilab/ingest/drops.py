"""Daily drops: one Parquet file per pickup day, in the exact schema of the month file they come from.
Why: docs/adr/0010-incremental-daily-runs.md.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from spark_jobs.month import Month
from taxilab.core.state import atomic_output

PICKUP = "tpep_pickup_datetime"
DROPOFF = "tpep_dropoff_datetime"
DAY_US = 86_400_000_000

# Rows per chunk read or generated: 4 of the generator's RNG blocks (synthetic.BLOCK_ROWS = 2**17), so
# no block is generated twice. Peak RSS of a process running synthetic_drops is ~0.43 GB at this size,
# whatever the volume (3 drops: 424 MB at 0.025 GB/day, 443 MB at 0.25 GB/day; ADR 0010). Part of the
# drop files' identity: it sets their row groups.
CHUNK_ROWS = 1 << 19

# Bytes per row of a synthetic drop file (zstd, the generator's 2024 schema, rows chronological within
# each chunk's row group). Measured 2026-11-27 on the lab machine (2 cores, pyarrow 21):
# synthetic_drops("2024-04", 3, 500_000, d, seed=42) wrote 3 files, 1,500,000 rows, 25,774,125 bytes
# = 17.18 bytes/row. (The generator's month file of 500k rows is 20.1 bytes/row: its rows are ordered
# by RNG block, not by day.) --gb-per-day converts bytes to rows with it (GB = 10**9 bytes).
BYTES_PER_ROW = 17.2


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
    return Month.parse(month).days


def rows_for_gb_per_day(gb_per_day: float) -> int:
    """Trips a day whose synthetic drop file is about `gb_per_day` GB (10**9 bytes), by BYTES_PER_ROW."""
    if not gb_per_day > 0:
        raise DropError(f"--gb-per-day must be positive, got {gb_per_day}")
    return max(1, round(gb_per_day * 1e9 / BYTES_PER_ROW))


DEFAULT_ROWS_PER_DAY = 100_000
# Above this many trips a day, `simulate` prints how long it expects to take (it still runs).
LARGE_ROWS_PER_DAY = 5_000_000
# Throughputs on the 2-core lab machine, for that estimate only. Generation + split: 43.6M rows (3 drops
# of 0.25 GB) in 41 s, measured 2026-11-27. Pipeline: README's benchmark, 3,007,526 trips local file ->
# validated warehouse in 91.8 s; a drop runs etl + aggregates + warehouse over about its own rows.
GENERATE_ROWS_PER_S = 1_000_000
PIPELINE_ROWS_PER_S = 3_007_526 / 91.8


@dataclass(frozen=True)
class VolumePlan:
    rows_per_day: int
    bytes_per_day: float  # expected drop file size
    generate_s: float  # expected, for all drops
    pipeline_s: float  # expected, for all drops

    @property
    def large(self) -> bool:
        return self.rows_per_day > LARGE_ROWS_PER_DAY


def plan_volume(
    month: str, days: int, rows_per_day: int | None = None, gb_per_day: float | None = None
) -> VolumePlan:
    """Trips a day from --rows-per-day or --gb-per-day (at most one; neither: DEFAULT_ROWS_PER_DAY),
    with the expected drop size and times on this machine. Checks the month and days too."""
    if rows_per_day is not None and gb_per_day is not None:
        raise DropError("--rows-per-day and --gb-per-day are alternatives: give one of them, not both")
    if gb_per_day is not None:
        rows = rows_for_gb_per_day(gb_per_day)
    else:
        rows = DEFAULT_ROWS_PER_DAY if rows_per_day is None else rows_per_day
        if rows < 1:
            raise DropError(f"--rows-per-day must be positive, got {rows}")
    try:
        n_days = len(month_days(month))
    except ValueError as e:
        raise DropError(str(e)) from None
    if not 1 <= days <= n_days:
        raise DropError(f"--days must be within 1..{n_days} for {month}, got {days}")
    return VolumePlan(
        rows, rows * BYTES_PER_ROW, rows * days / GENERATE_ROWS_PER_S, rows * days / PIPELINE_ROWS_PER_S
    )


def _epoch_us(d: date) -> int:
    return (datetime.combine(d, datetime.min.time()) - datetime(1970, 1, 1)) // timedelta(microseconds=1)


def _pickup_us(table: pa.Table, fill: int) -> np.ndarray:
    """The pickup column as int64 microseconds (nulls -> `fill`)."""
    us = pc.cast(pc.cast(table[PICKUP], pa.timestamp("us")), pa.int64())
    return pc.fill_null(us, fill).to_numpy()


def _write_days(
    chunks: Iterable[pa.Table],
    schema: pa.Schema,
    days: list[date],
    out_dir: Path,
    route: Callable[[pa.Table], tuple[pa.Table, np.ndarray]],
) -> list[Drop]:
    """Stream `chunks` into one file per day of `days`. `route(chunk)` returns the chunk (possibly with
    new timestamps) and each row's position in `days` (-1: the row belongs to no file). Within a chunk,
    rows are grouped by day stably (their order inside a day is kept)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    counts = [0] * len(days)
    # Write-then-rename: a drop file is complete or absent (a watcher never sees half a file). The stack
    # unwinds in reverse: first every writer is closed, then the files are renamed in day order (entered
    # in reverse) - or, on any error, every temporary file is removed and no drop appears.
    with ExitStack() as stack:
        tmps = {d: stack.enter_context(atomic_output(out_dir / drop_file_name(d))) for d in reversed(days)}
        writers = [stack.enter_context(pq.ParquetWriter(tmps[d], schema, compression="zstd")) for d in days]
        for chunk in chunks:
            chunk, pos = route(chunk)
            order = np.argsort(pos, kind="stable")
            bounds = np.searchsorted(pos[order], np.arange(-1, len(days) + 1))
            for k in range(len(days)):
                lo, hi = int(bounds[k + 1]), int(bounds[k + 2])
                if hi > lo:
                    part = chunk.take(pa.array(order[lo:hi]))
                    writers[k].write_table(part, row_group_size=hi - lo)
                    counts[k] += hi - lo
            del chunk, order
    return [Drop(d, out_dir / drop_file_name(d), n) for d, n in zip(days, counts, strict=True)]


def split_month_file(
    month_file: str | Path,
    month: str,
    out_dir: str | Path,
    days: list[date] | None = None,
    chunk_rows: int = CHUNK_ROWS,
) -> list[Drop]:
    """Write one Parquet file per pickup day of `month` (only `days`, if given) into out_dir; returns the
    drops in day order. The schema (names, types, order, metadata) is the input file's, unchanged. Rows
    whose pickup is outside the month or null go to the nearest day of the month (the first, for null);
    with `days`, rows of the other days are not written. Streams `chunk_rows` rows at a time."""
    month_file = Path(month_file)
    all_days = month_days(month)
    wanted = all_days if days is None else sorted(set(days))
    outside = [d for d in wanted if d not in all_days]
    if outside:
        raise DropError(f"days {[str(d) for d in outside]} are not in month {month}")
    try:
        pf = pq.ParquetFile(month_file)
        schema = pf.schema_arrow
    except (OSError, pa.ArrowException) as e:
        raise DropError(f"{month_file}: not readable as Parquet: {e}") from None
    if PICKUP not in schema.names or not pa.types.is_timestamp(schema.field(PICKUP).type):
        raise DropError(f"{month_file}: no timestamp column {PICKUP!r} to split by (columns {schema.names})")
    start_us = _epoch_us(all_days[0])
    # Position in `wanted` of each day of the month (-1: not wanted).
    slot = np.full(len(all_days), -1, dtype=np.int64)
    for k, d in enumerate(wanted):
        slot[(d - all_days[0]).days] = k

    def route(chunk: pa.Table) -> tuple[pa.Table, np.ndarray]:
        day = np.clip((_pickup_us(chunk, start_us) - start_us) // DAY_US, 0, len(all_days) - 1)
        return chunk, slot[day]

    def chunks() -> Iterator[pa.Table]:
        try:
            for batch in pf.iter_batches(batch_size=chunk_rows):
                yield pa.Table.from_batches([batch])
        except (OSError, pa.ArrowException) as e:
            raise DropError(f"{month_file}: not readable as Parquet: {e}") from None

    return _write_days(chunks(), schema, wanted, Path(out_dir), route)


def synthetic_drops(
    month: str,
    days: int,
    rows_per_day: int,
    out_dir: str | Path,
    seed: int = 42,
    chunk_rows: int = CHUNK_ROWS,
) -> list[Drop]:
    """The first `days` daily drops of a synthetic `month`, rows_per_day * days trips in all.

    Only those trips are generated (`taxilab.ingest.synthetic.generate_table` over a "month" of
    rows_per_day * days rows, chunk by chunk), not the whole month: each in-month trip is moved to drop
    day (its day of the month modulo `days`), keeping its time of day and duration, so every drop file
    holds only its own day's in-month pickups. Trips the generator puts outside the month (its dirt:
    hours before or after the month, years away) keep their timestamps and go to the nearest drop (the
    first for earlier, the last for later pickups), where the etl quarantines them as usual. So the drop
    rows sum to exactly rows_per_day * days. Same (month, days, rows_per_day, seed, chunk_rows) =
    byte-identical files. Memory: one chunk of `chunk_rows` rows, whatever the volume."""
    if days < 1 or rows_per_day < 1:
        raise DropError(f"days and rows-per-day must be positive, got {days} and {rows_per_day}")
    if chunk_rows < 1:
        raise DropError(f"chunk_rows must be positive, got {chunk_rows}")
    all_days = month_days(month)
    if days > len(all_days):
        raise DropError(f"{month} has {len(all_days)} days, asked for {days}")
    from taxilab.ingest.synthetic import SCHEMA, generate_table

    total = rows_per_day * days
    start_us = _epoch_us(all_days[0])
    end_us = start_us + len(all_days) * DAY_US

    def chunks() -> Iterator[pa.Table]:
        for lo in range(0, total, chunk_rows):
            yield generate_table(month, min(chunk_rows, total - lo), seed, lo, total_rows=total)

    def route(chunk: pa.Table) -> tuple[pa.Table, np.ndarray]:
        pickup = _pickup_us(chunk, start_us)
        inside = (pickup >= start_us) & (pickup < end_us)
        day = (pickup - start_us) // DAY_US
        shift = np.where(inside, (day % days - day) * DAY_US, 0)
        pos = np.where(inside, day % days, np.where(pickup < start_us, 0, days - 1))
        for name in (PICKUP, DROPOFF):
            i = chunk.schema.get_field_index(name)
            moved = pc.cast(chunk[name], pa.int64()).to_numpy(zero_copy_only=False) + shift
            chunk = chunk.set_column(
                i, chunk.schema.field(i), pa.array(moved.view("datetime64[us]"), chunk.schema.field(i).type)
            )
        # Chronological within each day's piece, like the generator's runs and the TLC files.
        order = np.lexsort((pickup + shift, pos))
        return chunk.take(pa.array(order)), pos[order]

    return _write_days(chunks(), SCHEMA, all_days[:days], Path(out_dir), route)


def days_in(table: pa.Table, month: str) -> list[date]:
    """The distinct pickup days of `table` inside `month` (rows outside the month are quarantined by the
    etl job, so they affect no date)."""
    all_days = set(month_days(month))
    col = pc.cast(table[PICKUP], pa.timestamp("us"))
    got = {d for d in pc.unique(pc.cast(col, pa.date32())).to_pylist() if d is not None}
    return sorted(got & all_days)


__all__ = [
    "BYTES_PER_ROW",
    "CHUNK_ROWS",
    "DEFAULT_ROWS_PER_DAY",
    "Drop",
    "DropError",
    "VolumePlan",
    "days_in",
    "drop_file_name",
    "month_days",
    "plan_volume",
    "rows_for_gb_per_day",
    "split_month_file",
    "synthetic_drops",
]
