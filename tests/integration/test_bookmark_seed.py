"""A whole-month pipeline run seeds the etl job's Glue bookmark: a bookmarked run afterwards (workflow,
daily drops) finds nothing new for that month instead of appending its rows a second time."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from emulation.glue import bookmarks
from spark_jobs.io import paths
from taxilab.orchestration.pipeline import ETL_JOB_NAME as ETL_JOB
from taxilab.orchestration.pipeline import Pipeline, PipelineOptions
from taxilab.validation import lakestats
from tests.integration.tlcfiles import trip, write_2024

pytestmark = pytest.mark.integration

MONTH = "2024-10"


def test_a_full_pipeline_run_commits_its_raw_objects_to_the_etl_bookmark(lab_settings, spark, tmp_path):
    s = lab_settings.model_copy(update={"bucket": "taxilab-it-seed"})  # bookmark keys carry the bucket
    start = datetime(2024, 10, 1, 6, 0)
    src = write_2024(
        tmp_path / f"yellow_{MONTH}.parquet", [trip(start + timedelta(hours=7 * i)) for i in range(40)]
    )
    rep = Pipeline(PipelineOptions(MONTH, str(src), 0, 1, progress=False), settings=s).run()
    assert rep.status == "succeeded"
    objects = bookmarks.list_objects(s, paths.raw_month_prefix(s.dataset, MONTH))
    assert len(objects) == 1
    assert rep.get("etl").detail["bookmark_seeded"] == 1
    # What a bookmarked etl run of the month would process now: nothing.
    assert bookmarks.pending(s, ETL_JOB, "raw_source", objects, bookmarks.ENABLE) == []
    staged = lakestats.staging_stats(s, MONTH).rows
    assert staged > 0
    # New bytes for the same key are a new ETag: the bookmark hands that object over again.
    write_2024(
        tmp_path / f"yellow_{MONTH}.parquet", [trip(start + timedelta(hours=5 * i)) for i in range(30)]
    )
    rep2 = Pipeline(PipelineOptions(MONTH, str(src), 0, 1, progress=False), settings=s).run()
    objects2 = bookmarks.list_objects(s, paths.raw_month_prefix(s.dataset, MONTH))
    assert rep2.status == "succeeded" and objects2[0].etag != objects[0].etag
    assert bookmarks.pending(s, ETL_JOB, "raw_source", objects2, bookmarks.ENABLE) == []
