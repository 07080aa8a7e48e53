"""The lab's crawler against the Glue API of the moto server, on tiny Parquet files written to S3."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from emulation.glue import crawler
from spark_jobs.io.catalog import CatalogTableError, read_table
from taxilab import catalog
from taxilab.core.clients import arrow_s3_filesystem, client


@pytest.fixture()
def glue_lab(fresh_lake):
    """Settings with a fresh bucket and fresh catalog databases: each test starts from an empty lake."""
    return fresh_lake("taxilab-glue", "it")


def put(settings, key: str, table: pa.Table) -> None:
    pq.write_table(table, f"{settings.bucket}/{key}", filesystem=arrow_s3_filesystem(settings))


def trips(n: int = 3, extra: dict | None = None) -> pa.Table:
    cols = {"VendorID": pa.array([1] * n, pa.int32()), "total_amount": pa.array([1.5] * n, pa.float64())}
    cols.update(extra or {})
    return pa.table(cols)


def staging_key(day: str, tod: str = "am") -> str:
    return f"staging/nyc_taxi/pickup_date={day}/time_of_day_category={tod}/part-0.parquet"


def test_crawl_creates_table_as_glue_crawler_writes_it(glue_lab):
    put(glue_lab, staging_key("2023-01-01"), trips())
    put(glue_lab, staging_key("2023-01-02", "pm"), trips())
    put(glue_lab, "staging/nyc_taxi/_SUCCESS.parquet", trips())  # hidden: must be ignored
    [res] = crawler.crawl(glue_lab, zones=("staging",))
    assert (res.action, res.partitions_added) == ("created", 2)
    glue = client("glue", glue_lab)
    t = glue.get_table(DatabaseName=glue_lab.catalog_databases["staging"], Name="nyc_taxi")["Table"]
    sd = t["StorageDescriptor"]
    assert sd["SerdeInfo"]["SerializationLibrary"] == "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"
    assert sd["InputFormat"].endswith("MapredParquetInputFormat")
    assert sd["OutputFormat"].endswith("MapredParquetOutputFormat")
    assert sd["Location"] == f"s3://{glue_lab.bucket}/staging/nyc_taxi/"
    assert t["Parameters"]["classification"] == "parquet"
    assert [(c["Name"], c["Type"]) for c in sd["Columns"]] == [("VendorID", "int"), ("total_amount", "double")]
    assert [(k["Name"], k["Type"]) for k in t["PartitionKeys"]] == [("pickup_date", "date"),
                                                                   ("time_of_day_category", "string")]
    parts = glue.get_partitions(DatabaseName=glue_lab.catalog_databases["staging"], TableName="nyc_taxi")["Partitions"]
    locs = sorted(p["StorageDescriptor"]["Location"] for p in parts)
    assert locs[0] == f"s3://{glue_lab.bucket}/staging/nyc_taxi/pickup_date=2023-01-01/time_of_day_category=am/"


def test_rerun_registers_only_new_partitions_in_batches_and_drops_vanished_ones(glue_lab):
    days = [f"2023-{m:02d}-{d:02d}" for m in (1, 2, 3, 4, 5) for d in range(1, 28)][:120]
    for d in days[:110]:
        put(glue_lab, staging_key(d), trips(1))
    [first] = crawler.crawl(glue_lab, zones=("staging",))
    assert first.partitions_added == 110  # > 100: two batch_create_partition calls
    for d in days[110:]:
        put(glue_lab, staging_key(d), trips(1))
    client("s3", glue_lab).delete_object(Bucket=glue_lab.bucket, Key=staging_key(days[0]))
    [second] = crawler.crawl(glue_lab, zones=("staging",))
    assert (second.action, second.partitions_added, second.partitions_removed) == ("partitions", 10, 1)
    [third] = crawler.crawl(glue_lab, zones=("staging",))
    assert (third.action, third.partitions_added, third.partitions_removed) == ("unchanged", 0, 0)
    db = catalog.describe(glue_lab)
    [t] = [t for d in db for t in d.tables]
    assert t.partitions == 119


def test_new_nullable_column_updates_table_with_a_new_version(glue_lab):
    put(glue_lab, staging_key("2023-01-01"), trips())
    crawler.crawl(glue_lab, zones=("staging",))
    put(glue_lab, staging_key("2023-01-02"), trips(extra={"cbd_congestion_fee": pa.array([0.75, None, 0.75])}))
    [res] = crawler.crawl(glue_lab, zones=("staging",))
    assert (res.action, res.new_columns) == ("updated", ["cbd_congestion_fee"])
    [t] = catalog.describe(glue_lab)[1].tables
    assert t.columns[-1] == ("cbd_congestion_fee", "double")
    assert t.versions >= 2


def test_type_change_fails_naming_table_column_and_types_and_leaves_table_untouched(glue_lab):
    put(glue_lab, staging_key("2023-01-01"), trips())
    crawler.crawl(glue_lab, zones=("staging",))
    before = catalog.describe(glue_lab)[1].tables[0]
    put(glue_lab, staging_key("2023-01-02"), pa.table({"VendorID": pa.array(["x"]), "total_amount": [1.0]}))
    with pytest.raises(crawler.CrawlError) as e:
        crawler.crawl(glue_lab, zones=("staging",))
    msg = str(e.value)
    assert "nyc_taxi" in msg and "'VendorID'" in msg and "from int to string" in msg
    after = catalog.describe(glue_lab)[1].tables[0]
    assert (after.columns, after.partitions, after.versions) == (before.columns, before.partitions, before.versions)


def test_all_zones_cataloged_into_their_databases(glue_lab):
    put(glue_lab, "raw/dataset=nyc_taxi/year=2023/month=01/yellow_tripdata_2023-01.parquet", trips())
    put(glue_lab, staging_key("2023-01-01"), trips())
    put(glue_lab, "quarantine/nyc_taxi/year=2023/month=1/part-0.parquet", trips())
    put(glue_lab, "curated/daily_summary/pickup_month=2023-01/part-0.parquet", trips())
    put(glue_lab, "curated/hourly_zone/pickup_month=2023-01/part-0.parquet", trips())
    crawler.crawl(glue_lab)
    got = {d.name: sorted((t.name, t.partitions, tuple(k for k, _ in t.partition_keys)) for t in d.tables)
           for d in catalog.describe(glue_lab)}
    dbs = glue_lab.catalog_databases
    assert got == {
        dbs["raw"]: [("nyc_taxi", 1, ("year", "month"))],
        dbs["staging"]: [("nyc_taxi", 1, ("pickup_date", "time_of_day_category"))],
        dbs["quarantine"]: [("nyc_taxi", 1, ("year", "month"))],
        dbs["curated"]: [("daily_summary", 1, ("pickup_month",)), ("hourly_zone", 1, ("pickup_month",))],
    }


def test_read_table_prunes_partitions_through_the_catalog(glue_lab, spark):
    put(glue_lab, "raw/dataset=nyc_taxi/year=2023/month=01/a.parquet", trips(2))
    put(glue_lab, "raw/dataset=nyc_taxi/year=2023/month=02/a.parquet", trips(5))
    crawler.crawl(glue_lab, zones=("raw",))
    glue, db = client("glue", glue_lab), glue_lab.catalog_databases["raw"]
    feb = read_table(spark, glue, db, "nyc_taxi", "year = 2023 and month = 2")
    assert feb.count() == 5
    assert {r["month"] for r in feb.select("month").distinct().collect()} == {2}
    assert read_table(spark, glue, db, "nyc_taxi").count() == 7
    none = read_table(spark, glue, db, "nyc_taxi", "month = 12")
    assert none.count() == 0 and "total_amount" in none.columns
    with pytest.raises(CatalogTableError, match="not in the Glue catalog"):
        read_table(spark, glue, db, "no_such_table")
