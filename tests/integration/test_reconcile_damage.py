"""Reconciliation fails on damage and names it: a small synthetic month (2021-03) is run once through the
pipeline; each kind of damage (staging, fct_trips, curated, a pre-aggregate, raw) is applied, `taxilab
validate` must exit 1 naming the layer, the day and the difference, and after the damage is undone it must
exit 0 again. One damage is also shown failing the pipeline's own validate stage. (docs/adr/0019)"""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass

import psycopg
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from spark_jobs.io import paths
from taxilab.core import clients as aws
from taxilab.core.settings import PROJECT_ROOT
from taxilab.orchestration.pipeline import Pipeline, PipelineOptions

pytestmark = pytest.mark.integration

MONTH = "2021-03"  # no other test loads it
ROWS = 20_000


@pytest.fixture(scope="module")
def loaded(lab_settings, spark):
    rep = Pipeline(PipelineOptions(MONTH, "synthetic", ROWS, 11, progress=False), settings=lab_settings).run()
    assert rep.status == "succeeded", rep.error
    assert rep.checks and all(c.ok for c in rep.checks), [c.name for c in rep.checks if not c.ok]
    return lab_settings


def validate(settings) -> tuple[int, str]:
    """`taxilab validate --month MONTH` in its own process, finding the test lab through its settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TAXILAB_")}
    env.update(
        TAXILAB_PROFILE="local",
        TAXILAB_STATE_DIR=str(settings.state_dir),
        TAXILAB_BUCKET=settings.bucket,
        TAXILAB_SHARED_DIR=str(settings.shared_dir),
        COLUMNS="400",  # rich wraps at the terminal width: keep each check on one line
    )
    p = subprocess.run(
        [sys.executable, "-m", "taxilab.cli", "validate", "--month", MONTH],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    return p.returncode, p.stdout + p.stderr


# ---- the lake's objects, read and written as bytes so that undoing a damage restores them exactly -----------
class Lake:
    def __init__(self, settings):
        self.s = settings
        self.s3 = aws.client("s3", settings)

    def keys(self, prefix: str) -> list[str]:
        out = []
        for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.s.bucket, Prefix=prefix):
            out += [o["Key"] for o in page.get("Contents", []) if o["Key"].endswith(".parquet")]
        return sorted(out)

    def get(self, key: str) -> bytes:
        return self.s3.get_object(Bucket=self.s.bucket, Key=key)["Body"].read()

    def put(self, key: str, body: bytes) -> None:
        self.s3.put_object(Bucket=self.s.bucket, Key=key, Body=body)

    def delete(self, key: str) -> None:
        self.s3.delete_object(Bucket=self.s.bucket, Key=key)

    def table(self, key: str) -> pa.Table:
        return pq.read_table(io.BytesIO(self.get(key)))

    def put_table(self, key: str, t: pa.Table) -> None:
        buf = io.BytesIO()
        pq.write_table(t, buf)
        self.put(key, buf.getvalue())


def day_of(key: str, field: str = "pickup_date") -> str:
    m = re.search(field + r"=(\d{4}-\d{2}-\d{2})", key)
    assert m, key
    return m.group(1)


def staging_files(lake: Lake) -> list[str]:
    """The month's staging files holding at least 3 rows, by day."""
    keys = [k for k in lake.keys(paths.staging_prefix(lake.s.dataset)) if f"pickup_date={MONTH}-" in k]
    return [k for k in keys if pq.read_metadata(io.BytesIO(lake.get(k))).num_rows >= 3]


@dataclass
class Damage:
    layer: str
    name: str
    apply: Callable[[], tuple[str, list[str]]]  # -> (day named, further fragments the output must contain)
    undo: Callable[[], None]


