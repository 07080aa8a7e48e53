"""COPY on the lab: `run_copy(conn, settings, stmt)` loads a parsed COPY from the S3 emulator into the
lab's PostgreSQL in ONE transaction, rejecting bad rows with Redshift's error codes up to MAXERROR.
Why, the semantics kept and the limits: docs/adr/0008-copy-unload-data-api.md ("Module notes").
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import uuid
from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from psycopg import sql as pgsql

from emulation.redshift.arrow_copy import WarehouseLoadError, copy_arrow, table_identifier
from emulation.redshift.statements import CopyStatement, Result, split_s3
from taxilab.core import clients as aws
from taxilab.core.settings import Settings

ERRORS_TABLE = "lab_meta.sys_load_error_detail"
# Redshift's default NULL string for text-format COPY; CSV's is the empty field.
TEXT_NULL = "\\N"


class CopyError(WarehouseLoadError):
    """A COPY that failed; the target table is unchanged."""


@dataclass
class _Column:
    name: str
    data_type: str
    not_null: bool
    max_length: int | None
    precision: int | None
    scale: int | None


def _table_columns(conn, table: str) -> list[_Column]:
    schema, _, name = table.rpartition(".")
    rows = conn.execute(
        "SELECT column_name, data_type, is_nullable = 'NO', character_maximum_length, numeric_precision,"
        " numeric_scale FROM information_schema.columns"
        " WHERE table_schema = coalesce(nullif(%s, ''), current_schema()) AND table_name = %s"
        " ORDER BY ordinal_position",
        [schema, name],
    ).fetchall()
    if not rows:
        raise CopyError(f"COPY {table}: no such table")
    return [_Column(*r) for r in rows]


def _target_columns(conn, stmt: CopyStatement) -> list[_Column]:
    columns = _table_columns(conn, stmt.table)
    if not stmt.columns:
        return columns
    by_name = {c.name: c for c in columns}
    unknown = [c for c in stmt.columns if c.lower() not in by_name]
    if unknown:
        raise CopyError(f"COPY {stmt.table}: no columns {unknown}; it has {list(by_name)}")
    return [by_name[c.lower()] for c in stmt.columns]


def _source_objects(s3, stmt: CopyStatement) -> list[str]:
    """s3:// URLs to load: the objects under the prefix, or the manifest's entries (in order)."""
    bucket, key = split_s3(stmt.source)
    if stmt.manifest:
        try:
            body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        except s3.exceptions.NoSuchKey as e:
            raise CopyError(f"COPY {stmt.table}: manifest {stmt.source} does not exist") from e
        try:
            entries = json.loads(body)["entries"]
        except (ValueError, KeyError, TypeError) as e:
            raise CopyError(
                f'COPY {stmt.table}: manifest {stmt.source} is not {{"entries": [...]}} JSON'
            ) from e
        urls = []
        for entry in entries:
            url = entry.get("url") if isinstance(entry, dict) else None
            if not isinstance(url, str) or not url.startswith("s3://"):
                raise CopyError(
                    f"COPY {stmt.table}: manifest {stmt.source}: entry {entry!r} has no s3:// url"
                )
            b, k = split_s3(url)
            try:
                s3.head_object(Bucket=b, Key=k)
            except s3.exceptions.ClientError as e:
                if entry.get("mandatory", False):
                    raise CopyError(
                        f"COPY {stmt.table}: manifest {stmt.source}: mandatory file {url} "
                        "does not exist; nothing was loaded"
                    ) from e
                continue  # Redshift skips a missing optional entry
            urls.append(url)
        return urls
    urls = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=key):
        for obj in page.get("Contents", []):
            name = obj["Key"].rsplit("/", 1)[-1]
            # Lab deviation: Spark/Hadoop markers (_SUCCESS, .crc) are skipped; Redshift would try them.
            if obj["Key"].endswith("/") or name.startswith(("_", ".")):
                continue
            urls.append(f"s3://{bucket}/{obj['Key']}")
    if not urls:
        raise CopyError(f"COPY {stmt.table}: no objects under {stmt.source}")
    return sorted(urls)


def _parquet_table(fs, url: str, table: str, columns: list[_Column]) -> pa.Table:
    bucket, key = split_s3(url)
    try:
        data = pq.read_table(f"{bucket}/{key}", filesystem=fs)
    except (OSError, pa.ArrowException) as e:
        raise CopyError(f"COPY {table}: cannot read {url} as Parquet: {e}") from e
    if data.num_columns != len(columns):
        raise CopyError(
            f"COPY {table}: {url} has {data.num_columns} columns, the target has {len(columns)} "
            f"({[c.name for c in columns]}); Parquet columns map by position"
        )
    # By position, as Redshift maps them: the file's own column names do not matter.
    return data.rename_columns([c.name for c in columns])


