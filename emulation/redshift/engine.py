"""Run Redshift SQL statements: COPY and UNLOAD emulated against the S3 emulator, the rest translated.

`execute(conn, settings, sql_text)` is the one entry point. On the aws profile the text goes to
Amazon Redshift unchanged through the Data API (data_api.py; only the IAM role is substituted).
Locally:

- COPY table [(cols)] FROM 's3://...' ...: objects under the key prefix (Redshift's prefix match,
  not a folder match) or the MANIFEST's entries are read and loaded in ONE transaction through
  load.copy_arrow: any failure leaves the table as it was.
  - Parquet: columns are mapped BY POSITION to the table's columns (or the column list), as
    Redshift does; a count mismatch fails naming the file and both counts.
  - Text (the default, DELIMITER '|') and CSV: parsed with Python's csv module, every field
    converted to its column's type (from information_schema) here, so a bad row is rejected with
    Redshift's error code and message, recorded in lab_meta.sys_load_error_detail and skipped while
    the rejected rows number <= MAXERROR (default 0). Beyond that the COPY fails, nothing is loaded,
    and the rejected rows are still recorded, as Redshift records them.
- UNLOAD ('select') TO 's3://prefix' ...: the select goes through the named queries' translation
  (queries.NamedQuery.postgres) and the dialect guard, runs on PostgreSQL, and the result is written
  as Parquet or CSV with Redshift's file naming (see _unload_names).
- CREATE EXTERNAL SCHEMA ... FROM DATA CATALOG (and DROP SCHEMA of such a schema): Redshift
  Spectrum over the Glue catalog, emulated by spectrum.py (views reading the lake at query time).
- Anything else: dialect guard, then sqlglot's Redshift -> PostgreSQL translation.

COPY and UNLOAD are parsed on sqlglot's Redshift token stream, never with regexes on the text:
sqlglot parses COPY into exp.Copy but mis-reads flag options (`GZIP MAXERROR 5` becomes GZIP with
the value MAXERROR), and UNLOAD becomes an opaque exp.Command.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from pathlib import Path

import psycopg
import pyarrow as pa
import pyarrow.parquet as pq
import sqlglot
from psycopg import sql as pgsql
from sqlglot.tokens import Token, TokenType

from emulation.redshift import guard
from emulation.redshift.arrow_copy import WarehouseLoadError, copy_arrow, table_identifier
from emulation.redshift.dialect import DialectError, parse_redshift, to_postgres
from taxilab.core import clients as aws
from taxilab.core.settings import Settings
from taxilab.warehouse.queries import NamedQuery

ERRORS_TABLE = "lab_meta.sys_load_error_detail"
# Redshift's default NULL string for text-format COPY; CSV's is the empty field.
TEXT_NULL = "\\N"


class RedshiftStatementError(ValueError):
    """A COPY/UNLOAD statement that is malformed or uses an option the emulation does not support."""


class CopyError(WarehouseLoadError):
    """A COPY that failed; the target table is unchanged."""


class UnloadError(RuntimeError):
    """An UNLOAD that failed."""


class StatementFailed(RuntimeError):
    """Any other statement that PostgreSQL rejected (rolled back)."""


@dataclass
class Result:
    """What a statement returned: rows for a query, a row count and message for the others."""

    columns: list[str] = field(default_factory=list)
    rows: list[tuple] = field(default_factory=list)
    rowcount: int = -1
    message: str = ""


# ---------------------------------------------------------------------------------- parsing


@dataclass
class CopyStatement:
    table: str
    columns: list[str]
    source: str
    iam_role: str | None = None
    format: str = "text"  # text | csv | parquet
    delimiter: str | None = None
    ignoreheader: int = 0
    null_as: str | None = None
    gzip: bool = False
    maxerror: int = 0
    manifest: bool = False


@dataclass
class UnloadStatement:
    query: str
    target: str
    iam_role: str | None = None
    format: str = "text"  # text | csv | parquet
    header: bool = False
    partition_by: list[str] = field(default_factory=list)
    include: bool = False
    parallel: bool = True
    allowoverwrite: bool = False
    cleanpath: bool = False
    delimiter: str | None = None


class _Tokens:
    """A cursor over sqlglot's Redshift tokens of one statement's text."""

    def __init__(self, text: str, what: str):
        self.text, self.what = text, what
        self.tokens = [t for t in sqlglot.Dialect.get_or_raise("redshift").tokenize(text)
                       if t.token_type != TokenType.SEMICOLON]
        self.i = 0

    def peek(self) -> Token | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def next(self, expected: str) -> Token:
        tok = self.peek()
        if tok is None:
            raise RedshiftStatementError(f"{self.what}: expected {expected}, the statement ended")
        self.i += 1
        return tok

    def word(self) -> str | None:
        tok = self.peek()
        return " ".join(tok.text.upper().split()) if tok is not None else None

    def accept(self, *words: str) -> bool:
        if self.word() in words:
            self.i += 1
            return True
        return False

    def string(self, expected: str) -> str:
        tok = self.next(expected)
        if tok.token_type != TokenType.STRING:
            raise RedshiftStatementError(f"{self.what}: expected {expected} as a quoted string, got {tok.text!r}")
        # The raw literal, only '' unescaped: sqlglot would also eat backslashes ('\N' -> 'N').
        return self.text[tok.start + 1:tok.end].replace("''", "'")

    def number(self, expected: str) -> int:
        tok = self.next(expected)
        if tok.token_type != TokenType.NUMBER or not tok.text.isdigit():
            raise RedshiftStatementError(f"{self.what}: expected {expected} as a whole number, got {tok.text!r}")
        return int(tok.text)

    def names(self, expected: str) -> list[str]:
        if self.next(expected).token_type != TokenType.L_PAREN:
            raise RedshiftStatementError(f"{self.what}: expected ( before {expected}")
        out = []
        while True:
            out.append(self.next(expected).text)
            tok = self.next(f"',' or ')' in {expected}")
            if tok.token_type == TokenType.R_PAREN:
                return out
            if tok.token_type != TokenType.COMMA:
                raise RedshiftStatementError(f"{self.what}: unexpected {tok.text!r} in {expected}")

    def iam_role(self) -> str:
        tok = self.peek()
        if tok is not None and tok.text.upper() == "DEFAULT":
            self.i += 1
            return "default"
        return self.string("IAM_ROLE's role ARN")

    def format(self) -> str:
        self.accept("AS")
        fmt = self.next("a format").text.lower()
        if fmt not in ("parquet", "csv"):
            raise RedshiftStatementError(f"{self.what}: FORMAT AS {fmt.upper()} is not supported locally "
                                         "(PARQUET, CSV, or the default pipe-delimited text)")
        return fmt


def statement_kind(sql_text: str) -> str:
    """The statement's first keyword, upper case ('COPY', 'UNLOAD', 'SELECT', ...)."""
    tokens = sqlglot.Dialect.get_or_raise("redshift").tokenize(sql_text)
    return tokens[0].text.upper() if tokens else ""