def test_each_damage_fails_validate_naming_layer_day_and_difference_and_passes_when_undone(
    loaded, record_property
):
    s = loaded
    lake = Lake(s)
    rc, out = validate(s)
    assert rc == 0, out
    saved: dict[str, bytes | None] = {}

    def keep(key: str) -> None:
        saved.setdefault(key, lake.get(key) if key not in saved else saved[key])

    def restore() -> None:
        for key, body in saved.items():
            if body is None:
                lake.delete(key)
            else:
                lake.put(key, body)
        saved.clear()

    files = staging_files(lake)
    a, b = files[0], next(k for k in files if day_of(k) != day_of(files[0]))

    def delete_staging_row():
        keep(a)
        t = lake.table(a)
        lake.put_table(a, t.slice(1))
        return day_of(a), ["staging vs fct_trips", "(-1)", "raw vs staging + quarantine", "(+1)"]

    def duplicate_staging_row():
        keep(a)
        t = lake.table(a)
        lake.put_table(a, pa.concat_tables([t, t.slice(0, 1)]))
        return day_of(a), ["staging vs fct_trips", "(+1)", "fingerprint differs"]

    def move_staging_row():
        keep(a)
        t = lake.table(a)
        lake.put_table(a, t.slice(1))
        moved = b.rsplit("/", 1)[0] + "/part-damage-moved.parquet"
        saved[moved] = None
        lake.put_table(moved, t.slice(0, 1))
        return day_of(b), [day_of(a), "staging vs fct_trips", "(+1)", "(-1)"]

    def lost_row_offset_by_duplicate():
        # one row lost, another of the same day and the same total_amount duplicated: the month's and the
        # day's rows and money stay equal; only the fingerprint tells
        for key in files:
            t = lake.table(key)
            totals = t["total_amount"].to_pylist()
            pair = next(
                (
                    (i, j)
                    for i in range(len(totals))
                    for j in range(i + 1, len(totals))
                    if totals[i] == totals[j]
                ),
                None,
            )
            if pair is None:
                continue
            i, j = pair
            # the duplicated row must differ from the lost one somewhere in the fingerprinted fields
            if t.slice(i, 1).to_pylist() == t.slice(j, 1).to_pylist():
                continue
            keep(key)
            keepers = pa.concat_tables([t.slice(0, i), t.slice(i + 1), t.slice(j, 1)])
            lake.put_table(key, keepers)
            assert keepers.num_rows == t.num_rows
            assert pc.sum(keepers["total_amount"]).as_py() == pc.sum(t["total_amount"]).as_py()
            return day_of(key), ["staging vs fct_trips", "fingerprint differs"]
        pytest.fail("no staging file has two rows with equal total_amount")

    def curated_drop_row():
        key = next(
            k for k in lake.keys(paths.curated_prefix("daily_summary")) if f"pickup_month={MONTH}" in k
        )
        keep(key)
        t = lake.table(key)
        dropped = t.slice(0, 1)
        lake.put_table(key, t.slice(1))
        day = str(dropped["pickup_date"][0].as_py())
        trips = dropped["trip_count"][0].as_py()
        return day, ["curated daily_summary vs warehouse daily_summary", "rows 0 vs 1 (+1)", f"(+{trips})"]

    def sql(statement: str, params: tuple) -> str:
        """One row changed (by the superuser: damage no product role may do); its new ctid."""
        with psycopg.connect(s.warehouse_admin_dsn) as conn:
            got = conn.execute(statement + " RETURNING ctid::text", params).fetchall()
            assert len(got) == 1, (statement, got)
            return got[0][0]

    with psycopg.connect(s.warehouse_admin_dsn) as conn:
        fct_day = str(
            conn.execute(
                "SELECT min(pickup_date) FROM taxi.fct_trips WHERE pickup_date >= %s::date AND pickup_date < %s::date",
                (f"{MONTH}-10", f"{MONTH}-20"),
            ).fetchone()[0]
        )
        ctid = [
            conn.execute(
                "SELECT ctid::text FROM taxi.fct_trips WHERE pickup_date = %s::date LIMIT 1", (fct_day,)
            ).fetchone()[0]
        ]

    def alter_fct_amount():
        ctid[0] = sql(
            "UPDATE taxi.fct_trips SET total_amount = total_amount + 1.25 WHERE ctid = %s::tid", (ctid[0],)
        )
        return fct_day, ["staging vs fct_trips", "total", "(+1.25)", "fingerprint differs"]

    def undo_fct_amount():
        ctid[0] = sql(
            "UPDATE taxi.fct_trips SET total_amount = total_amount - 1.25 WHERE ctid = %s::tid", (ctid[0],)
        )

    def damage_preaggregate():
        sql(
            "UPDATE taxi.agg_trips_daily SET trip_count = trip_count + 1 WHERE pickup_date = %s::date",
            (fct_day,),
        )
        return fct_day, ["preaggregates_match_fct_trips", "agg_trips_daily", "measure=trips"]

    def undo_preaggregate():
        sql(
            "UPDATE taxi.agg_trips_daily SET trip_count = trip_count - 1 WHERE pickup_date = %s::date",
            (fct_day,),
        )

    fee_before: list = []

    def damage_fee_preaggregate():
        # a cent of congestion fee on the day (2021: no trip records one, the day's sum is NULL)
        with psycopg.connect(s.warehouse_admin_dsn) as conn:
            fee_before[:] = conn.execute(
                "SELECT total_fee FROM taxi.agg_cbd_fee_daily WHERE pickup_date = %s::date", (fct_day,)
            ).fetchone()
        sql(
            "UPDATE taxi.agg_cbd_fee_daily SET total_fee = COALESCE(total_fee, 0) + 0.01 WHERE pickup_date = %s::date",
            (fct_day,),
        )
        return fct_day, ["preaggregates_match_fct_trips", "agg_cbd_fee_daily", "measure=fee_cents"]

    def undo_fee_preaggregate():
        sql(
            "UPDATE taxi.agg_cbd_fee_daily SET total_fee = %s WHERE pickup_date = %s::date",
            (fee_before[0], fct_day),
        )

    raw_prefix = paths.raw_month_prefix(s.dataset, MONTH)
    raw_file = next(k for k in lake.keys(raw_prefix))

    def stray_raw_upper():
        key = raw_prefix + "extra.PARQUET"
        saved[key] = None
        lake.put(key, lake.get(raw_file))
        return MONTH, [key, "not read by the etl", "does not end in '.parquet'"]

    def stray_raw_nested():
        key = raw_prefix + "late/yellow_tripdata_2021-03-15.parquet"
        saved[key] = None
        lake.put(key, lake.get(raw_file))
        return MONTH, [key, "not read by the etl", "nested folder"]

    damages = [
        Damage("staging", "delete a staging row", delete_staging_row, restore),
        Damage("staging", "duplicate a staging row", duplicate_staging_row, restore),
        Damage("staging", "move a staging row to another day", move_staging_row, restore),
        Damage(
            "staging",
            "lose a row offset by a duplicate (month totals equal)",
            lost_row_offset_by_duplicate,
            restore,
        ),
        Damage("warehouse fct_trips", "alter an amount in fct_trips", alter_fct_amount, undo_fct_amount),
        Damage("curated", "drop a curated row", curated_drop_row, restore),
        Damage("warehouse pre-aggregates", "damage a pre-aggregate", damage_preaggregate, undo_preaggregate),
        Damage(
            "warehouse pre-aggregates",
            "add a cent to a day's congestion fee pre-aggregate",
            damage_fee_preaggregate,
            undo_fee_preaggregate,
        ),
        Damage("raw", "leave a stray x.PARQUET in raw", stray_raw_upper, restore),
        Damage("raw", "leave a stray file in a nested raw folder", stray_raw_nested, restore),
    ]
    missed = []
    for d in damages:
        day, fragments = d.apply()
        try:
            rc, out = validate(s)
        finally:
            d.undo()
        # one entry per failing check, whatever the console's line wrapping did to it
        failing = [
            c for c in re.split(r"(?=\bok |\bMISMATCH )", " ".join(out.split())) if c.startswith("MISMATCH")
        ]
        named = all(any(f in ln for ln in failing) for f in fragments) and any(day in ln for ln in failing)
        caught = rc == 1 and named
        record_property(
            "robustness", {"kind": "damage", "layer": d.layer, "damage": d.name, "caught": caught}
        )
        if not caught:
            missed.append((d.name, rc, day, fragments, failing[:10] or out[-2000:]))
        rc_after, out_after = validate(s)
        assert rc_after == 0, (d.name, "still failing after undo", out_after[-3000:])
    assert not missed, missed


