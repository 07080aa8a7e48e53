"""A Glue-style crawler: scan a zone prefix on S3, infer table schemas from Parquet footers and
Hive-style partition folders, and create/update Glue databases, tables and partitions through the
Glue API (the moto server locally, Glue itself on the aws profile).

Semantics follow Glue's own crawler with SchemaChangePolicy UpdateBehavior=UPDATE_IN_DATABASE,
DeleteBehavior=DELETE_FROM_DATABASE and the "add new columns only" configuration:
- a rerun registers only partitions that are not in the catalog yet (batch_create_partition, 100 a call)
  and removes partitions whose folder disappeared (a rerun of the ETL drops stale pickup_dates);
- a new column updates the table (Glue keeps the old definition as a table version);
- a column whose type changed is incompatible: the table is left untouched and the crawl fails naming
  table, column, old and new type (Glue would silently create a second table or mix types; the lab
  prefers a loud stop, because jobs reading the catalog would otherwise fail later and further away).
"""

from __future__ import annotations

import logging
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from spark_jobs.io import paths
from taxilab.core.clients import arrow_s3_filesystem, client
from taxilab.core.settings import Settings

log = logging.getLogger(__name__)

# Exactly what Glue's crawler writes for Parquet tables.
PARQUET_SERDE = "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"
PARQUET_INPUT = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat"
PARQUET_OUTPUT = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat"
CRAWLER_NAME = "taxilab-lab-crawler"
BATCH_CREATE = 100  # Glue's limit for batch_create_partition
BATCH_DELETE = 25  # Glue's limit for batch_delete_partition
ZONES = ("raw", "staging", "quarantine", "curated")


class CrawlError(RuntimeError):
    """The lake does not fit the catalog (incompatible schema change, mixed partition layouts)."""


@dataclass(frozen=True)
class Target:
    zone: str
    database: str
    table: str
    prefix: str  # key prefix ending in '/'


@dataclass
class TableResult:
    database: str
    table: str
    action: str  # created | updated | unchanged | failed | empty
    partitions_added: int = 0
    partitions_removed: int = 0
    partitions_total: int = 0
    new_columns: list[str] = field(default_factory=list)
    error: str | None = None


@dataclass
class _Scan:
    files: int
    partition_keys: list[str]
    partitions: dict[tuple[str, ...], str]  # values -> first data file key of the partition


# ---- type mapping ----------------------------------------------------------------------------------
def hive_type(arrow_type) -> str:
    """The Glue/Hive type Glue's crawler records for an Arrow (Parquet) type."""
    import pyarrow as pa
    import pyarrow.types as t

    if t.is_boolean(arrow_type):
        return "boolean"
    for pred, name in ((t.is_int8, "tinyint"), (t.is_int16, "smallint"), (t.is_int32, "int"), (t.is_int64, "bigint"),
                       (t.is_uint8, "smallint"), (t.is_uint16, "int"), (t.is_uint32, "bigint"), (t.is_uint64, "bigint"),
                       (t.is_float32, "float"), (t.is_float64, "double"), (t.is_date, "date"),
                       (t.is_timestamp, "timestamp")):
        if pred(arrow_type):
            return name
    if t.is_string(arrow_type) or t.is_large_string(arrow_type) or t.is_null(arrow_type):
        return "string"
    if t.is_binary(arrow_type) or t.is_large_binary(arrow_type):
        return "binary"
    if t.is_decimal(arrow_type):
        return f"decimal({arrow_type.precision},{arrow_type.scale})"
    if t.is_list(arrow_type) or t.is_large_list(arrow_type):
        return f"array<{hive_type(arrow_type.value_type)}>"
    if t.is_struct(arrow_type):
        inner = ",".join(f"{f.name}:{hive_type(f.type)}" for f in arrow_type)
        return f"struct<{inner}>"
    if isinstance(arrow_type, pa.MapType):
        return f"map<{hive_type(arrow_type.key_type)},{hive_type(arrow_type.item_type)}>"
    raise CrawlError(f"no Glue type for Parquet/Arrow type {arrow_type}")