def _rest(sql_text: str, keyword: str) -> str:
    # sqlglot's tokenizer swallows everything after UNLOAD into one token: tokenize what follows.
    stripped = sql_text.lstrip()
    if stripped[: len(keyword)].upper() != keyword:
        raise RedshiftStatementError(f"expected a {keyword} statement, got: {sql_text[:80]!r}")
    return stripped[len(keyword):]


def _common_option(t: _Tokens, stmt, word: str) -> bool:
    """The options COPY and UNLOAD share (IAM_ROLE, FORMAT [AS] ..., bare CSV/PARQUET); True if consumed."""
    if word == "IAM_ROLE":
        stmt.iam_role = t.iam_role()
    elif word == "FORMAT":
        stmt.format = t.format()
    elif word in ("CSV", "PARQUET"):
        stmt.format = word.lower()
    else:
        return False
    return True


def parse_copy(sql_text: str) -> CopyStatement:
    t = _Tokens(_rest(sql_text, "COPY"), "COPY")
    parts = [t.next("the target table").text]
    while t.peek() is not None and t.peek().token_type == TokenType.DOT:
        t.i += 1
        parts.append(t.next("the table name").text)
    columns = t.names("the column list") if t.peek() and t.peek().token_type == TokenType.L_PAREN else []
    if not t.accept("FROM"):
        raise RedshiftStatementError(f"COPY {'.'.join(parts)}: expected FROM 's3://...'")
    stmt = CopyStatement(".".join(parts), columns, t.string("the S3 source"))
    while (word := t.word()) is not None:
        t.i += 1
        if _common_option(t, stmt, word):
            pass
        elif word == "DELIMITER":
            t.accept("AS")
            stmt.delimiter = t.string("the DELIMITER")
        elif word == "IGNOREHEADER":
            t.accept("AS")
            stmt.ignoreheader = t.number("IGNOREHEADER's line count")
        elif word == "NULL":
            t.accept("AS")
            stmt.null_as = t.string("NULL AS's string")
        elif word == "MAXERROR":
            t.accept("AS")
            stmt.maxerror = t.number("MAXERROR's count")
        elif word == "GZIP":
            stmt.gzip = True
        elif word == "MANIFEST":
            stmt.manifest = True
        else:
            raise RedshiftStatementError(f"COPY {stmt.table}: option {word} is not supported locally")
    if not stmt.source.startswith("s3://"):
        raise RedshiftStatementError(f"COPY {stmt.table}: FROM {stmt.source!r} is not an s3:// URL")
    if stmt.format == "parquet" and (stmt.delimiter or stmt.ignoreheader or stmt.null_as is not None or stmt.gzip):
        raise RedshiftStatementError(f"COPY {stmt.table}: FORMAT AS PARQUET takes no DELIMITER, IGNOREHEADER, "
                                     "NULL AS or GZIP (Redshift rejects them too)")
    return stmt


