"""A Glue-style crawler: scan a zone prefix on S3, infer table schemas from Parquet footers and
Hive-style partition folders, and create/update Glue databases, tables and partitions through the
Glue API (the moto server locally, Glue itself on the aws profile).
Why: docs/adr/0017-crawler-schema-change-policy-and-eras.md.
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
BATCH_UPDATE = 100  # Glue's limit for batch_update_partition
ZONES = ("raw", "staging", "quarantine", "curated")


class CrawlError(RuntimeError):
    """The lake does not fit the catalog (mixed partition layouts, a conflict the policy cannot absorb).
    .results: every table's result when raised by crawl()."""

    results: list[TableResult]


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
    widened: list[str] = field(default_factory=list)  # 'VendorID int -> bigint', applied or (LOG) held back
    conflicts: list[Conflict] = field(default_factory=list)  # incompatible type changes (never applied)
    held_back: bool = False  # LOG: the compatible changes above were logged, not written
    partitions_updated: int = 0  # existing partitions whose files' schema changed
    partitions_kept: list[str] = field(
        default_factory=list
    )  # folder gone, kept by DeleteBehavior LOG/DEPRECATE
    version: str | None = None  # the table's current version id in the catalog


@dataclass
class _Scan:
    files: int
    partition_keys: list[str]
    partitions: dict[tuple[str, ...], list[str]]  # values -> the partition's data file keys


# ---- type mapping ----------------------------------------------------------------------------------
def hive_type(arrow_type) -> str:
    """The Glue/Hive type Glue's crawler records for an Arrow (Parquet) type."""
    import pyarrow as pa
    import pyarrow.types as t

    if t.is_boolean(arrow_type):
        return "boolean"
    for pred, name in (
        (t.is_int8, "tinyint"),
        (t.is_int16, "smallint"),
        (t.is_int32, "int"),
        (t.is_int64, "bigint"),
        (t.is_uint8, "smallint"),
        (t.is_uint16, "int"),
        (t.is_uint32, "bigint"),
        (t.is_uint64, "bigint"),
        (t.is_float32, "float"),
        (t.is_float64, "double"),
        (t.is_date, "date"),
        (t.is_timestamp, "timestamp"),
    ):
        if pred(arrow_type):
            return name
    if t.is_null(arrow_type):
        return VOID
    if t.is_string(arrow_type) or t.is_large_string(arrow_type):
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
                name = cp["Prefix"][len("curated/") :].strip("/")
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
    parts: dict[tuple[str, ...], list[str]] = {}
    files = 0
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=settings.bucket, Prefix=prefix):
        for obj in page.get("Contents", []):
            rel = obj["Key"][len(prefix) :]
            if _hidden(rel) or not rel.endswith(".parquet") or obj["Size"] == 0:
                continue
            rel_dir = rel.rsplit("/", 1)[0] if "/" in rel else ""
            kv = parse_partition_path(rel_dir)
            keys = [k for k, _ in kv]
            if keys_order is None:
                keys_order = keys
            elif keys != keys_order:
                raise CrawlError(
                    f"s3://{settings.bucket}/{obj['Key']}: partition folders {keys} differ from "
                    f"{keys_order} elsewhere under {prefix}"
                )
            files += 1
            parts.setdefault(tuple(v for _, v in kv), []).append(obj["Key"])
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


# ---- schema evolution --------------------------------------------------------------------------------
VOID = "void"  # Glue/Hive's type of a column that holds no values (Parquet/Arrow null type)
_INT_RANK = {"tinyint": 1, "smallint": 2, "int": 3, "bigint": 4}


def widen(old: str, new: str) -> str | None:
    """The type that holds both old and new values as Glue's crawler widens a column (None: incompatible).
    Integers widen to the wider integer; an integer meeting a float or double, or a float meeting a double,
    widens to double; void (no values) takes the other type. Anything else (string <-> number, timestamp
    <-> date, decimals of another scale, nested types) is incompatible."""
    if old == new:
        return old
    if old == VOID or new == VOID:
        return new if old == VOID else old
    if old in _INT_RANK and new in _INT_RANK:
        return old if _INT_RANK[old] >= _INT_RANK[new] else new
    numeric = set(_INT_RANK) | {"float", "double"}
    if old in numeric and new in numeric:  # float or double meets an integer or the other: double
        return "double"
    return None


