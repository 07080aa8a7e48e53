"""UNLOAD on the lab: `run_unload(conn, settings, stmt)` runs a parsed UNLOAD's select
(statements.parse_unload) on the lab's PostgreSQL, after the dialect guard and the same Redshift ->
PostgreSQL translation the named queries get (dialect.query_to_postgres), and writes the result to the
S3 emulator as Parquet, CSV or pipe-delimited text, with Redshift's object naming (PARALLEL ON/OFF),
PARTITION BY folders (INCLUDE or not) and its refusal to overwrite without ALLOWOVERWRITE or
CLEANPATH. Why and the limits: docs/adr/0008-copy-unload-data-api.md.
"""

from __future__ import annotations

import csv
import io
from datetime import date, datetime

import psycopg
import pyarrow as pa
import pyarrow.parquet as pq

from emulation.redshift import guard
from emulation.redshift.dialect import parse_redshift, query_to_postgres
from emulation.redshift.statements import RedshiftStatementError, Result, UnloadStatement, split_s3
from taxilab.core import clients as aws
from taxilab.core.settings import Settings


class UnloadError(RuntimeError):
    """An UNLOAD that failed."""


def _translated_select(query: str) -> str:
    guard.check(query, source="UNLOAD select")
    statements = parse_redshift(query)
    if len(statements) != 1:
        raise RedshiftStatementError(f"UNLOAD: the select must be one statement, found {len(statements)}")
    # The named queries' translation (ROUND casts); no parameters in an UNLOAD.
    return query_to_postgres(statements[0], (), source="UNLOAD select")


def _unload_names(stmt: UnloadStatement, count: int) -> list[str]:
    """Object-name suffixes as Redshift writes them: PARALLEL ON '<slice>_part_<nn>' (one slice
    locally: 0000_part_00, 0000_part_01 ...), PARALLEL OFF '000', '001' ...; '.parquet' for Parquet
    (CSV/text files get no extension, as without Redshift's EXTENSION option)."""
    ext = ".parquet" if stmt.format == "parquet" else ""
    if stmt.parallel:
        return [f"0000_part_{i:02d}{ext}" for i in range(count)]
    return [f"{i:03d}{ext}" for i in range(count)]


def _partition_value(value) -> str:
    if value is None:
        return "__HIVE_DEFAULT_PARTITION__"
    if isinstance(value, date | datetime):
        return value.isoformat(sep=" ") if isinstance(value, datetime) else value.isoformat()
    return str(value)


def _text_bytes(table: pa.Table, stmt: UnloadStatement) -> bytes:
    buf = io.StringIO()
    if stmt.format == "csv":
        w = csv.writer(buf, delimiter=stmt.delimiter or ",", lineterminator="\n")
        null = ""
    else:
        w = csv.writer(
            buf, delimiter=stmt.delimiter or "|", lineterminator="\n", quoting=csv.QUOTE_NONE, escapechar="\\"
        )
        null = ""  # Redshift's text UNLOAD writes nulls as empty fields unless NULL AS is given
    if stmt.header:
        w.writerow(table.column_names)
    for row in table.to_pylist():
        w.writerow([null if v is None else _partition_value(v) for v in row.values()])
    return buf.getvalue().encode()


def run_unload(conn, settings: Settings, stmt: UnloadStatement) -> Result:
    """Execute a parsed UNLOAD against the emulator. Result.rows: one (url, rows) per file written."""
    select = _translated_select(stmt.query)
    try:
        with conn.transaction(), conn.cursor() as cur:
            cur.execute(select)
            names = [d.name for d in cur.description]
            records = cur.fetchall()
    except psycopg.Error as e:
        raise UnloadError(f"UNLOAD: the select failed: {e}") from e
    try:
        table = (
            pa.Table.from_pylist([dict(zip(names, r, strict=True)) for r in records], schema=None)
            if records
            else pa.table({n: pa.array([], pa.null()) for n in names})
        )
    except pa.ArrowException as e:
        raise UnloadError(f"UNLOAD: cannot turn the result into Arrow: {e}") from e
    missing = [c for c in stmt.partition_by if c not in names]
    if missing:
        raise UnloadError(f"UNLOAD: PARTITION BY columns {missing} are not in the select's columns {names}")

    s3 = aws.client("s3", settings)
    bucket, prefix = split_s3(stmt.target)
    existing = [
        o["Key"]
        for p in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        for o in p.get("Contents", [])
    ]
    if existing and stmt.cleanpath:
        for key in existing:
            s3.delete_object(Bucket=bucket, Key=key)
    elif existing and not stmt.allowoverwrite:
        raise UnloadError(
            f"UNLOAD: {stmt.target} already holds {len(existing)} objects (e.g. s3://{bucket}/"
            f"{existing[0]}); Redshift refuses to overwrite without ALLOWOVERWRITE or CLEANPATH"
        )

    # Groups of rows -> the key prefix they go under.
    if stmt.partition_by:
        keys = table.select(stmt.partition_by).to_pylist()
        groups: dict[tuple, list[int]] = {}
        for i, k in enumerate(keys):
            groups.setdefault(tuple(k[c] for c in stmt.partition_by), []).append(i)
        parts = []
        for values, idx in sorted(groups.items(), key=lambda kv: tuple(_partition_value(v) for v in kv[0])):
            folder = "".join(
                f"{c}={_partition_value(v)}/" for c, v in zip(stmt.partition_by, values, strict=True)
            )
            part = table.take(idx)
            if not stmt.include:  # Redshift drops the partition columns from the files unless INCLUDE
                part = part.drop_columns(stmt.partition_by)
            parts.append((folder, part))
    else:
        parts = [("", table)]

    fs = aws.arrow_s3_filesystem(settings)
    written = []
    for folder, part in parts:
        base = (
            prefix
            if not folder
            else (prefix if prefix.endswith("/") or not prefix else prefix + "/") + folder
        )
        (name,) = _unload_names(stmt, 1)
        key = base + name
        if stmt.format == "parquet":
            pq.write_table(part, f"{bucket}/{key}", filesystem=fs)
        else:
            s3.put_object(Bucket=bucket, Key=key, Body=_text_bytes(part, stmt))
        written.append((f"s3://{bucket}/{key}", part.num_rows))
    return Result(
        columns=["file", "rows"],
        rows=written,
        rowcount=table.num_rows,
        message=f"UNLOAD: {table.num_rows} rows to {len(written)} files under {stmt.target}",
    )