@dataclass
class LoadError:
    file_name: str
    line_number: int
    column: _Column | None
    error_code: int
    error_message: str
    raw_field_value: str | None
    raw_line: str


class _Reject(ValueError):
    def __init__(self, code: int, message: str):
        super().__init__(message)
        self.code = code


def _convert(value: str, col: _Column) -> str:
    """The field as canonical text for its column's type; _Reject with Redshift's code if it is not one."""
    t = col.data_type
    if t in ("smallint", "integer", "bigint"):
        bits = {"smallint": 16, "integer": 32, "bigint": 64}[t]
        s = value.strip()
        if not s.lstrip("+-").isdigit():
            raise _Reject(1207, f"Invalid digit, Value '{value[:1]}', Pos 0, Type: {t.capitalize()}")
        n = int(s)
        if not -(2 ** (bits - 1)) <= n < 2 ** (bits - 1):
            raise _Reject(1216, f"Overflow, Value '{value}', Type: {t.capitalize()}")
        return str(n)
    if t == "numeric":
        try:
            d = Decimal(value.strip())
        except InvalidOperation:
            raise _Reject(1207, f"Invalid digit, Value '{value[:1]}', Pos 0, Type: Decimal") from None
        if not d.is_finite():
            raise _Reject(1207, f"Invalid digit, Value '{value}', Type: Decimal")
        if col.scale is not None:
            d = d.quantize(Decimal(1).scaleb(-col.scale), rounding=ROUND_HALF_UP)  # Redshift rounds
            if col.precision is not None and len(d.as_tuple().digits) > col.precision:
                raise _Reject(
                    1216, f"Numeric data overflow, Value '{value}', DECIMAL({col.precision},{col.scale})"
                )
        return str(d)
    if t in ("double precision", "real"):
        try:
            return repr(float(value))
        except ValueError:
            raise _Reject(1208, f"FLOAT data type format error, Value '{value}'") from None
    if t == "boolean":
        v = value.strip().lower()
        if v in ("t", "true", "1", "y", "yes"):
            return "true"
        if v in ("f", "false", "0", "n", "no"):
            return "false"
        raise _Reject(1207, f"Invalid boolean, Value '{value}'")
    if t == "date":
        try:
            return date.fromisoformat(value.strip()).isoformat()
        except ValueError:
            raise _Reject(1205, f"Invalid Date Format - length must be 10 or more, Value '{value}'") from None
    if t.startswith("timestamp"):
        try:
            return datetime.fromisoformat(value.strip()).isoformat(sep=" ")
        except ValueError:
            raise _Reject(
                1206, f"Invalid timestamp format or value [YYYY-MM-DD HH24:MI:SS], Value '{value}'"
            ) from None
    if t in ("character varying", "character") and col.max_length is not None:
        # Redshift's VARCHAR(n) counts bytes, not characters.
        if len(value.encode()) > col.max_length:
            raise _Reject(
                1204, f"String length exceeds DDL length ({len(value.encode())} > {col.max_length})"
            )
    return value


def gunzip_limited(raw: bytes, url: str, table: str, limit: int) -> bytes:
    """The expansion of a gzip object, refused (nothing kept beyond limit + 1 bytes) when it passes `limit`
    bytes: a small object that expands to gigabytes (a gzip bomb) must not exhaust the lab's memory."""
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(raw)) as f:
            out = f.read(limit + 1)
    except (OSError, EOFError) as e:
        raise CopyError(f"COPY {table}: {url} is not gzip data ({e}); drop GZIP or compress it") from e
    if len(out) > limit:
        raise CopyError(
            f"COPY {table}: {url} expands beyond the limit of {limit} bytes ({len(raw)} compressed bytes); "
            "refused as a possible gzip bomb (raise settings.copy_max_expanded_bytes, "
            "TAXILAB_COPY_MAX_EXPANDED_BYTES, if the object is genuine)"
        )
    return out


