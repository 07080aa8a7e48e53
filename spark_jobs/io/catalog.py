"""Read a table through the Glue Data Catalog, as a Glue job does with
glueContext.create_dynamic_frame.from_catalog(database=..., table_name=..., push_down_predicate=...).
Why: docs/adr/0017-crawler-schema-change-policy-and-eras.md.
"""

from __future__ import annotations

from pyspark.sql import DataFrame, SparkSession


class CatalogTableError(LookupError):
    """The table is not in the catalog, or the predicate is not one Glue accepts."""


def resolve(
    glue, database: str, table: str, push_down_predicate: str | None = None
) -> tuple[dict, list[dict]]:
    """(table, matching partitions) from the catalog; the predicate is evaluated by GetPartitions."""
    try:
        t = glue.get_table(DatabaseName=database, Name=table)["Table"]
    except glue.exceptions.EntityNotFoundException:
        raise CatalogTableError(
            f"table {database}.{table} is not in the Glue catalog: run the crawler "
            "(`taxilab glue crawl`) first"
        ) from None
    kwargs = {"DatabaseName": database, "TableName": table}
    if push_down_predicate:
        kwargs["Expression"] = push_down_predicate
    parts = []
    try:
        for page in glue.get_paginator("get_partitions").paginate(**kwargs):
            parts.extend(page["Partitions"])
    except glue.exceptions.InvalidInputException as e:
        raise CatalogTableError(
            f"push_down_predicate {push_down_predicate!r} on {database}.{table} rejected by "
            f"the catalog: {e.response['Error'].get('Message')}"
        ) from None
    return t, parts


def _ddl(columns: list[dict]) -> str:
    return ", ".join(f"`{c['Name']}` {c['Type']}" for c in columns)


def read_table(
    spark: SparkSession, glue, database: str, table: str, push_down_predicate: str | None = None
) -> DataFrame:
    """The table's rows (partition columns included, typed as the catalog says) from only the partitions
    the predicate selects; an empty selection gives an empty DataFrame with the table's schema."""
    t, parts = resolve(glue, database, table, push_down_predicate)
    sd = t["StorageDescriptor"]
    pkeys = t.get("PartitionKeys", [])
    schema = _ddl(sd["Columns"] + pkeys)
    if not pkeys:
        return spark.read.schema(schema).parquet(sd["Location"])
    if not parts:
        return spark.createDataFrame([], schema)
    # basePath keeps the key=value folders as columns; the catalog's schema fixes their types (Spark's
    # own inference would read month=02 as int but pickup_month=2024-02 as string, as the catalog does).
    locations = [p["StorageDescriptor"]["Location"] for p in parts]
    return spark.read.schema(schema).option("basePath", sd["Location"]).parquet(*locations)
