"""Daily drops (taxilab.ingest.drops): the streaming split of a month file into per-day files, the synthetic
drops that generate only the drop days' trips, and the --rows-per-day / --gb-per-day volume plan. pyarrow
and the generator only: no services, no Spark."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from taxilab.cli import glue as cli_glue
from taxilab.ingest import drops
from taxilab.ingest.synthetic import BLOCK_ROWS, GUARANTEE_MIN_ROWS, generate_month, generate_table

APRIL_START, MAY_START = datetime(2024, 4, 1), datetime(2024, 5, 1)
ROWS_PER_DAY = 40_000  # x 3 drops >= GUARANTEE_MIN_ROWS: every dirt kind, out-of-month pickups included


@pytest.fixture(scope="module")
def three_days(tmp_path_factory):
    out = tmp_path_factory.mktemp("drops")
    return drops.synthetic_drops("2024-04", 3, ROWS_PER_DAY, out, seed=11)


def _us(col) -> np.ndarray:
    return pc.cast(col, pa.int64()).to_numpy()


def _pickups(path) -> list[datetime]:
    return pq.read_table(path, columns=[drops.PICKUP])[drops.PICKUP].to_pylist()


def test_each_synthetic_drop_holds_only_its_own_days_in_month_pickups(three_days):
    assert [d.day for d in three_days] == [date(2024, 4, 1), date(2024, 4, 2), date(2024, 4, 3)]
    outside = 0
    for d in three_days:
        pickups = _pickups(d.path)
        assert len(pickups) == d.rows > 0
        in_month = [p for p in pickups if APRIL_START <= p < MAY_START]
        assert {p.date() for p in in_month} == {d.day}
        outside += len(pickups) - len(in_month)
    # The generator's out-of-month dirt stays out of the month (the etl quarantines it): the first drop
    # carries the earlier ones, the last drop the later ones.
    assert outside >= 2
    first, _, last = (_pickups(d.path) for d in three_days)
    assert all(p >= APRIL_START for p in _pickups(three_days[1].path))
    assert all(p < MAY_START for p in first) and all(p >= APRIL_START for p in last)


def test_synthetic_drops_conserve_the_generated_trips_their_times_of_day_and_durations(three_days):
    total = 3 * ROWS_PER_DAY
    assert total >= GUARANTEE_MIN_ROWS
    assert sum(d.rows for d in three_days) == total  # documented: every generated trip in exactly one drop
    got = pa.concat_tables(pq.read_table(d.path) for d in three_days)
    want = generate_table("2024-04", total, seed=11)
    for name in ("fare_amount", "total_amount", "trip_distance", "PULocationID"):
        assert np.array_equal(np.sort(got[name].to_numpy()), np.sort(want[name].to_numpy())), name

    def durations(t):
        return np.sort(_us(t[drops.DROPOFF]) - _us(t[drops.PICKUP]))

    def times_of_day(t):
        return np.sort(_us(t[drops.PICKUP]) % drops.DAY_US)

    assert np.array_equal(durations(got), durations(want))
    assert np.array_equal(times_of_day(got), times_of_day(want))


def test_a_drop_per_day_of_the_whole_month_is_the_generators_month(tmp_path):
    feed = drops.synthetic_drops("2024-02", 29, 20, tmp_path, seed=3)
    got = pa.concat_tables(pq.read_table(d.path) for d in feed).sort_by([(drops.PICKUP, "ascending")])
    want = generate_table("2024-02", 29 * 20, seed=3).sort_by([(drops.PICKUP, "ascending")])
    assert np.array_equal(_us(got[drops.PICKUP]), _us(want[drops.PICKUP]))  # no trip moved
    assert np.array_equal(_us(got[drops.DROPOFF]), _us(want[drops.DROPOFF]))


def test_drop_files_have_the_generators_exact_schema(tmp_path, three_days):
    month = generate_month("2024-04", 50, tmp_path / "m.parquet", seed=1)
    month_schema = pq.read_schema(month.path)
    for d in three_days:
        assert pq.read_schema(d.path).equals(month_schema, check_metadata=True)
        assert pq.ParquetFile(d.path).metadata.row_group(0).column(0).compression == "ZSTD"


def test_same_seed_and_arguments_give_byte_identical_drop_files(tmp_path):
    a = drops.synthetic_drops("2024-04", 2, 3_000, tmp_path / "a", seed=5)
    b = drops.synthetic_drops("2024-04", 2, 3_000, tmp_path / "b", seed=5)
    c = drops.synthetic_drops("2024-04", 2, 3_000, tmp_path / "c", seed=6)
    assert [x.path.read_bytes() for x in a] == [x.path.read_bytes() for x in b]
    assert [x.path.name for x in a] == [x.path.name for x in c]
    assert all(x.path.read_bytes() != y.path.read_bytes() for x, y in zip(a, c, strict=True))
    assert not list((tmp_path / "a").glob(".*"))  # no temp file left behind


def test_synthetic_drops_stream_chunk_by_chunk_with_the_same_rows_whatever_the_chunk(tmp_path):
    big = drops.synthetic_drops("2024-04", 2, BLOCK_ROWS, tmp_path / "big", seed=8)
    small = drops.synthetic_drops(
        "2024-04", 2, BLOCK_ROWS, tmp_path / "small", seed=8, chunk_rows=BLOCK_ROWS // 4
    )
    for x, y in zip(big, small, strict=True):
        assert x.rows == y.rows
        meta = pq.ParquetFile(y.path).metadata
        # One row group per chunk at most: the writer never saw more than a chunk at once.
        assert meta.num_row_groups > 1
        assert max(meta.row_group(i).num_rows for i in range(meta.num_row_groups)) <= BLOCK_ROWS // 4
        key = [(drops.PICKUP, "ascending"), ("fare_amount", "ascending"), ("trip_distance", "ascending")]
        assert pq.read_table(x.path).sort_by(key).equals(pq.read_table(y.path).sort_by(key))


def _month_file(path, pickups, metadata=None):
    schema = pa.schema([("VendorID", pa.int32()), (drops.PICKUP, pa.timestamp("us"))], metadata=metadata)
    t = pa.table(
        {
            "VendorID": pa.array(range(len(pickups)), pa.int32()),
            drops.PICKUP: pa.array(pickups, pa.timestamp("us")),
        },
        schema=schema,
    )
    pq.write_table(t, path, row_group_size=3)
    return path


def test_split_month_file_streams_rows_to_their_days_in_order(tmp_path):
    d = datetime(2024, 4, 2, 8)
    pickups = [
        d,
        d + timedelta(days=1),
        APRIL_START - timedelta(hours=2),
        d + timedelta(hours=1),
        None,
        datetime(2026, 4, 1),
        datetime(2024, 4, 30, 23, 59),
        d + timedelta(hours=2),
    ]
    src = _month_file(tmp_path / "m.parquet", pickups, metadata={b"origin": b"tlc"})
    feed = drops.split_month_file(src, "2024-04", tmp_path / "out", chunk_rows=2)
    assert len(feed) == 30 and sum(x.rows for x in feed) == len(pickups)  # all days: every row once
    by_day = {x.day: pq.read_table(x.path)["VendorID"].to_pylist() for x in feed}
    assert by_day[date(2024, 4, 1)] == [2, 4]  # before the month and null: the first day
    assert by_day[date(2024, 4, 2)] == [0, 3, 7]  # the file's order kept across chunks
    assert by_day[date(2024, 4, 3)] == [1]
    assert by_day[date(2024, 4, 30)] == [5, 6]  # 2026: the nearest (last) day
    schema = pq.read_schema(feed[0].path)
    assert schema.equals(pq.read_schema(src), check_metadata=True) and schema.metadata[b"origin"] == b"tlc"


def test_split_month_file_writes_only_the_days_asked_for(tmp_path):
    d = datetime(2024, 4, 2, 8)
    src = _month_file(tmp_path / "m.parquet", [d, d + timedelta(days=1), d + timedelta(days=2), d])
    feed = drops.split_month_file(src, "2024-04", tmp_path / "out", days=[date(2024, 4, 3), date(2024, 4, 2)])
    assert [(x.day, x.rows) for x in feed] == [(date(2024, 4, 2), 2), (date(2024, 4, 3), 1)]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "yellow_tripdata_2024-04-02.parquet",
        "yellow_tripdata_2024-04-03.parquet",
    ]
    with pytest.raises(drops.DropError, match="not in month"):
        drops.split_month_file(src, "2024-04", tmp_path / "out", days=[date(2024, 5, 1)])


def test_a_split_that_fails_midway_leaves_no_drop_and_no_temporary_file(tmp_path):
    month = generate_month("2024-04", 3_000, tmp_path / "m.parquet", seed=2)
    out = tmp_path / "drops"

    schema = pq.read_schema(month.path)

    def chunks(fail: bool):
        for batch in pq.ParquetFile(month.path).iter_batches(batch_size=1_000):
            yield pa.Table.from_batches([batch])
        if fail:
            raise OSError("connection reset while reading the month")

    def route(chunk):  # April 1 and 2 only
        day = pc.day(chunk[drops.PICKUP]).to_numpy(zero_copy_only=False)
        return chunk, np.where(day <= 2, day - 1, -1)

    days = [date(2024, 4, 1), date(2024, 4, 2)]
    with pytest.raises(OSError, match="connection reset"):
        drops._write_days(chunks(fail=True), schema, days, out, route)
    assert list(out.iterdir()) == []
    written = drops._write_days(chunks(fail=False), schema, days, out, route)
    assert sorted(p.name for p in out.iterdir()) == sorted(d.path.name for d in written)
    assert [pq.ParquetFile(d.path).metadata.num_rows for d in written] == [d.rows for d in written]


def test_gb_per_day_converts_at_the_measured_bytes_per_row():
    assert drops.rows_for_gb_per_day(1.0) == round(1e9 / drops.BYTES_PER_ROW)
    plan = drops.plan_volume("2024-04", 3, gb_per_day=0.5)
    assert plan.rows_per_day == round(0.5e9 / drops.BYTES_PER_ROW)
    assert plan.bytes_per_day == pytest.approx(0.5e9, rel=1e-6) and plan.large
    assert drops.plan_volume("2024-04", 3).rows_per_day == drops.DEFAULT_ROWS_PER_DAY
    small = drops.plan_volume("2024-04", 3, rows_per_day=1_000)
    assert small.rows_per_day == 1_000 and not small.large
    with pytest.raises(drops.DropError, match="not both"):
        drops.plan_volume("2024-04", 3, rows_per_day=1_000, gb_per_day=1.0)
    with pytest.raises(drops.DropError, match="positive"):
        drops.plan_volume("2024-04", 3, gb_per_day=0)
    with pytest.raises(drops.DropError, match=r"1\.\.30"):
        drops.plan_volume("2024-04", 31)


class _ServicesWouldStart(Exception):
    pass


@pytest.fixture
def no_services(monkeypatch):
    def refuse():
        raise _ServicesWouldStart

    monkeypatch.setattr(cli_glue, "_live", refuse)


def test_simulate_refuses_both_volume_options_before_any_service_starts(no_services):
    r = CliRunner().invoke(cli_glue.app, ["simulate", "--rows-per-day", "10", "--gb-per-day", "1"])
    assert r.exit_code == 2 and not isinstance(r.exception, _ServicesWouldStart)
    assert "--rows-per-day and --gb-per-day" in r.output


def test_simulate_prints_the_planned_volume_and_a_time_estimate_when_large(no_services):
    r = CliRunner().invoke(cli_glue.app, ["simulate", "--days", "2", "--gb-per-day", "1"])
    assert isinstance(r.exception, _ServicesWouldStart)  # planned and warned, then it goes on to run
    rows = round(1e9 / drops.BYTES_PER_ROW)
    assert f"{rows:,} rows/day" in r.output and "1,000.0 MB" in r.output
    assert "large volume" in r.output and "min to process" in r.output
    r = CliRunner().invoke(cli_glue.app, ["simulate", "--rows-per-day", "1000"])
    assert isinstance(r.exception, _ServicesWouldStart)
    assert "1,000 rows/day" in r.output and "large volume" not in r.output
