"""Schema drift across TLC eras (docs/ERAS.md): files in each era's exact physical schema go through the
real pipeline together, and the 2009-2010 layout is refused at ingest naming the era and why."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

import pyarrow.parquet as pq
import pytest

from spark_jobs.io import paths
from spark_jobs.schemas import tlc
from taxilab.core import clients as aws
from taxilab.orchestration.pipeline import Pipeline, PipelineOptions, StageError
from taxilab.validation import lakestats
from tests.integration.tlcfiles import schema_2011_2023, schema_2025, trip, write_era

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]

MONTH = "2024-11"
ERA_FILES = ("2019", "2022", "2024", "2025")  # 2024 is the one the pipeline lands; the others ride along


def test_each_supported_era_schema_passes_the_ingest_check_and_is_named():
    from tests.integration.tlcfiles import arrow_schema_2024

    assert tlc.check_source_schema(schema_2011_2023(airport_fee_null_typed=True), 1) == []
    assert tlc.detect_era(schema_2011_2023(True).names).name == "2011-2023-01"
    assert tlc.detect_era(arrow_schema_2024().names).name == "2023-02-2024"
    assert tlc.detect_era(schema_2025().names).name == "2025-"
    assert tlc.era_of_month("2009-05").supported is False
    assert [tlc.era_of_month(m).name for m in ("2011-01", "2023-01", "2023-02", "2025-01")] == [
        "2011-2023-01",
        "2011-2023-01",
        "2023-02-2024",
        "2025-",
    ]


def _rows(era: str, day: int, extra_rows=()):
    base = datetime(2024, 11, day, 9)
    return [trip(base + timedelta(minutes=7 * i), total_amount=20.0 + i) for i in range(3)] + list(extra_rows)


@pytest.fixture(scope="module")
def mixed_era_run(lab_settings, spark, tmp_path_factory):
    d = tmp_path_factory.mktemp("eras")
    s3 = aws.client("s3", lab_settings)
    from taxilab.ingest import raw

    raw.ensure_bucket(lab_settings)
    prefix = paths.raw_month_prefix(lab_settings.dataset, MONTH)
    extras = {
        # 2019: null-typed airport_fee, ns timestamps, a fractional double passenger_count
        "2019": [trip(datetime(2024, 11, 2, 10), passenger_count=1.5)],
        # 2022: an int64 VendorID beyond int range
        "2022": [trip(datetime(2024, 11, 3, 10), VendorID=2**40)],
        "2024": [],
        "2025": [],
    }
    files = {}
    for i, era in enumerate(ERA_FILES, start=1):
        files[era] = write_era(d / f"yellow_{era}_layout.parquet", era, _rows(era, i, extras[era]))
        if era != "2024":  # a second/third/fourth raw file of a different era in the same month prefix
            s3.upload_file(
                str(files[era]), lab_settings.bucket, prefix + f"yellow_tripdata_{MONTH}_era{era}.parquet"
            )
    rep = Pipeline(
        PipelineOptions(MONTH, str(files["2024"]), 0, 1, progress=False), settings=lab_settings
    ).run()
    return files, rep


def test_files_of_four_eras_in_one_month_prefix_are_conformed_in_one_run(
    mixed_era_run, lab_settings, record_property
):
    files, rep = mixed_era_run
    assert rep.status == "succeeded", rep
    assert all(c.ok for c in rep.checks), [c for c in rep.checks if not c.ok]
    etl = rep.get("etl")
    assert len(etl.detail["files"]) == 4
    assert etl.rows_in == 14 and etl.rows_out == 12 and etl.quarantined == 2
    assert etl.quarantined_by_reason == {"INVALID_PASSENGER_COUNT": 1, "INVALID_VENDOR": 1}
    sd, flt = lakestats.staging_dataset(lab_settings, MONTH)
    t = sd.to_table(filter=flt).to_pylist()
    by_era = {}
    for r in t:
        era = next((e for e in ERA_FILES if f"_era{e}." in r["source_file"]), "2024")
        by_era.setdefault(era, []).append(r)
    assert {e: len(v) for e, v in by_era.items()} == {e: 3 for e in ERA_FILES}
    for era, rows in by_era.items():
        day = ERA_FILES.index(era) + 1
        # timestamps (ns in 2019/2022 files) arrive as the same wall clock, to the microsecond
        assert sorted(r["pickup_datetime"] for r in rows) == [
            datetime(2024, 11, day, 9) + timedelta(minutes=7 * i) for i in range(3)
        ]
        assert {r["vendor_id"] for r in rows} == {2} and {r["passenger_count"] for r in rows} == {1}
        assert sorted(r["total_amount"] for r in rows) == [
            Decimal("20.00"),
            Decimal("21.00"),
            Decimal("22.00"),
        ]
        assert {r["airport_fee"] for r in rows} == ({None} if era == "2019" else {Decimal("0.00")})
        assert {r["cbd_congestion_fee"] for r in rows} == ({Decimal("0.75")} if era == "2025" else {None})
    record_property(
        "robustness", {"kind": "input", "case": "four eras in one month prefix", "outcome": "accepted"}
    )


def test_2009_2010_layout_is_refused_at_ingest_naming_the_era_and_why(lab_settings, tmp_path):
    import pyarrow as pa

    path = tmp_path / "yellow_tripdata_2009-01.parquet"
    pq.write_table(
        pa.table(
            {
                "vendor_name": ["VTS"],
                "Trip_Pickup_DateTime": ["2009-01-04 02:52:00"],
                "Start_Lon": [-73.99],
                "Start_Lat": [40.72],
                "Fare_Amt": [8.9],
            }
        ),
        path,
    )
    with pytest.raises(StageError) as err:
        Pipeline(PipelineOptions("2009-01", str(path), 0, 1, progress=False), settings=lab_settings).run()
    msg = str(err.value)
    assert err.value.stage == "ingest" and str(path) in msg
    assert "2009-2010" in msg and "latitude/longitude" in msg and "PULocationID" in msg
    s3 = aws.client("s3", lab_settings)
    listed = s3.list_objects_v2(
        Bucket=lab_settings.bucket, Prefix=paths.raw_month_prefix(lab_settings.dataset, "2009-01")
    )
    assert listed.get("KeyCount", 0) == 0