_INT = re.compile(r"^-?\d+$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def partition_key_type(values: list[str]) -> str:
    """Type of a partition key from its folder values, as Glue infers it: int, date, else string."""
    if values and all(_INT.match(v) for v in values):
        return "int"
    if values and all(_DATE.match(v) for v in values):
        return "date"
    return "string"


def parse_partition_path(rel_dir: str) -> list[tuple[str, str]]:
    """'pickup_date=2024-02-01/tod=am' -> [('pickup_date','2024-02-01'), ('tod','am')]; a folder that is
    not key=value raises CrawlError (Glue would treat it as an unnamed partition; the lab has none)."""
    out = []
    for seg in [s for s in rel_dir.split("/") if s]:
        key, sep, value = seg.partition("=")
        if not sep or not key:
            raise CrawlError(f"folder {seg!r} in {rel_dir!r} is not a Hive-style key=value partition folder")
        out.append((key, value))
    return out


# ---- targets ---------------------------------------------------------------------------------------
def targets(settings: Settings, zones: tuple[str, ...] = ZONES) -> list[Target]:
    """What the lab catalogs: one table per dataset in raw/staging/quarantine, one per curated folder."""
    ds, dbs = settings.dataset, settings.catalog_databases
    out = []
    for zone in zones:
        if zone not in ZONES:
            raise CrawlError(f"unknown zone {zone!r}; zones are {', '.join(ZONES)}")
        if zone == "raw":
            out.append(Target(zone, dbs["raw"], ds, paths.raw_month_prefix(ds, "2000-01").split("year=")[0]))
        elif zone == "staging":
            out.append(Target(zone, dbs["staging"], ds, paths.staging_prefix(ds)))
        elif zone == "quarantine":
            out.append(Target(zone, dbs["quarantine"], ds, paths.quarantine_prefix(ds)))
        else:
            s3 = client("s3", settings)
            resp = s3.list_objects_v2(Bucket=settings.bucket, Prefix="curated/", Delimiter="/")
            for cp in resp.get("CommonPrefixes", []):
                name = cp["Prefix"][len("curated/"):].strip("/")
                if name and not name.startswith(("_", ".")):
                    out.append(Target(zone, dbs["curated"], name, cp["Prefix"]))
    return out


# ---- scanning -----------------------------------------------------------------------------------------
def _hidden(rel: str) -> bool:
    return any(seg.startswith(("_", ".")) for seg in rel.split("/"))


def scan(settings: Settings, prefix: str) -> _Scan:
    """Data files under prefix grouped by partition (hidden files/folders skipped, as Spark/Glue do)."""
    s3 = client("s3", settings)
    keys_order: list[str] | None = None
    parts: dict[tuple[str, ...], str] = {}
    files = 0
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=settings.bucket, Prefix=prefix):
        for obj in page.get("Contents", []):
            rel = obj["Key"][len(prefix):]
            if _hidden(rel) or not rel.endswith(".parquet") or obj["Size"] == 0:
                continue
            rel_dir = rel.rsplit("/", 1)[0] if "/" in rel else ""
            kv = parse_partition_path(rel_dir)
            keys = [k for k, _ in kv]
            if keys_order is None:
                keys_order = keys
            elif keys != keys_order:
                raise CrawlError(f"s3://{settings.bucket}/{obj['Key']}: partition folders {keys} differ from "
                                 f"{keys_order} elsewhere under {prefix}")
            files += 1
            values = tuple(v for _, v in kv)
            if values not in parts or obj["Key"] < parts[values]:
                parts[values] = obj["Key"]
    return _Scan(files, keys_order or [], parts)


def _footer_columns(settings: Settings, keys: list[str]) -> dict[str, list[tuple[str, str]]]:
    """Column (name, Glue type) lists from the Parquet footers of keys, read in parallel (only the footer
    bytes are fetched)."""
    import pyarrow.parquet as pq

    fs = arrow_s3_filesystem(settings)

    def one(key: str):
        schema = pq.read_schema(f"{settings.bucket}/{key}", filesystem=fs)
        return key, [(f.name, hive_type(f.type)) for f in schema]

    with ThreadPoolExecutor(max_workers=8) as pool:
        return dict(pool.map(one, keys))


def merge_columns(table: str, current: list[tuple[str, str]], incoming: list[tuple[str, str]],
                  where: str) -> list[tuple[str, str]]:
    """current + the new columns of incoming; a type change raises CrawlError naming everything."""
    types = {n.lower(): t for n, t in current}
    out = list(current)
    for name, typ in incoming:
        old = types.get(name.lower())
        if old is None:
            out.append((name, typ))
            types[name.lower()] = typ
        elif old != typ:
            raise CrawlError(f"table {table}: column {name!r} changed type from {old} to {typ} ({where}); "
                             "the catalog table was left untouched — fix the data or drop the table to recrawl")
    return out


# ---- catalog writes -------------------------------------------------------------------------------------
def _storage(location: str, columns: list[tuple[str, str]]) -> dict:
    return {
        "Columns": [{"Name": n, "Type": t} for n, t in columns],
        "Location": location,
        "InputFormat": PARQUET_INPUT,
        "OutputFormat": PARQUET_OUTPUT,
        "Compressed": False,
        "NumberOfBuckets": -1,
        "SerdeInfo": {"SerializationLibrary": PARQUET_SERDE, "Parameters": {"serialization.format": "1"}},
        "StoredAsSubDirectories": False,
        "Parameters": {"classification": "parquet", "compressionType": "none", "typeOfData": "file"},
    }


def _table_input(target: Target, location: str, columns, partition_keys) -> dict:
    return {
        "Name": target.table,
        "StorageDescriptor": _storage(location, columns),
        "PartitionKeys": [{"Name": n, "Type": t} for n, t in partition_keys],
        "TableType": "EXTERNAL_TABLE",
        "Parameters": {"classification": "parquet", "compressionType": "none", "typeOfData": "file",
                       "UPDATED_BY_CRAWLER": CRAWLER_NAME},
    }


