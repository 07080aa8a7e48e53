"""Glue catalog reads the crawler tests share."""

from __future__ import annotations

from taxilab.core.clients import client


def table_versions(settings, zone: str) -> list[dict[str, str]]:
    """Each version's columns (lower-cased name -> type), oldest first."""
    glue = client("glue", settings)
    vs = [
        v
        for page in glue.get_paginator("get_table_versions").paginate(
            DatabaseName=settings.catalog_databases[zone], TableName="nyc_taxi"
        )
        for v in page["TableVersions"]
    ]
    vs.sort(key=lambda v: int(v["VersionId"]))
    return [{c["Name"].lower(): c["Type"] for c in v["Table"]["StorageDescriptor"]["Columns"]} for v in vs]