def parse_unload(sql_text: str) -> UnloadStatement:
    t = _Tokens(_rest(sql_text, "UNLOAD"), "UNLOAD")
    if t.next("('select ...')").token_type != TokenType.L_PAREN:
        raise RedshiftStatementError("UNLOAD: expected ('select ...')")
    query = t.string("the select")
    if t.next("')'").token_type != TokenType.R_PAREN or not t.accept("TO"):
        raise RedshiftStatementError("UNLOAD: expected ) TO 's3://...' after the select")
    stmt = UnloadStatement(query, t.string("the S3 target"))
    while (word := t.word()) is not None:
        t.i += 1
        if _common_option(t, stmt, word):
            pass
        elif word == "HEADER":
            stmt.header = True
        elif word == "PARTITION BY":
            stmt.partition_by = t.names("PARTITION BY's columns")
            stmt.include = t.accept("INCLUDE")
        elif word == "PARALLEL":
            value = t.next("ON or OFF").text.upper()
            if value not in ("ON", "OFF", "TRUE", "FALSE"):
                raise RedshiftStatementError(f"UNLOAD: PARALLEL {value}: expected ON or OFF")
            stmt.parallel = value in ("ON", "TRUE")
        elif word == "ALLOWOVERWRITE":
            stmt.allowoverwrite = True
        elif word == "CLEANPATH":
            stmt.cleanpath = True
        elif word == "DELIMITER":
            t.accept("AS")
            stmt.delimiter = t.string("the DELIMITER")
        else:
            raise RedshiftStatementError(f"UNLOAD: option {word} is not supported locally")
    if not stmt.target.startswith("s3://"):
        raise RedshiftStatementError(f"UNLOAD: TO {stmt.target!r} is not an s3:// URL")
    if stmt.format == "parquet" and (stmt.header or stmt.delimiter):
        raise RedshiftStatementError("UNLOAD: FORMAT AS PARQUET takes no HEADER or DELIMITER (Redshift rejects them)")
    return stmt


def iam_role_span(sql_text: str) -> tuple[int, int] | None:
    """(start, end) offsets of the IAM_ROLE value in a COPY/UNLOAD/CREATE EXTERNAL SCHEMA (for the aws
    path's substitution)."""
    keyword = statement_kind(sql_text)
    if keyword == "CREATE":  # CREATE EXTERNAL SCHEMA ... IAM_ROLE '...' (Spectrum)
        t = _Tokens(sql_text, keyword)
        if [tok.text.upper() for tok in t.tokens[:3]] != ["CREATE", "EXTERNAL", "SCHEMA"]:
            return None
        offset = 0
    elif keyword in ("COPY", "UNLOAD"):
        offset = len(sql_text) - len(_rest(sql_text, keyword))
        t = _Tokens(_rest(sql_text, keyword), keyword)
    else:
        return None
    for tok, nxt in zip(t.tokens, t.tokens[1:], strict=False):
        if tok.text.upper() == "IAM_ROLE":
            return offset + nxt.start, offset + nxt.end + 1
    return None


def _split_s3(url: str) -> tuple[str, str]:
    bucket, _, key = url[len("s3://"):].partition("/")
    if not bucket:
        raise RedshiftStatementError(f"{url!r}: no bucket")
    return bucket, key


