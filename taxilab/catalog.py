"""What the Glue Data Catalog holds: databases, tables, partition counts, columns (for `taxilab glue
catalog`), read through the same Glue API the crawler writes with."""

from __future__ import annotations

from dataclasses import dataclass, field

from taxilab.core.clients import client
from taxilab.core.settings import Settings


@dataclass
class TableInfo:
    database: str
    name: str
    location: str
    partition_keys: list[tuple[str, str]]
    columns: list[tuple[str, str]]
    partitions: int
    versions: int
    classification: str | None


@dataclass
class DatabaseInfo:
    name: str
    tables: list[TableInfo] = field(default_factory=list)


def describe(settings: Settings, glue=None) -> list[DatabaseInfo]:
    """The lab's catalog databases (settings.catalog_databases) with their tables; a database not created
    yet is listed empty."""
    glue = glue or client("glue", settings)
    out = []
    for name in settings.catalog_databases.values():
        db = DatabaseInfo(name)
        try:
            pages = list(glue.get_paginator("get_tables").paginate(DatabaseName=name))
        except glue.exceptions.EntityNotFoundException:
            out.append(db)
            continue
        for page in pages:
            for t in page["TableList"]:
                count = sum(
                    len(p["Partitions"])
                    for p in glue.get_paginator("get_partitions").paginate(
                        DatabaseName=name, TableName=t["Name"]
                    )
                )
                versions = sum(
                    len(p["TableVersions"])
                    for p in glue.get_paginator("get_table_versions").paginate(
                        DatabaseName=name, TableName=t["Name"]
                    )
                )
                sd = t.get("StorageDescriptor", {})
                db.tables.append(
                    TableInfo(
                        name,
                        t["Name"],
                        sd.get("Location", ""),
                        [(k["Name"], k["Type"]) for k in t.get("PartitionKeys", [])],
                        [(c["Name"], c["Type"]) for c in sd.get("Columns", [])],
                        count,
                        versions,
                        t.get("Parameters", {}).get("classification"),
                    )
                )
        out.append(db)
    return out