@dataclass(frozen=True)
class SchemaChangePolicy:
    """Glue's SchemaChangePolicy (API field names as in spark_jobs/jobgraph.json)."""

    UpdateBehavior: str = "UPDATE_IN_DATABASE"
    DeleteBehavior: str = "DELETE_FROM_DATABASE"

    @classmethod
    def of(cls, crawler_spec: dict) -> SchemaChangePolicy:
        """The policy a crawler declaration carries (validated by taxilab.core.jobgraph)."""
        from taxilab.core.jobgraph import schema_change_policy

        return cls(**schema_change_policy(crawler_spec))

    @classmethod
    def declared(cls, name: str | None = None) -> SchemaChangePolicy:
        """The policy of the declared crawler `name` (default: the graph's only/first crawler)."""
        from taxilab.core import jobgraph

        crawlers = jobgraph.load().crawlers
        if not crawlers:
            return cls()
        spec = crawlers[name] if name else next(iter(crawlers.values()))
        return cls.of(spec)

    def as_dict(self) -> dict[str, str]:
        return {"UpdateBehavior": self.UpdateBehavior, "DeleteBehavior": self.DeleteBehavior}


@dataclass(frozen=True)
class Conflict:
    """An incompatible type change: the table's type and the one a partition's files deliver."""

    database: str
    table: str
    column: str
    table_type: str
    found_type: str
    partition: str  # 'year=2024/month=03' (or the file, for a conflict between files of one partition)

    def __str__(self) -> str:
        return (
            f"{self.database}.{self.table}: column {self.column!r} changed type from {self.table_type} to "
            f"{self.found_type} in {self.partition}"
        )


class SchemaConflictError(CrawlError):
    """Incompatible type changes the crawler's SchemaChangePolicy cannot absorb; .conflicts lists them."""

    result: TableResult  # the table's result (crawl_target), its partitions registered

    def __init__(self, conflicts: list[Conflict], policy: SchemaChangePolicy):
        self.conflicts = conflicts
        self.policy = policy
        listed = "; ".join(str(c) for c in conflicts)
        super().__init__(
            f"{len(conflicts)} incompatible schema change(s): {listed}. SchemaChangePolicy "
            f"UpdateBehavior={policy.UpdateBehavior} cannot absorb an incompatible type change: the "
            "catalog table was left as it was (its partitions keep their own schema) — fix the "
            "month's files and rerun, or declare UpdateBehavior LOG for the crawler"
        )


def partition_columns(
    table: str, files: dict[str, list[tuple[str, str]]], part_keys: set[str]
) -> tuple[list[tuple[str, str]], list[tuple[str, str, str, str]]]:
    """One partition's columns from its files' footers (in key order): union by name (case-insensitive,
    first spelling kept), compatible types widened; returns (columns, [(column, type, other type, file)])
    for files of one partition that disagree incompatibly (the first file's type is kept)."""
    cols: list[tuple[str, str]] = []
    index: dict[str, int] = {}
    clashes = []
    for key in sorted(files):
        for name, typ in files[key]:
            if name in part_keys:
                continue
            i = index.get(name.lower())
            if i is None:
                index[name.lower()] = len(cols)
                cols.append((name, typ))
                continue
            w = widen(cols[i][1], typ)
            if w is None:
                clashes.append((cols[i][0], cols[i][1], typ, key))
            else:
                cols[i] = (cols[i][0], w)
    return cols, clashes


@dataclass
class _Evolution:
    columns: list[tuple[str, str]]  # the table's schema after the compatible changes
    new_columns: list[str]
    widened: list[str]  # 'VendorID int -> bigint'
    conflicts: list[Conflict]


def evolve(
    database: str, table: str, current: list[tuple[str, str]], partitions: dict[str, list[tuple[str, str]]]
) -> _Evolution:
    """The table schema covering current and every partition's columns (partitions in name order): new
    columns appended, compatible types widened, incompatible ones listed (the table's type kept). A column
    only ever seen null-typed (void) is left out of the table until a partition delivers a type for it
    (readers of the table, Spectrum among them, have no void type)."""
    cols = list(current)
    index = {n.lower(): i for i, (n, _) in enumerate(cols)}
    original = {n.lower(): t for n, t in current}
    new_columns: list[str] = []
    conflicts: list[Conflict] = []
    for part in sorted(partitions):
        for name, typ in partitions[part]:
            i = index.get(name.lower())
            if i is None:
                if typ == VOID:
                    continue
                index[name.lower()] = len(cols)
                cols.append((name, typ))
                new_columns.append(name)
                continue
            w = widen(cols[i][1], typ)
            if w is None:
                conflicts.append(Conflict(database, table, cols[i][0], cols[i][1], typ, part))
            else:
                cols[i] = (cols[i][0], w)
    widened = [
        f"{n} {original[n.lower()]} -> {t}"
        for n, t in cols
        if n.lower() in original and original[n.lower()] != t
    ]
    return _Evolution(cols, new_columns, widened, conflicts)


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
        "Parameters": {
            "classification": "parquet",
            "compressionType": "none",
            "typeOfData": "file",
            "UPDATED_BY_CRAWLER": CRAWLER_NAME,
        },
    }


