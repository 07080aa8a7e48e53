"""Behaviour of the synthetic TLC yellow-taxi generator (one row per trip, 2024 schema)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from spark_jobs.schemas.tlc import arrow_schema_2024
from taxilab.ingest import synthetic
from taxilab.ingest.synthetic import (
    DIRT_RATES,
    GUARANTEE_MIN_ROWS,
    GeneratedFile,
    generate_month,
    generate_table,
)

ZONE_LOOKUP = Path(__file__).resolve().parents[3] / "shared" / "data" / "taxi_zone_lookup.csv"
AMOUNTS = [
    "fare_amount", "extra", "mta_tax", "tip_amount", "tolls_amount", "improvement_surcharge",
    "congestion_surcharge", "Airport_fee",
]  # fmt: skip
NULL_BLOCK = ["passenger_count", "RatecodeID", "store_and_fwd_flag", "congestion_surcharge", "Airport_fee"]
BIG = 200_000


@pytest.fixture(scope="module")
def big() -> pd.DataFrame:
    """A 200k-trip February: above GUARANTEE_MIN_ROWS, so every dirt kind is present."""
    return generate_table("2024-02", BIG, seed=7).to_pandas()


@pytest.fixture(scope="module")
def clean(big: pd.DataFrame) -> pd.DataFrame:
    """Non-flex rows with no amount dirt (no refund, adjustment or extreme)."""
    ok = (
        big["payment_type"].ne(0)
        & big["fare_amount"].between(0, 1_000)
        & big["total_amount"].ge(0)
        & big["tip_amount"].between(0, 100)
    )
    return big[ok]


def duration_s(df: pd.DataFrame) -> pd.Series:
    return (df["tpep_dropoff_datetime"] - df["tpep_pickup_datetime"]).dt.total_seconds()


# --- schema, determinism, row counts -------------------------------------------------------------


def test_table_has_exactly_the_2024_schema():
    table = generate_table("2024-02", 50)
    assert table.schema.equals(arrow_schema_2024())
    assert table.schema.names == [f.name for f in arrow_schema_2024()]  # exact case, e.g. Airport_fee


def test_written_file_has_exactly_the_2024_schema_and_zstd_row_groups(tmp_path):
    out = generate_month("2024-02", 2_500, tmp_path / "m.parquet", chunk_rows=1_000)
    pf = pq.ParquetFile(out.path)
    assert pf.schema_arrow.equals(arrow_schema_2024())
    assert pf.metadata.num_row_groups == 3
    assert [pf.metadata.row_group(i).num_rows for i in range(3)] == [1_000, 1_000, 500]
    assert pf.metadata.row_group(0).column(0).compression == "ZSTD"


def test_same_seed_gives_byte_identical_files(tmp_path):
    a = generate_month("2024-02", 3_000, tmp_path / "a.parquet", seed=5, chunk_rows=1_000)
    b = generate_month("2024-02", 3_000, tmp_path / "b.parquet", seed=5, chunk_rows=1_000)
    assert a.sha256 == b.sha256
    assert a.path.read_bytes() == b.path.read_bytes()


def _digest_script():
    """tests/unit/fixtures/make_synthetic_digest.py, which wrote the reference digests."""
    import importlib.util

    path = Path(__file__).with_name("fixtures") / "make_synthetic_digest.py"
    spec = importlib.util.spec_from_file_location("make_synthetic_digest", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_generated_columns_match_the_recorded_reference_digests():
    """Refactoring the generator must not change one value: every column's digest of a two-block,
    every-dirt-kind month equals the one recorded before _generate_block was split."""
    script = _digest_script()
    reference = json.loads(script.FIXTURE.read_text())
    table = generate_table(reference["month"], reference["rows"], reference["seed"])
    assert table.num_rows == reference["num_rows"]
    assert script.table_digests(table) == reference["columns"]


def test_a_changed_value_changes_its_column_digest_only():
    script = _digest_script()
    table = generate_table("2024-02", 1_000, 7)
    fare = table.column("fare_amount").to_numpy().copy()
    fare[500] += 0.01
    changed = table.set_column(table.schema.get_field_index("fare_amount"), "fare_amount", pa.array(fare))
    before, after = script.table_digests(table), script.table_digests(changed)
    assert [c for c in before if before[c] != after[c]] == ["fare_amount"]


def test_different_seed_or_month_gives_different_data(tmp_path):
    a = generate_month("2024-02", 3_000, tmp_path / "a.parquet", seed=5)
    b = generate_month("2024-02", 3_000, tmp_path / "b.parquet", seed=6)
    assert a.sha256 != b.sha256
    feb, mar = generate_table("2024-02", 500, seed=5), generate_table("2024-03", 500, seed=5)
    assert not feb.column("trip_distance").equals(mar.column("trip_distance"))


def test_rows_do_not_depend_on_chunk_rows(tmp_path):
    # Crosses an RNG block boundary so block caching and slicing are exercised.
    rows = synthetic.BLOCK_ROWS + 1_234
    a = generate_month("2024-02", rows, tmp_path / "a.parquet", chunk_rows=50_000)
    b = generate_month("2024-02", rows, tmp_path / "b.parquet", chunk_rows=rows)
    assert pq.read_table(a.path).equals(pq.read_table(b.path))
    assert pq.read_table(a.path).equals(generate_table("2024-02", rows))


def test_slices_of_a_month_concatenate_to_the_whole_month():
    whole = generate_table("2024-02", 5_000, seed=3)
    parts = [generate_table("2024-02", 2_000, 3, start, total_rows=5_000) for start in (0, 2_000)]
    parts.append(generate_table("2024-02", 1_000, 3, 4_000, total_rows=5_000))
    assert pa.concat_tables(parts).equals(whole)


@pytest.mark.parametrize("rows", [0, 1, 10, 1_001])
def test_row_count_is_exact(tmp_path, rows):
    seen: list[int] = []
    out = generate_month("2024-02", rows, tmp_path / "m.parquet", chunk_rows=400, progress=seen.append)
    assert isinstance(out, GeneratedFile)
    assert out.rows == rows
    assert pq.ParquetFile(out.path).metadata.num_rows == rows
    assert sum(seen) == rows
    assert all(n <= 400 for n in seen)
    assert generate_table("2024-02", rows).num_rows == rows


def test_zero_rows_still_writes_a_readable_file_with_the_schema(tmp_path):
    out = generate_month("2024-02", 0, tmp_path / "empty.parquet")
    table = pq.read_table(out.path)
    assert table.num_rows == 0
    assert table.schema.equals(arrow_schema_2024())
    assert not (tmp_path / "empty.parquet.tmp").exists()


def test_a_finished_month_leaves_only_its_file_and_a_failed_one_nothing(tmp_path):
    out = generate_month("2024-02", 2_000, tmp_path / "ok.parquet", chunk_rows=500)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ok.parquet"]
    assert pq.ParquetFile(out.path).metadata.num_rows == 2_000

    def fail_after_first_chunk(n):
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        generate_month(
            "2024-02", 2_000, tmp_path / "bad.parquet", chunk_rows=500, progress=fail_after_first_chunk
        )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ok.parquet"]  # no bad.parquet, no temporary file


def test_invalid_arguments_are_rejected(tmp_path):
    for month in ("2024-13", "2024-2", "24-02", "2024/02"):
        with pytest.raises(ValueError):
            generate_table(month, 10)
    with pytest.raises(ValueError):
        generate_table("2024-02", -1)
    with pytest.raises(ValueError):
        generate_month("2024-02", 10, tmp_path / "m.parquet", chunk_rows=0)


# --- null block -----------------------------------------------------------------------------------


def test_null_block_columns_are_null_together_and_only_on_flex_fare(big):
    nulls = big[NULL_BLOCK].isna()
    any_null = nulls.any(axis=1)
    assert (nulls.all(axis=1) == any_null).all()
    assert (big.loc[any_null, "payment_type"] == 0).all()
    assert (big.loc[~any_null, "payment_type"] != 0).all()


def test_null_block_rate_follows_the_month_and_is_configurable():
    feb = generate_table("2024-02", 40_000)["passenger_count"].null_count / 40_000
    jul = generate_table("2024-07", 40_000)["passenger_count"].null_count / 40_000
    custom = generate_table("2024-07", 40_000, null_block_rate=0.2)["passenger_count"].null_count / 40_000
    none = generate_table("2024-07", 5_000, null_block_rate=0.0)["passenger_count"].null_count
    assert feb == pytest.approx(0.062, abs=0.005)
    assert jul == pytest.approx(synthetic.DEFAULT_NULL_BLOCK_RATE, abs=0.005)
    assert custom == pytest.approx(0.2, abs=0.01)
    assert none == 0


# --- dirt -----------------------------------------------------------------------------------------


def test_dirt_kinds_all_belong_to_exactly_one_group():
    grouped = [k for kinds in synthetic._DIRT_GROUPS.values() for k in kinds]
    assert sorted(grouped) == sorted(DIRT_RATES)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("fare<0", DIRT_RATES["refund"] + DIRT_RATES["negative_fare_only"]),
        ("total<0", DIRT_RATES["refund"]),
        ("distance=0", DIRT_RATES["zero_distance"]),
        ("unknown zone", DIRT_RATES["unknown_zone"]),
        ("passengers=0", DIRT_RATES["zero_passengers"]),
        ("null block", 0.062),
    ],
)
def test_dirt_rates_match_the_real_rates(big, name, expected):
    masks = {
        "fare<0": big["fare_amount"] < 0,
        "total<0": big["total_amount"] < 0,
        "distance=0": big["trip_distance"] == 0,
        "unknown zone": big["PULocationID"].isin([264, 265]) | big["DOLocationID"].isin([264, 265]),
        "passengers=0": big["passenger_count"] == 0,
        "null block": big["passenger_count"].isna(),
    }
    assert masks[name].mean() == pytest.approx(expected, rel=0.2)


def test_every_dirt_kind_is_present_from_the_guarantee_threshold(big):
    assert len(big) >= GUARANTEE_MIN_ROWS
    dur = duration_s(big)
    pickup = big["tpep_pickup_datetime"]
    assert (big["total_amount"] < 0).any()
    assert ((big["fare_amount"] < 0) & (big["total_amount"] >= 0)).any()
    assert (big["fare_amount"] > 1_000).any()
    assert ((big["tip_amount"] >= 100) | (big["tip_amount"] <= -333)).any()
    assert (big["trip_distance"] == 0).any()
    assert (big["trip_distance"] > 100).any()
    assert (big["passenger_count"] == 0).any()
    assert (big["PULocationID"].isin([264, 265]) | big["DOLocationID"].isin([264, 265])).any()
    assert (dur <= 0).any()
    assert (dur > 86_400).any()
    near = pickup.between("2024-01-31", "2024-03-02") & ~pickup.between("2024-02-01", "2024-02-29 23:59:59")
    assert near.any()
    assert (pickup.dt.year != 2024).any()


def test_refunds_negate_every_amount(big):
    refunds = big[(big["total_amount"] < 0) & (big["fare_amount"] < 0) & big["payment_type"].ne(0)]
    assert len(refunds) > 100
    for col in ["mta_tax", "improvement_surcharge"]:
        assert set(refunds[col].unique()) <= {-0.5, -1.0, 0.0}
    assert (refunds[AMOUNTS].fillna(0) <= 0).all().all()
    # Reversals are mostly filed as disputes / no charge.
    assert refunds["payment_type"].isin([3, 4]).mean() > 0.5


def test_pickups_are_mostly_inside_the_month_but_not_all(big):
    pickup = big["tpep_pickup_datetime"]
    inside = (pickup >= "2024-02-01") & (pickup < "2024-03-01")
    assert inside.mean() > 0.9999
    assert (~inside).sum() >= 2


def test_rows_without_duration_dirt_have_plausible_durations(big):
    dur = duration_s(big)
    assert ((dur > 0) & (dur <= 86_400)).mean() > 0.999
    assert 8 * 60 < dur.median() < 16 * 60


# --- fee rules, totals, tips ----------------------------------------------------------------------


def test_total_amount_is_the_sum_of_its_components_to_the_cent(big):
    parts = big[AMOUNTS].fillna(0).sum(axis=1)
    assert np.abs(big["total_amount"] - parts).max() < 0.005


def test_amounts_are_rounded_to_cents(big):
    for col in AMOUNTS + ["total_amount"]:
        values = big[col].dropna().to_numpy()
        assert np.allclose(values, np.round(values, 2), rtol=0, atol=1e-9), col


def test_fixed_fees_take_only_their_rule_values(big):
    assert set(big["mta_tax"].unique()) <= {0.5, -0.5, 0.0}
    assert set(big["improvement_surcharge"].unique()) <= {1.0, -1.0, 0.0}
    assert set(big["congestion_surcharge"].dropna().unique()) <= {2.5, -2.5, 0.0}
    assert set(big["Airport_fee"].dropna().unique()) <= {1.75, -1.75, 0.0}


def test_airport_fee_only_on_jfk_and_laguardia_pickups(big):
    charged = big["Airport_fee"].fillna(0) != 0
    assert big.loc[charged, "PULocationID"].isin([132, 138]).all()
    non_flex_airport = big["PULocationID"].isin([132, 138]) & big["payment_type"].ne(0)
    assert (big.loc[non_flex_airport, "Airport_fee"].abs() == 1.75).all()


def test_congestion_surcharge_on_trips_touching_manhattan_below_96th(clean):
    rc1 = clean[clean["RatecodeID"] == 1]
    zones = set(synthetic.CONGESTION_ZONES)
    touches = rc1["PULocationID"].isin(zones) | rc1["DOLocationID"].isin(zones)
    assert (rc1.loc[touches, "congestion_surcharge"] == 2.5).all()
    assert (rc1.loc[~touches, "congestion_surcharge"] == 0).all()


def test_jfk_flat_fare_rows_charge_70_and_touch_jfk(big, clean):
    rc2 = clean[clean["RatecodeID"] == 2]
    assert len(rc2) > 1_000
    assert (rc2["fare_amount"] == 70.0).all()
    ends = rc2[["PULocationID", "DOLocationID"]]
    assert ((ends == 132) | ends.isin([264, 265])).any(axis=1).all()
    # Every clean JFK flat fare row pays 0 or the $5 weekday 16-20 surcharge as extra.
    assert set(rc2["extra"].unique()) <= {0.0, 5.0}


def test_extra_follows_rush_and_overnight_rules_on_metered_rows(clean):
    rc1 = clean[clean["RatecodeID"] == 1]
    hour = rc1["tpep_pickup_datetime"].dt.hour
    weekday = rc1["tpep_pickup_datetime"].dt.dayofweek < 5
    expected = np.where(weekday & hour.between(16, 19), 2.5, 0.0) + np.where(
        (hour >= 20) | (hour < 6), 1.0, 0.0
    )
    # Pickups moved out of the month kept their original extra; they are a handful at most.
    assert (rc1["extra"].to_numpy() == expected).mean() > 0.9999


def test_newark_rate_code_carries_the_newark_surcharge(clean):
    rc3 = clean[clean["RatecodeID"] == 3]
    assert len(rc3) > 100
    assert (rc3["extra"] >= 20).all()
    assert (rc3[["PULocationID", "DOLocationID"]].isin([1, 264, 265])).any(axis=1).all()


def test_cash_trips_record_no_tip_and_card_trips_mostly_tip(big, clean):
    assert (clean.loc[clean["payment_type"] == 2, "tip_amount"] == 0).all()
    # Only the extreme-tip dirt (a few per million) can land on a cash row.
    assert (big.loc[big["payment_type"] == 2, "tip_amount"] == 0).mean() > 0.9999
    card = clean[clean["payment_type"] == 1]
    assert 0.85 < (card["tip_amount"] > 0).mean() < 0.99
    tipped = card[(card["tip_amount"] > 0) & (card["fare_amount"] > 0)]
    assert 0.15 < (tipped["tip_amount"] / tipped["fare_amount"]).median() < 0.35


# --- realistic distributions ------------------------------------------------------------------------


def test_vendor_payment_and_flag_mixes_are_realistic(big):
    vendor = big["VendorID"].value_counts(normalize=True)
    assert vendor[2] == pytest.approx(0.764, abs=0.01)
    assert vendor[1] == pytest.approx(0.236, abs=0.01)
    assert set(vendor.index) <= {1, 2, 6, 7}
    pay = big["payment_type"].value_counts(normalize=True)
    assert pay[1] == pytest.approx(0.78 * 0.938 / 0.953, abs=0.02)  # card, scaled to Feb's flex share
    assert pay[2] == pytest.approx(0.148 * 0.938 / 0.953, abs=0.01)
    assert pay[4] == pytest.approx(0.016, abs=0.004)
    assert pay[3] == pytest.approx(0.007, abs=0.002)
    flag = big["store_and_fwd_flag"].value_counts(normalize=True)
    assert set(flag.index) == {"N", "Y"}
    assert flag["Y"] == pytest.approx(0.005, abs=0.002)


def test_zone_skew_is_manhattan_with_airports_at_real_shares(big):
    manhattan = set(synthetic.MANHATTAN_ZONES)
    assert big["PULocationID"].isin(manhattan).mean() > 0.85
    pu = big["PULocationID"].value_counts(normalize=True)
    assert 0.035 < pu[132] < 0.06
    assert 0.02 < pu[138] < 0.04
    assert (big["DOLocationID"] == 1).mean() > 0.001
    assert big["PULocationID"].between(1, 265).all() and big["DOLocationID"].between(1, 265).all()


def test_hourly_demand_has_peaks_troughs_and_weekend_nights(big):
    pickup = big["tpep_pickup_datetime"]
    inside = big[(pickup >= "2024-02-01") & (pickup < "2024-03-01")]
    hour = inside["tpep_pickup_datetime"].dt.hour
    weekend = inside["tpep_pickup_datetime"].dt.dayofweek >= 5
    weekday_hours = hour[~weekend].value_counts(normalize=True)
    weekend_hours = hour[weekend].value_counts(normalize=True)
    assert weekday_hours[18] > 5 * weekday_hours[4]
    assert weekday_hours[8] > 2 * weekday_hours[5]
    assert weekend_hours[1] > 3 * weekday_hours[1]
    days = inside["tpep_pickup_datetime"].dt.day.nunique()
    assert days == 29  # leap February: every day has trips


def test_airport_trips_are_longer_and_take_longer(clean):
    ok = clean[(clean["trip_distance"].between(0.01, 100)) & (duration_s(clean).between(1, 86_400))]
    jfk = ok["PULocationID"].eq(132) & ok["DOLocationID"].isin(synthetic.MANHATTAN_ZONES)
    local = ok["PULocationID"].isin(synthetic.MANHATTAN_ZONES) & ok["DOLocationID"].isin(
        synthetic.MANHATTAN_ZONES
    )
    assert ok.loc[jfk, "trip_distance"].median() > 12
    assert ok.loc[local, "trip_distance"].median() < 3
    assert duration_s(ok[jfk]).median() > 2 * duration_s(ok[local]).median()
    speed = ok["trip_distance"] / (duration_s(ok) / 3600)
    assert 6 < speed.median() < 14


@pytest.mark.skipif(not ZONE_LOOKUP.exists(), reason="shared zone lookup not available")
def test_zone_constants_match_the_tlc_zone_lookup():
    zones = pd.read_csv(ZONE_LOOKUP, keep_default_na=False)
    manhattan = zones.loc[zones["Borough"] == "Manhattan", "LocationID"]
    assert tuple(manhattan) == synthetic.MANHATTAN_ZONES
    names = zones.set_index("LocationID")["Zone"]
    assert names[synthetic.JFK] == "JFK Airport"
    assert names[synthetic.LGA] == "LaGuardia Airport"
    assert names[synthetic.EWR] == "Newark Airport"