def _delimited_rows(
    raw: bytes,
    url: str,
    stmt: CopyStatement,
    columns: list[_Column],
    errors: list[LoadError],
    max_expanded: int,
) -> list[list[str | None]]:
    if stmt.gzip:
        raw = gunzip_limited(raw, url, stmt.table, max_expanded)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise CopyError(f"COPY {stmt.table}: {url} is not UTF-8 ({e})") from e
    lines = text.splitlines()
    if stmt.format == "csv":
        null_as = "" if stmt.null_as is None else stmt.null_as
        reader_kwargs: dict[str, Any] = {"delimiter": stmt.delimiter or ","}
    else:
        # Redshift's default text format: delimited, no quoting (ESCAPE is not emulated).
        null_as = TEXT_NULL if stmt.null_as is None else stmt.null_as
        reader_kwargs = {"delimiter": stmt.delimiter or "|", "quoting": csv.QUOTE_NONE}
    out = []
    for number, line in enumerate(lines, start=1):
        if number <= stmt.ignoreheader or line == "":
            continue
        fields = next(csv.reader([line], **reader_kwargs))
        if len(fields) != len(columns):
            code, why = (
                (1202, "Extra column(s) found")
                if len(fields) > len(columns)
                else (1203, "Delimiter not found")
            )
            errors.append(
                LoadError(
                    url,
                    number,
                    None,
                    code,
                    f"{why}: {len(fields)} fields, {len(columns)} columns",
                    None,
                    line,
                )
            )
            continue
        row: list[str | None] = []
        for value, col in zip(fields, columns, strict=True):
            try:
                if value == null_as:
                    if col.not_null:
                        raise _Reject(1213, "Missing data for not-null field")
                    row.append(None)
                else:
                    row.append(_convert(value, col))
            except _Reject as r:
                errors.append(LoadError(url, number, col, r.code, str(r), value, line))
                break
        else:
            out.append(row)
    return out


def _record_errors(conn, query_id: str, table: str, errors: list[LoadError]) -> None:
    if not errors:
        return
    with conn.cursor() as cur:
        cur.executemany(
            pgsql.SQL(
                "INSERT INTO {} (query_id, table_name, file_name, line_number, column_name, column_type,"
                " error_code, error_message, raw_field_value, raw_line) VALUES"
                " (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
            ).format(table_identifier(ERRORS_TABLE)),
            [
                (
                    query_id,
                    table,
                    e.file_name,
                    e.line_number,
                    e.column.name if e.column else None,
                    e.column.data_type if e.column else None,
                    e.error_code,
                    e.error_message[:512],
                    None if e.raw_field_value is None else e.raw_field_value[:1024],
                    e.raw_line[:4096],
                )
                for e in errors
            ],
        )


def run_copy(conn, settings: Settings, stmt: CopyStatement) -> Result:
    """Execute a parsed COPY against the emulator; all or nothing. Result.rowcount: rows loaded."""
    s3 = aws.client("s3", settings)
    columns = _target_columns(conn, stmt)
    urls = _source_objects(s3, stmt)
    names = [c.name for c in columns]
    query_id = uuid.uuid4().hex
    errors: list[LoadError] = []
    if stmt.format == "parquet":
        fs = aws.arrow_s3_filesystem(settings)
        # Every file is read and checked before anything is written: a bad file fails the whole COPY.
        tables = [_parquet_table(fs, url, stmt.table, columns) for url in urls]
        batches = [b for t in tables for b in t.to_batches()]
    else:
        rows: list[list[str | None]] = []
        for url in urls:
            b, k = split_s3(url)
            rows.extend(
                _delimited_rows(
                    s3.get_object(Bucket=b, Key=k)["Body"].read(),
                    url,
                    stmt,
                    columns,
                    errors,
                    settings.copy_max_expanded_bytes,
                )
            )
        # All strings: PostgreSQL parses the canonical text _convert produced (quoted CSV fields are
        # data for any type; nulls are unquoted empty fields, see load.py).
        arrays = [pa.array([r[i] for r in rows], type=pa.string()) for i in range(len(names))]
        batches = pa.Table.from_arrays(arrays, names=names).to_batches()
    if len(errors) > stmt.maxerror:
        # Redshift keeps the error rows of a failed load: they are written in their own transaction.
        with conn.transaction():
            _record_errors(conn, query_id, stmt.table, errors)
        first = errors[0]
        raise CopyError(
            f"COPY {stmt.table}: {len(errors)} rows rejected, MAXERROR is {stmt.maxerror}; nothing was loaded. "
            f"First: {first.file_name} line {first.line_number}"
            f"{' column ' + first.column.name if first.column else ''}: {first.error_message} "
            f"(see {ERRORS_TABLE} where query_id = '{query_id}')"
        )
    try:
        with conn.transaction():
            _record_errors(conn, query_id, stmt.table, errors)
            loaded = copy_arrow(conn, stmt.table, batches, names)
    except WarehouseLoadError as e:
        raise CopyError(f"COPY {stmt.table} from {stmt.source}: {e}") from e
    message = f"COPY {stmt.table}: {loaded} rows loaded from {len(urls)} files"
    if errors:
        message += f", {len(errors)} rejected (query_id {query_id})"
    return Result(rowcount=loaded, message=message)