def ensure_database(glue, name: str, zone: str) -> None:
    try:
        glue.get_database(Name=name)
    except glue.exceptions.EntityNotFoundException:
        glue.create_database(DatabaseInput={"Name": name, "Description": f"taxilab {zone} zone"})


def existing_partitions(glue, database: str, table: str) -> dict[tuple[str, ...], list[tuple[str, str]]]:
    """values -> the partition's columns as the catalog holds them."""
    out = {}
    for page in glue.get_paginator("get_partitions").paginate(DatabaseName=database, TableName=table):
        for p in page["Partitions"]:
            out[tuple(p["Values"])] = [
                (c["Name"], c["Type"]) for c in p.get("StorageDescriptor", {}).get("Columns", [])
            ]
    return out


def _batched(items, n):
    for i in range(0, len(items), n):
        yield items[i : i + n]


def _partition_input(location: str, pkeys, values, columns) -> dict:
    folder = "/".join(f"{k}={x}" for (k, _), x in zip(pkeys, values, strict=True))
    return {
        "Values": list(values),
        "StorageDescriptor": _storage(f"{location}{folder}/", columns),
        "Parameters": {"classification": "parquet"},
    }


def _folder(pkeys, values) -> str:
    return "/".join(f"{k}={x}" for (k, _), x in zip(pkeys, values, strict=True))


def _current_version(glue, database: str, table: str) -> str | None:
    versions = [
        v["VersionId"]
        for page in glue.get_paginator("get_table_versions").paginate(DatabaseName=database, TableName=table)
        for v in page["TableVersions"]
    ]
    return max(versions, key=int) if versions else None


