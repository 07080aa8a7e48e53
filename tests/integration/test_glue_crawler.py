"""The lab's crawler against the Glue API of the moto server, on tiny Parquet files written to S3."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from emulation.glue import crawler
from spark_jobs.io.catalog import CatalogTableError, read_table
from taxilab import catalog
from taxilab.core.clients import arrow_s3_filesystem, client
from tests.integration.glue_tables import table_versions


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
    assert (
        sd["SerdeInfo"]["SerializationLibrary"]
        == "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"
    )
    assert sd["InputFormat"].endswith("MapredParquetInputFormat")
    assert sd["OutputFormat"].endswith("MapredParquetOutputFormat")
    assert sd["Location"] == f"s3://{glue_lab.bucket}/staging/nyc_taxi/"
    assert t["Parameters"]["classification"] == "parquet"
    assert [(c["Name"], c["Type"]) for c in sd["Columns"]] == [
        ("VendorID", "int"),
        ("total_amount", "double"),
    ]
    assert [(k["Name"], k["Type"]) for k in t["PartitionKeys"]] == [
        ("pickup_date", "date"),
        ("time_of_day_category", "string"),
    ]
    parts = glue.get_partitions(DatabaseName=glue_lab.catalog_databases["staging"], TableName="nyc_taxi")[
        "Partitions"
    ]
    locs = sorted(p["StorageDescriptor"]["Location"] for p in parts)
    assert (
        locs[0] == f"s3://{glue_lab.bucket}/staging/nyc_taxi/pickup_date=2023-01-01/time_of_day_category=am/"
    )


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
    put(
        glue_lab, staging_key("2023-01-02"), trips(extra={"cbd_congestion_fee": pa.array([0.75, None, 0.75])})
    )
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
    with pytest.raises(crawler.SchemaConflictError) as e:
        crawler.crawl(glue_lab, zones=("staging",), policy=crawler.SchemaChangePolicy("UPDATE_IN_DATABASE"))
    msg = str(e.value)
    assert "nyc_taxi" in msg and "'VendorID'" in msg and "from int to string" in msg
    assert "pickup_date=2023-01-02/time_of_day_category=am" in msg and "UPDATE_IN_DATABASE" in msg
    assert [(c.column, c.table_type, c.found_type) for c in e.value.conflicts] == [
        ("VendorID", "int", "string")
    ]
    after = catalog.describe(glue_lab)[1].tables[0]
    assert (after.columns, after.versions) == (before.columns, before.versions)
    # the new partition is registered all the same (Glue adds partitions whatever the policy), with its own schema
    assert after.partitions == before.partitions + 1
    assert partition_columns(glue_lab, "staging", ["2023-01-02", "am"]) == [
        ("VendorID", "string"),
        ("total_amount", "double"),
    ]


def partition_columns(settings, zone: str, values: list[str]) -> list[tuple[str, str]]:
    p = client("glue", settings).get_partition(
        DatabaseName=settings.catalog_databases[zone], TableName="nyc_taxi", PartitionValues=values
    )["Partition"]
    return [(c["Name"], c["Type"]) for c in p["StorageDescriptor"]["Columns"]]


def raw_key(month: str) -> str:
    y, m = month.split("-")
    return f"raw/dataset=nyc_taxi/year={y}/month={m}/yellow_tripdata_{month}.parquet"


def era_file(era: str) -> pa.Table:
    import io
    from datetime import datetime

    from tests.integration.tlcfiles import trip, write_era

    buf = io.BytesIO()
    write_era(buf, era, [trip(datetime(2024, 2, 1, 9))])
    return pq.read_table(io.BytesIO(buf.getvalue()))


def test_a_2018_month_beside_2024_widens_the_raw_table_with_a_new_version(glue_lab):
    """Issue 11: a 2018-01 month (int64 VendorID, double passenger_count) after 2024-02 (int32, int64) used to
    fail the crawl with 'changed type from int to bigint'."""
    put(glue_lab, raw_key("2024-02"), era_file("2024"))
    crawler.crawl(glue_lab, zones=("raw",))
    put(glue_lab, raw_key("2018-01"), era_file("2018"))
    [res] = crawler.crawl(glue_lab, zones=("raw",))
    assert res.action == "updated" and not res.conflicts
    assert set(res.widened) >= {
        "VendorID int -> bigint",
        "passenger_count bigint -> double",
        "RatecodeID bigint -> double",
        "PULocationID int -> bigint",
    }
    v1, v2 = table_versions(glue_lab, "raw")
    assert (v1["vendorid"], v1["passenger_count"]) == ("int", "bigint")
    assert (v2["vendorid"], v2["passenger_count"], v2["pulocationid"]) == ("bigint", "double", "bigint")
    # each partition keeps the schema of its own files; the null-typed 2018 congestion_surcharge is void there
    old = dict(partition_columns(glue_lab, "raw", ["2018", "01"]))
    new = dict(partition_columns(glue_lab, "raw", ["2024", "02"]))
    assert (old["VendorID"], old["passenger_count"], old["congestion_surcharge"]) == (
        "bigint",
        "double",
        "void",
    )
    assert (new["VendorID"], new["passenger_count"], new["Airport_fee"]) == ("int", "bigint", "double")
    # nothing changed: no new version
    [again] = crawler.crawl(glue_lab, zones=("raw",))
    assert again.action == "unchanged" and len(table_versions(glue_lab, "raw")) == 2


def test_void_column_stays_out_of_the_table_until_a_partition_types_it(glue_lab):
    put(glue_lab, raw_key("2019-06"), era_file("2019"))
    crawler.crawl(glue_lab, zones=("raw",))
    [v1] = table_versions(glue_lab, "raw")
    assert "airport_fee" not in v1
    assert dict(partition_columns(glue_lab, "raw", ["2019", "06"]))["airport_fee"] == "void"
    put(glue_lab, raw_key("2022-06"), era_file("2022"))
    [res] = crawler.crawl(glue_lab, zones=("raw",))
    assert (res.action, res.new_columns) == ("updated", ["airport_fee"])
    assert table_versions(glue_lab, "raw")[-1]["airport_fee"] == "double"


def test_log_policy_keeps_the_table_reports_conflicts_and_partitions_keep_their_schema(glue_lab):
    put(glue_lab, staging_key("2023-01-01"), trips(extra={"note": pa.array(["a", "b", "c"])}))
    crawler.crawl(glue_lab, zones=("staging",))
    put(
        glue_lab,
        staging_key("2023-01-02"),
        trips(extra={"note": pa.array([1, 2, 3], pa.int64()), "VendorID": pa.array([1, 2, 3], pa.int64())}),
    )
    log_policy = crawler.SchemaChangePolicy("LOG", "LOG")
    [res] = crawler.crawl(glue_lab, zones=("staging",), policy=log_policy)
    assert [str(c) for c in res.conflicts] == [
        f"{glue_lab.catalog_databases['staging']}.nyc_taxi: column 'note' changed type from string to bigint in "
        "pickup_date=2023-01-02/time_of_day_category=am"
    ]
    assert res.held_back and res.widened == ["VendorID int -> bigint"]  # LOG: logged, not applied
    [v1] = table_versions(glue_lab, "staging")
    assert (v1["vendorid"], v1["note"]) == ("int", "string")
    assert partition_columns(glue_lab, "staging", ["2023-01-02", "am"])[-1] == ("note", "bigint")
    # DeleteBehavior LOG: a vanished partition is kept and reported
    client("s3", glue_lab).delete_object(Bucket=glue_lab.bucket, Key=staging_key("2023-01-01"))
    [res] = crawler.crawl(glue_lab, zones=("staging",), policy=log_policy)
    assert res.partitions_kept == ["pickup_date=2023-01-01/time_of_day_category=am"]
    assert catalog.describe(glue_lab)[1].tables[0].partitions == 2
    # the fixed file replaces the bad one: its partition follows its files again, no conflict is left
    put(glue_lab, staging_key("2023-01-02"), trips(extra={"note": pa.array(["x", "y", "z"])}))
    [res] = crawler.crawl(glue_lab, zones=("staging",))
    assert not res.conflicts and res.partitions_updated == 1 and res.partitions_removed == 1
    assert partition_columns(glue_lab, "staging", ["2023-01-02", "am"])[-1] == ("note", "string")


def test_all_zones_cataloged_into_their_databases(glue_lab):
    put(glue_lab, "raw/dataset=nyc_taxi/year=2023/month=01/yellow_tripdata_2023-01.parquet", trips())
    put(glue_lab, staging_key("2023-01-01"), trips())
    put(glue_lab, "quarantine/nyc_taxi/year=2023/month=1/part-0.parquet", trips())
    put(glue_lab, "curated/daily_summary/pickup_month=2023-01/part-0.parquet", trips())
    put(glue_lab, "curated/hourly_zone/pickup_month=2023-01/part-0.parquet", trips())
    crawler.crawl(glue_lab)
    got = {
        d.name: sorted((t.name, t.partitions, tuple(k for k, _ in t.partition_keys)) for t in d.tables)
        for d in catalog.describe(glue_lab)
    }
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