def test_a_stray_raw_file_fails_the_pipelines_validate_stage(loaded, spark):
    s = loaded
    lake = Lake(s)
    prefix = paths.raw_month_prefix(s.dataset, MONTH)
    key = prefix + "yellow_tripdata_2021-03-02.PARQUET"  # a nested folder would already stop the crawler
    lake.put(key, lake.get(lake.keys(prefix)[0]))
    try:
        p = Pipeline(PipelineOptions(MONTH, "synthetic", ROWS, 11, progress=False), settings=s)
        with pytest.raises(Exception, match="(?i)reconciliation"):
            p.run()
        rep = p.report
        assert rep.status == "failed"
        assert rep.get("validate").status == "failed"
        assert [c.name for c in rep.checks if not c.ok] == [
            f"raw {MONTH} {key}: not read by the etl: its name does not end in '.parquet' (case-sensitive): "
            "the etl reads only such files"
        ]
    finally:
        lake.delete(key)
    rc, out = validate(s)
    assert rc == 0, out


def test_a_month_with_nothing_loaded_fails_validate(loaded):
    # 2021-04: never ingested nor loaded by any test; validate must not call it consistent
    env_month = "2021-04"
    from taxilab.validation.reconcile import reconcile

    bad = [c.name for c in reconcile(loaded, env_month) if not c.ok]
    assert any("no data object" in n for n in bad), bad
    assert any("fct_trips_integrity" in n and "month_has_trips" in n for n in bad), bad