def crawl_target(
    settings: Settings, target: Target, glue=None, policy: SchemaChangePolicy | None = None
) -> TableResult:
    """Catalog one table; a SchemaConflictError (UPDATE_IN_DATABASE and an incompatible change) is raised
    after the partitions were registered, with the table left as it was."""
    glue = glue or client("glue", settings)
    policy = policy or SchemaChangePolicy()
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
            raise CrawlError(
                f"table {target.table}: partition keys {found.partition_keys} under {location} differ "
                f"from the catalog's {[k for k, _ in pkeys]}; the table was left untouched"
            )
        columns = [(c["Name"], c["Type"]) for c in table["StorageDescriptor"]["Columns"]]
        known = existing_partitions(glue, target.database, target.table)
    else:
        pkeys = [
            (k, partition_key_type([v[i] for v in found.partitions]))
            for i, k in enumerate(found.partition_keys)
        ]
        columns, known = [], {}
    for i, (k, typ) in enumerate(pkeys):
        bad = [v[i] for v in found.partitions if partition_key_type([v[i]]) != typ and typ != "string"]
        if bad:
            raise CrawlError(
                f"table {target.table}: partition key {k!r} is {typ} but folder value {bad[0]!r} is not; "
                "the table was left untouched"
            )
    # Every file's footer: each partition's schema is what its files hold now (a rerun of a month may
    # rewrite existing partitions with another era's schema).
    footers = _footer_columns(settings, sorted(k for keys in found.partitions.values() for k in keys))
    part_keys = {k for k, _ in pkeys}
    part_cols: dict[tuple[str, ...], list[tuple[str, str]]] = {}
    clashes: list[Conflict] = []
    for values, keys in found.partitions.items():
        cols, inner = partition_columns(target.table, {k: footers[k] for k in keys}, part_keys)
        part_cols[values] = cols
        clashes += [
            Conflict(target.database, target.table, n, a, b, f"s3://{settings.bucket}/{f}")
            for n, a, b, f in inner
        ]
    evo = evolve(target.database, target.table, columns, {_folder(pkeys, v): c for v, c in part_cols.items()})
    res.conflicts = clashes + evo.conflicts
    res.new_columns, res.widened = evo.new_columns, evo.widened
    changed = bool(evo.new_columns or evo.widened)
    if table is None:  # new tables are created whatever the policy
        ensure_database(glue, target.database, target.zone)
        glue.create_table(
            DatabaseName=target.database, TableInput=_table_input(target, location, evo.columns, pkeys)
        )
        res.action = "created"
    elif changed and policy.UpdateBehavior == "UPDATE_IN_DATABASE":
        # UpdateTable archives the previous definition as a table version (GetTableVersions lists both).
        glue.update_table(
            DatabaseName=target.database, TableInput=_table_input(target, location, evo.columns, pkeys)
        )
        res.action = "updated"
        log.info(
            "table %s.%s updated: new columns %s, widened %s",
            target.database,
            target.table,
            evo.new_columns,
            evo.widened,
        )
    elif changed:
        res.held_back = True
        log.warning(
            "table %s.%s: SchemaChangePolicy UpdateBehavior=LOG: not applied: new columns %s, widened %s",
            target.database,
            target.table,
            evo.new_columns,
            evo.widened,
        )
    for c in res.conflicts:
        log.warning("incompatible schema change (UpdateBehavior=%s): %s", policy.UpdateBehavior, c)
    # Partitions: new ones always registered, changed ones updated, each with the columns of its own files.
    to_add = sorted(set(found.partitions) - set(known))
    for batch in _batched(to_add, BATCH_CREATE):
        resp = glue.batch_create_partition(
            DatabaseName=target.database,
            TableName=target.table,
            PartitionInputList=[_partition_input(location, pkeys, v, part_cols[v]) for v in batch],
        )
        # A partition another crawl (a run for another month, crawling the same zone table at the same
        # moment) registered first is registered: not an error; any other failure is.
        errors = [
            e
            for e in resp.get("Errors") or []
            if e.get("ErrorDetail", {}).get("ErrorCode") != "AlreadyExistsException"
        ]
        if errors:
            e = errors[0]
            raise CrawlError(
                f"table {target.table}: registering partition {e['PartitionValues']} failed: "
                f"{e['ErrorDetail'].get('ErrorMessage')}"
            )
    to_update = sorted(v for v in set(found.partitions) & set(known) if known[v] != part_cols[v])
    for batch in _batched(to_update, BATCH_UPDATE):
        resp = glue.batch_update_partition(
            DatabaseName=target.database,
            TableName=target.table,
            Entries=[
                {
                    "PartitionValueList": list(v),
                    "PartitionInput": _partition_input(location, pkeys, v, part_cols[v]),
                }
                for v in batch
            ],
        )
        if resp.get("Errors"):
            e = resp["Errors"][0]
            raise CrawlError(
                f"table {target.table}: updating partition {e['PartitionValueList']} failed: "
                f"{e['ErrorDetail'].get('ErrorMessage')}"
            )
    to_remove = sorted(set(known) - set(found.partitions))
    if policy.DeleteBehavior == "DELETE_FROM_DATABASE":
        for batch in _batched(to_remove, BATCH_DELETE):
            glue.batch_delete_partition(
                DatabaseName=target.database,
                TableName=target.table,
                PartitionsToDelete=[{"Values": list(v)} for v in batch],
            )
        res.partitions_removed = len(to_remove)
    elif to_remove:
        res.partitions_kept = [_folder(pkeys, v) for v in to_remove]
        log.warning(
            "table %s.%s: DeleteBehavior=%s: partitions whose folder is gone are kept: %s",
            target.database,
            target.table,
            policy.DeleteBehavior,
            res.partitions_kept,
        )
    res.partitions_added, res.partitions_updated = len(to_add), len(to_update)
    res.partitions_total = len(found.partitions)
    if res.action == "unchanged" and (to_add or to_update or res.partitions_removed):
        res.action = "partitions"
    res.version = _current_version(glue, target.database, target.table)
    if res.conflicts and policy.UpdateBehavior != "LOG":
        err = SchemaConflictError(res.conflicts, policy)
        err.result = res
        raise err
    return res


def crawl(
    settings: Settings, zones: tuple[str, ...] = ZONES, policy: SchemaChangePolicy | None = None
) -> list[TableResult]:
    """Crawl the zones with the declared crawler's SchemaChangePolicy (or `policy`). Every table is
    attempted; then the failures (if any) are raised as one CrawlError (a SchemaConflictError when they are
    all incompatible schema changes, .conflicts listing them) after the others were cataloged (one bad
    table must not hide the rest); .results holds every table's result."""
    policy = policy or SchemaChangePolicy.declared()
    glue = client("glue", settings)
    for zone in zones:
        ensure_database(glue, settings.catalog_databases[zone], zone)
    results: list[TableResult] = []
    errors: list[CrawlError] = []
    for t in targets(settings, zones):
        try:
            results.append(crawl_target(settings, t, glue, policy))
        except SchemaConflictError as e:
            e.result.action, e.result.error = "failed", str(e)
            results.append(e.result)
            errors.append(e)
        except CrawlError as e:
            results.append(TableResult(t.database, t.table, "failed", error=str(e)))
            errors.append(e)
    if errors:
        conflicts = [e for e in errors if isinstance(e, SchemaConflictError)]
        if len(conflicts) == len(errors):
            err: CrawlError = SchemaConflictError([c for e in conflicts for c in e.conflicts], policy)
        else:
            err = CrawlError("; ".join(str(e) for e in errors))
        err.results = results
        raise err
    return results
