"""The Spark jobs' one IO layer: every read and write of the lake goes through here.
Why: docs/adr/0004-s3a-staging-committers.md.
"""

from __future__ import annotations

from pyspark.sql import DataFrame, SparkSession

from spark_jobs.io import paths


class MissingInputError(FileNotFoundError):
    """A job's input is not in the lake."""


def _hadoop_fs(spark: SparkSession, url: str):
    """(Hadoop FileSystem, Path) for a URL: the same S3A client Spark reads and writes with."""
    jvm = spark.sparkContext._jvm
    assert jvm is not None, "the SparkContext has no JVM gateway"
    path = jvm.org.apache.hadoop.fs.Path(url)
    return path.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration()), path


def list_files(spark: SparkSession, url: str, suffix: str = ".parquet") -> list[str]:
    """Data files directly under a prefix (hidden `_`/`.` files skipped, as Spark does), sorted."""
    fs, path = _hadoop_fs(spark, url)
    if not fs.exists(path):
        return []
    out = []
    for status in fs.listStatus(path):
        name = status.getPath().getName()
        if status.isFile() and name.endswith(suffix) and not name.startswith(("_", ".")):
            out.append(url.rstrip("/") + "/" + name)
    return sorted(out)


def read_parquet(spark: SparkSession, url: str) -> DataFrame:
    return spark.read.parquet(url)


def read_zone_lookup(spark: SparkSession, url: str) -> DataFrame:
    # 'N/A' is a real borough/zone value in the lookup: read as text, no schema inference.
    return spark.read.option("header", "true").csv(url)


def _s3a_committers(spark: SparkSession) -> bool:
    """True when the session commits through the S3A committers (the lab's local Spark); on Glue the
    standard protocol with dynamic partition overwrite is used."""
    return "PathOutputCommitProtocol" in (spark.conf.get("spark.sql.sources.commitProtocolClass", "") or "")


def write_partitioned(
    df: DataFrame, url: str, partition_cols: list[str], files_per_partition: int = 1
) -> None:
    """Replace the partitions present in df (and only those) under url."""
    if files_per_partition == 1:
        df = df.repartition(*partition_cols)
    writer = df.write.partitionBy(*partition_cols)
    if _s3a_committers(df.sparkSession):
        # The partitioned committer with conflict-mode replace = dynamic partition overwrite.
        writer = (
            writer.mode("append")
            .option("fs.s3a.committer.name", "partitioned")
            .option("fs.s3a.committer.staging.conflict-mode", "replace")
        )
    else:
        writer = writer.mode("overwrite").option("partitionOverwriteMode", "dynamic")
    writer.parquet(url)


def replace_path(df: DataFrame, url: str, rows: int) -> None:
    """Replace everything under url (a month-owned prefix such as curated/<t>/pickup_month=M/) with df,
    whose row count the caller already knows; no rows means the prefix is emptied."""
    if rows == 0:
        delete_path(df.sparkSession, url)
        return
    writer = df.write
    if _s3a_committers(df.sparkSession):
        writer = (
            writer.mode("append")
            .option("fs.s3a.committer.name", "directory")
            .option("fs.s3a.committer.staging.conflict-mode", "replace")
        )
    else:
        writer = writer.mode("overwrite")
    writer.parquet(url)


def append_path(
    df: DataFrame, url: str, rows: int | None = None, partition_cols: list[str] | None = None
) -> None:
    """Add df's rows as new files under url, partitioned or not, keeping what is there (a job run over only
    new input, as with Glue job bookmarks); rows=0 writes nothing."""
    if rows == 0:
        return
    writer = df.write.mode("append")
    if partition_cols:
        writer = df.repartition(*partition_cols).write.mode("append").partitionBy(*partition_cols)
    if _s3a_committers(df.sparkSession):
        writer = writer.option(
            "fs.s3a.committer.name", "partitioned" if partition_cols else "directory"
        ).option("fs.s3a.committer.staging.conflict-mode", "append")
    writer.parquet(url)


def delete_path(spark: SparkSession, url: str) -> bool:
    fs, path = _hadoop_fs(spark, url)
    return bool(fs.delete(path, True))


def drop_stale_partitions(
    spark: SparkSession, url: str, owns, written_since_ms: int, slack_ms: int = 2000
) -> list[str]:
    """Delete partition folders under url that this run owns but did not write.

    Dynamic partition overwrite replaces only partitions present in the output; a partition of the month
    that a rerun no longer produces (its rows now quarantined, say) would otherwise linger. `owns` takes
    the partition's relative path ('pickup_date=2024-02-01/time_of_day_category=midday') and says
    whether this run is responsible for it. A partition is stale when all its files are older than the
    write (object stores give second-resolution times, hence the slack).
    """
    fs, base = _hadoop_fs(spark, url)
    if not fs.exists(base):
        return []
    dropped = []
    it = fs.listFiles(base, True)
    newest: dict[str, int] = {}
    prefix = base.toUri().getPath().rstrip("/") + "/"
    while it.hasNext():
        st = it.next()
        rel = st.getPath().toUri().getPath()[len(prefix) :]
        if "/" not in rel:
            continue
        part = rel.rsplit("/", 1)[0]
        if part.startswith(("_", ".")) or "/_" in part or "/." in part:
            continue
        newest[part] = max(newest.get(part, 0), st.getModificationTime())
    for part, mtime in sorted(newest.items()):
        if owns(part) and mtime < written_since_ms - slack_ms:
            delete_path(spark, url.rstrip("/") + "/" + part)
            dropped.append(part)
    return dropped


def exists(spark: SparkSession, url: str) -> bool:
    fs, path = _hadoop_fs(spark, url)
    return bool(fs.exists(path))


def read_staging(spark: SparkSession, bucket: str, dataset: str) -> DataFrame | None:
    """The staging table (None while nothing was ever staged)."""
    url = paths.s3_url(bucket, paths.staging_prefix(dataset))
    return spark.read.parquet(url) if exists(spark, url) else None


def url(bucket: str, key: str) -> str:
    return paths.s3_url(bucket, key)