# ---------------------------------------------------------------------------------- COPY


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
    bucket, key = _split_s3(stmt.source)
    if stmt.manifest:
        try:
            body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        except s3.exceptions.NoSuchKey as e:
            raise CopyError(f"COPY {stmt.table}: manifest {stmt.source} does not exist") from e
        try:
            entries = json.loads(body)["entries"]
        except (ValueError, KeyError, TypeError) as e:
            raise CopyError(f"COPY {stmt.table}: manifest {stmt.source} is not {{\"entries\": [...]}} JSON") from e
        urls = []
        for entry in entries:
            url = entry.get("url") if isinstance(entry, dict) else None
            if not isinstance(url, str) or not url.startswith("s3://"):
                raise CopyError(f"COPY {stmt.table}: manifest {stmt.source}: entry {entry!r} has no s3:// url")
            b, k = _split_s3(url)
            try:
                s3.head_object(Bucket=b, Key=k)
            except s3.exceptions.ClientError as e:
                if entry.get("mandatory", False):
                    raise CopyError(f"COPY {stmt.table}: manifest {stmt.source}: mandatory file {url} "
                                    "does not exist; nothing was loaded") from e
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
    bucket, key = _split_s3(url)
    try:
        data = pq.read_table(f"{bucket}/{key}", filesystem=fs)
    except (OSError, pa.ArrowException) as e:
        raise CopyError(f"COPY {table}: cannot read {url} as Parquet: {e}") from e
    if data.num_columns != len(columns):
        raise CopyError(f"COPY {table}: {url} has {data.num_columns} columns, the target has {len(columns)} "
                        f"({[c.name for c in columns]}); Parquet columns map by position")
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
                raise _Reject(1216, f"Numeric data overflow, Value '{value}', DECIMAL({col.precision},{col.scale})")
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
            raise _Reject(1206, f"Invalid timestamp format or value [YYYY-MM-DD HH24:MI:SS], Value '{value}'") from None
    if t in ("character varying", "character") and col.max_length is not None:
        # Redshift's VARCHAR(n) counts bytes, not characters.
        if len(value.encode()) > col.max_length:
            raise _Reject(1204, f"String length exceeds DDL length ({len(value.encode())} > {col.max_length})")
    return value


def _delimited_rows(raw: bytes, url: str, stmt: CopyStatement, columns: list[_Column],
                    errors: list[LoadError]) -> list[list[str | None]]:
    if stmt.gzip:
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as e:
            raise CopyError(f"COPY {stmt.table}: {url} is not gzip data ({e}); drop GZIP or compress it") from e
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise CopyError(f"COPY {stmt.table}: {url} is not UTF-8 ({e})") from e
    lines = text.splitlines()
    if stmt.format == "csv":
        null_as = "" if stmt.null_as is None else stmt.null_as
        reader_kwargs = {"delimiter": stmt.delimiter or ","}
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
            code, why = (1202, "Extra column(s) found") if len(fields) > len(columns) else (1203, "Delimiter not found")
            errors.append(LoadError(url, number, None, code, f"{why}: {len(fields)} fields, {len(columns)} columns",
                                    None, line))
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
            pgsql.SQL("INSERT INTO {} (query_id, table_name, file_name, line_number, column_name, column_type,"
                      " error_code, error_message, raw_field_value, raw_line) VALUES"
                      " (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)").format(table_identifier(ERRORS_TABLE)),
            [(query_id, table, e.file_name, e.line_number, e.column.name if e.column else None,
              e.column.data_type if e.column else None, e.error_code, e.error_message[:512],
              None if e.raw_field_value is None else e.raw_field_value[:1024], e.raw_line[:4096])
             for e in errors],
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
            b, k = _split_s3(url)
            rows.extend(_delimited_rows(s3.get_object(Bucket=b, Key=k)["Body"].read(), url, stmt, columns, errors))
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
            f"(see {ERRORS_TABLE} where query_id = '{query_id}')")
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


# ---------------------------------------------------------------------------------- UNLOAD