def ensure_database(glue, name: str, zone: str) -> None:
    try:
        glue.get_database(Name=name)
    except glue.exceptions.EntityNotFoundException:
        glue.create_database(DatabaseInput={"Name": name, "Description": f"taxilab {zone} zone"})


def existing_partitions(glue, database: str, table: str) -> set[tuple[str, ...]]:
    out = set()
    for page in glue.get_paginator("get_partitions").paginate(DatabaseName=database, TableName=table):
        out.update(tuple(p["Values"]) for p in page["Partitions"])
    return out


def _batched(items, n):
    for i in range(0, len(items), n):
        yield items[i:i + n]


def crawl_target(settings: Settings, target: Target, glue=None) -> TableResult:
    glue = glue or client("glue", settings)
    res = TableResult(target.database, target.table, "unchanged")
    found = scan(settings, target.prefix)
    location = paths.s3_url(settings.bucket, target.prefix)
    try:
        table = glue.get_table(DatabaseName=target.database, Name=target.table)["Table"]
    except glue.exceptions.EntityNotFoundException:
        table = None
    if not found.partitions:
        res.action = "empty" if table is None else "unchanged"
        return res
    # Partition key types: the catalog's when the table exists (they cannot change), else inferred.
    if table is not None:
        pkeys = [(k["Name"], k["Type"]) for k in table.get("PartitionKeys", [])]
        if [k for k, _ in pkeys] != found.partition_keys:
            raise CrawlError(f"table {target.table}: partition keys {found.partition_keys} under {location} differ "
                             f"from the catalog's {[k for k, _ in pkeys]}; the table was left untouched")
        columns = [(c["Name"], c["Type"]) for c in table["StorageDescriptor"]["Columns"]]
        known = existing_partitions(glue, target.database, target.table)
    else:
        pkeys = [(k, partition_key_type([v[i] for v in found.partitions])) for i, k in enumerate(found.partition_keys)]
        columns, known = [], set()
    for i, (k, typ) in enumerate(pkeys):
        bad = [v[i] for v in found.partitions if partition_key_type([v[i]]) != typ and typ != "string"]
        if bad:
            raise CrawlError(f"table {target.table}: partition key {k!r} is {typ} but folder value {bad[0]!r} is not; "
                             "the table was left untouched")
    # One footer per partition: every partition's schema is checked against the table, not just new ones
    # (a rerun of a month may rewrite existing partitions with a different schema).
    footers = _footer_columns(settings, sorted(found.partitions.values()))
    part_keys = {k for k, _ in pkeys}
    merged = columns
    for key in sorted(footers):
        cols = [(n, t) for n, t in footers[key] if n not in part_keys]
        merged = merge_columns(target.table, merged, cols, f"s3://{settings.bucket}/{key}")
    new_cols = [n for n, _ in merged[len(columns):]]
    if table is None:
        ensure_database(glue, target.database, target.zone)
        glue.create_table(DatabaseName=target.database, TableInput=_table_input(target, location, merged, pkeys))
        res.action = "created"
    elif new_cols:
        glue.update_table(DatabaseName=target.database, TableInput=_table_input(target, location, merged, pkeys))
        res.action = "updated"
    res.new_columns = new_cols
    to_add = sorted(set(found.partitions) - known)
    for batch in _batched(to_add, BATCH_CREATE):
        inputs = [{"Values": list(v),
                   "StorageDescriptor": _storage(location + "/".join(f"{k}={x}" for (k, _), x in zip(pkeys, v, strict=True)) + "/",
                                                 merged),
                   "Parameters": {"classification": "parquet"}} for v in batch]
        resp = glue.batch_create_partition(DatabaseName=target.database, TableName=target.table,
                                           PartitionInputList=inputs)
        if resp.get("Errors"):
            e = resp["Errors"][0]
            raise CrawlError(f"table {target.table}: registering partition {e['PartitionValues']} failed: "
                             f"{e['ErrorDetail'].get('ErrorMessage')}")
    to_remove = sorted(known - set(found.partitions))
    for batch in _batched(to_remove, BATCH_DELETE):
        glue.batch_delete_partition(DatabaseName=target.database, TableName=target.table,
                                    PartitionsToDelete=[{"Values": list(v)} for v in batch])
    res.partitions_added, res.partitions_removed = len(to_add), len(to_remove)
    res.partitions_total = len(found.partitions)
    if res.action == "unchanged" and (to_add or to_remove):
        res.action = "partitions"
    return res


def crawl(settings: Settings, zones: tuple[str, ...] = ZONES) -> list[TableResult]:
    """Crawl the zones; every table is attempted, then the first failure (if any) is raised as CrawlError
    after the others were cataloged (one bad table must not hide the rest)."""
    glue = client("glue", settings)
    for zone in zones:
        ensure_database(glue, settings.catalog_databases[zone], zone)
    results, errors = [], []
    for t in targets(settings, zones):
        try:
            results.append(crawl_target(settings, t, glue))
        except CrawlError as e:
            results.append(TableResult(t.database, t.table, "failed", error=str(e)))
            errors.append(str(e))
    if errors:
        err = CrawlError("; ".join(errors))
        err.results = results
        raise err
    return results