def _translated_select(query: str) -> str:
    guard.check(query, source="UNLOAD select")
    # The named queries' translation (ROUND casts, % escaping); no parameters in an UNLOAD.
    return NamedQuery("unload", Path("<UNLOAD>"), query, "", ()).postgres()


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
        w = csv.writer(buf, delimiter=stmt.delimiter or "|", lineterminator="\n", quoting=csv.QUOTE_NONE,
                       escapechar="\\")
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
        table = pa.Table.from_pylist([dict(zip(names, r, strict=True)) for r in records],
                                     schema=None) if records else pa.table({n: pa.array([], pa.null()) for n in names})
    except pa.ArrowException as e:
        raise UnloadError(f"UNLOAD: cannot turn the result into Arrow: {e}") from e
    missing = [c for c in stmt.partition_by if c not in names]
    if missing:
        raise UnloadError(f"UNLOAD: PARTITION BY columns {missing} are not in the select's columns {names}")

    s3 = aws.client("s3", settings)
    bucket, prefix = _split_s3(stmt.target)
    existing = [o["Key"] for p in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
                for o in p.get("Contents", [])]
    if existing and stmt.cleanpath:
        for key in existing:
            s3.delete_object(Bucket=bucket, Key=key)
    elif existing and not stmt.allowoverwrite:
        raise UnloadError(f"UNLOAD: {stmt.target} already holds {len(existing)} objects (e.g. s3://{bucket}/"
                          f"{existing[0]}); Redshift refuses to overwrite without ALLOWOVERWRITE or CLEANPATH")

    # Groups of rows -> the key prefix they go under.
    if stmt.partition_by:
        keys = table.select(stmt.partition_by).to_pylist()
        groups: dict[tuple, list[int]] = {}
        for i, k in enumerate(keys):
            groups.setdefault(tuple(k[c] for c in stmt.partition_by), []).append(i)
        parts = []
        for values, idx in sorted(groups.items(), key=lambda kv: tuple(_partition_value(v) for v in kv[0])):
            folder = "".join(f"{c}={_partition_value(v)}/" for c, v in zip(stmt.partition_by, values, strict=True))
            part = table.take(idx)
            if not stmt.include:  # Redshift drops the partition columns from the files unless INCLUDE
                part = part.drop_columns(stmt.partition_by)
            parts.append((folder, part))
    else:
        parts = [("", table)]

    fs = aws.arrow_s3_filesystem(settings)
    written = []
    for folder, part in parts:
        base = prefix if not folder else (prefix if prefix.endswith("/") or not prefix else prefix + "/") + folder
        (name,) = _unload_names(stmt, 1)
        key = base + name
        if stmt.format == "parquet":
            pq.write_table(part, f"{bucket}/{key}", filesystem=fs)
        else:
            s3.put_object(Bucket=bucket, Key=key, Body=_text_bytes(part, stmt))
        written.append((f"s3://{bucket}/{key}", part.num_rows))
    return Result(columns=["file", "rows"], rows=written, rowcount=table.num_rows,
                  message=f"UNLOAD: {table.num_rows} rows to {len(written)} files under {stmt.target}")


# ---------------------------------------------------------------------------------- entry point


def execute(conn, settings: Settings, sql_text: str) -> Result:
    """Run one Redshift statement: on the aws profile through the Data API (conn unused), locally
    COPY/UNLOAD emulated and anything else guarded, translated and run on PostgreSQL."""
    if settings.profile == "aws":
        from taxilab.warehouse.data_api import DataApiClient

        res = DataApiClient(settings).execute(sql_text)
        return Result(columns=res.columns, rows=res.rows, rowcount=res.rowcount, message=f"Data API {res.id}")
    kind = statement_kind(sql_text)
    if kind == "COPY":
        return run_copy(conn, settings, parse_copy(sql_text))
    if kind == "UNLOAD":
        return run_unload(conn, settings, parse_unload(sql_text))
    if kind in ("CREATE", "DROP"):
        from taxilab.warehouse import spectrum  # imports this module

        if kind == "CREATE" and spectrum.is_create_external_schema(sql_text):
            return spectrum.create_external_schema(conn, settings, spectrum.parse_create(sql_text))
        drop = spectrum.parse_drop(sql_text) if kind == "DROP" else None
        if drop is not None and spectrum.is_external(conn, drop.schema):
            return spectrum.drop_external_schema(conn, drop)
    guard.check(sql_text, source="statement")
    if len(parse_redshift(sql_text)) != 1:
        raise DialectError(f"execute runs one statement at a time: {sql_text.strip()[:120]!r}")
    # One Redshift statement can become several (CREATE TABLE ... SORTKEY adds a BRIN index).
    statements = to_postgres(sql_text)
    try:
        with conn.transaction(), conn.cursor() as cur:
            for statement in statements:
                cur.execute(statement)  # no parameters: psycopg leaves % alone
            if cur.description is None:
                return Result(rowcount=cur.rowcount, message=cur.statusmessage or "")
            return Result([d.name for d in cur.description], cur.fetchall(), cur.rowcount, cur.statusmessage or "")
    except psycopg.Error as e:
        raise StatementFailed(f"{kind} failed on the lab's PostgreSQL: {e}".strip()) from e
