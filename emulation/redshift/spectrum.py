"""Redshift Spectrum on the lab's PostgreSQL: `CREATE EXTERNAL SCHEMA ... FROM DATA CATALOG`.
Why: docs/adr/0008-copy-unload-data-api.md.
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
import sys
import sysconfig
from dataclasses import dataclass, field

import psycopg
from psycopg import sql as pgsql
from sqlglot.tokens import TokenType

from emulation.redshift.statements import RedshiftStatementError, Result, TokenReader
from taxilab.core import clients as aws
from taxilab.core.settings import PROJECT_ROOT, Settings

SCAN_FUNCTION = "lab_meta.spectrum_scan"
SCAN_MODULE = "emulation.redshift.spectrum_scan"
PARQUET_INPUT = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat"
HIVE_DEFAULT_PARTITION = "__HIVE_DEFAULT_PARTITION__"

# Hive/Glue type -> PostgreSQL type (parameterised types are handled in pg_type).
_HIVE_TYPES = {
    "tinyint": "smallint",
    "smallint": "smallint",
    "int": "integer",
    "integer": "integer",
    "bigint": "bigint",
    "float": "real",
    "double": "double precision",
    "string": "text",
    "boolean": "boolean",
    "date": "date",
    "timestamp": "timestamp",
}
_PARAM_TYPE = re.compile(r"^(decimal|varchar|char)\s*(?:\((\d+)\s*(?:,\s*(\d+))?\))?$")


class SpectrumError(RuntimeError):
    """An external schema that cannot be created, refreshed or dropped (names what and why)."""


# ---------------------------------------------------------------------------------- statements


@dataclass
class CreateExternalSchema:
    schema: str
    database: str
    iam_role: str | None = None
    region: str | None = None
    if_not_exists: bool = False
    create_database: bool = False


@dataclass
class DropSchema:
    schema: str
    if_exists: bool = False
    drop_database: bool = False
    cascade: bool = False


def _name(t: TokenReader, expected: str) -> str:
    tok = t.next(expected)
    if tok.token_type not in (TokenType.VAR, TokenType.IDENTIFIER) and not tok.text.isidentifier():
        raise RedshiftStatementError(f"{t.what}: expected {expected}, got {tok.text!r}")
    return tok.text.lower()  # Redshift folds identifiers to lower case, quoted or not


def _accept_seq(t: TokenReader, *words: str) -> bool:
    """Consume the words in order if they all come next."""
    toks = t.tokens[t.i : t.i + len(words)]
    if len(toks) == len(words) and all(tok.text.upper() == w for tok, w in zip(toks, words, strict=True)):
        t.i += len(words)
        return True
    return False


def _expect_seq(t: TokenReader, *words: str) -> None:
    if not _accept_seq(t, *words):
        got = " ".join(tok.text for tok in t.tokens[t.i : t.i + len(words)]) or "the end of the statement"
        raise RedshiftStatementError(f"{t.what}: expected {' '.join(words)}, got {got!r}")


def is_create_external_schema(sql_text: str) -> bool:
    t = TokenReader(sql_text, "CREATE EXTERNAL SCHEMA")
    return _accept_seq(t, "CREATE", "EXTERNAL", "SCHEMA")


def parse_create(sql_text: str) -> CreateExternalSchema:
    t = TokenReader(sql_text, "CREATE EXTERNAL SCHEMA")
    _expect_seq(t, "CREATE", "EXTERNAL", "SCHEMA")
    if_not_exists = _accept_seq(t, "IF", "NOT", "EXISTS")
    schema = _name(t, "the schema name")
    _expect_seq(t, "FROM")
    if not _accept_seq(t, "DATA", "CATALOG"):
        kind = t.word() or "nothing"
        raise RedshiftStatementError(
            f"CREATE EXTERNAL SCHEMA {schema}: FROM {kind} is not supported locally "
            "(only FROM DATA CATALOG, the Glue Data Catalog)"
        )
    stmt = CreateExternalSchema(schema, "", if_not_exists=if_not_exists)
    while (word := t.word()) is not None:
        t.i += 1
        if word == "DATABASE":
            stmt.database = t.string("the Glue database name")
        elif word == "IAM_ROLE":
            stmt.iam_role = t.iam_role()
        elif word == "REGION":
            stmt.region = t.string("the REGION")
        elif word == "CREATE":
            _expect_seq(t, "EXTERNAL", "DATABASE", "IF", "NOT", "EXISTS")
            stmt.create_database = True
        else:
            raise RedshiftStatementError(
                f"CREATE EXTERNAL SCHEMA {schema}: option {word} is not supported locally"
            )
    if not stmt.database:
        raise RedshiftStatementError(f"CREATE EXTERNAL SCHEMA {schema}: DATABASE 'glue_database' is required")
    if stmt.iam_role is None:
        raise RedshiftStatementError(
            f"CREATE EXTERNAL SCHEMA {schema}: IAM_ROLE is required (Redshift requires it)"
        )
    return stmt


def parse_drop(sql_text: str) -> DropSchema | None:
    """DROP SCHEMA [IF EXISTS] name [DROP EXTERNAL DATABASE] [CASCADE|RESTRICT]; None if not a DROP SCHEMA."""
    t = TokenReader(sql_text, "DROP SCHEMA")
    if not _accept_seq(t, "DROP", "SCHEMA"):
        return None
    if_exists = _accept_seq(t, "IF", "EXISTS")
    stmt = DropSchema(_name(t, "the schema name"), if_exists=if_exists)
    while (word := t.word()) is not None:
        t.i += 1
        if word == ",":
            raise RedshiftStatementError("DROP SCHEMA: drop an external schema on its own, not in a list")
        if word == "DROP":
            _expect_seq(t, "EXTERNAL", "DATABASE")
            stmt.drop_database = True
        elif word in ("CASCADE", "RESTRICT"):
            stmt.cascade = word == "CASCADE"
        else:
            raise RedshiftStatementError(f"DROP SCHEMA {stmt.schema}: unexpected {word}")
    return stmt


# ---------------------------------------------------------------------------------- the catalog


@dataclass
class ExternalTable:
    name: str
    location: str
    columns: list[tuple[str, str]]  # (lower-case name, Hive type)
    partition_keys: list[tuple[str, str]]
    partitions: list[tuple[list[str], str]] = field(default_factory=list)  # (values, location)
    input_format: str = ""
    output_format: str = ""
    serialization_lib: str = ""
    parameters: dict = field(default_factory=dict)


def pg_type(hive: str, where: str) -> str:
    """The PostgreSQL type for a Glue/Hive column type; nested types are refused, naming `where`."""
    h = hive.strip().lower()
    if h in _HIVE_TYPES:
        return _HIVE_TYPES[h]
    m = _PARAM_TYPE.match(h)
    if m:
        kind, p, s = m.groups()
        if kind == "decimal":
            return f"numeric({p or 10},{s or 0})"
        return f"{'varchar' if kind == 'varchar' else 'char'}({p})" if p else "text"
    raise SpectrumError(
        f"{where}: Glue type {hive!r} is not supported by the lab's Spectrum "
        "(primitive types only: no array/struct/map/binary)"
    )


def read_catalog(settings: Settings, database: str, create: bool = False) -> list[ExternalTable]:
    """The Parquet tables of a Glue database with their partitions (values, location)."""
    glue = aws.client("glue", settings)
    try:
        glue.get_database(Name=database)
    except glue.exceptions.EntityNotFoundException:
        if not create:
            raise SpectrumError(
                f"Glue database {database!r} does not exist in the Data Catalog (add CREATE "
                "EXTERNAL DATABASE IF NOT EXISTS to create it, or crawl the zone first)"
            ) from None
        glue.create_database(DatabaseInput={"Name": database})
    tables = []
    for page in glue.get_paginator("get_tables").paginate(DatabaseName=database):
        for t in page["TableList"]:
            sd = t.get("StorageDescriptor", {})
            if (
                sd.get("InputFormat") != PARQUET_INPUT
                and t.get("Parameters", {}).get("classification") != "parquet"
            ):
                continue  # the lab reads Parquet only (the lake's zones are all Parquet)
            table = ExternalTable(
                t["Name"].lower(),
                sd.get("Location", ""),
                [(c["Name"].lower(), c["Type"]) for c in sd.get("Columns", [])],
                [(k["Name"].lower(), k["Type"]) for k in t.get("PartitionKeys", [])],
                input_format=sd.get("InputFormat", ""),
                output_format=sd.get("OutputFormat", ""),
                serialization_lib=sd.get("SerdeInfo", {}).get("SerializationLibrary", ""),
                parameters=t.get("Parameters", {}),
            )
            if table.partition_keys:
                for ppage in glue.get_paginator("get_partitions").paginate(
                    DatabaseName=database, TableName=t["Name"]
                ):
                    for p in ppage["Partitions"]:
                        table.partitions.append((list(p["Values"]), p["StorageDescriptor"]["Location"]))
                table.partitions.sort()
            tables.append(table)
    return sorted(tables, key=lambda x: x.name)


# ---------------------------------------------------------------------------------- the scan function


_PROGRAMS: dict[tuple, str] = {}  # (dsn, endpoint) -> the program prefix that worked


def _program_prefix(settings: Settings, python: str) -> str:
    """`env -i VAR=... python`: the scan program's command line up to its module, emulator credentials only."""
    paths = [
        str(PROJECT_ROOT),
        *dict.fromkeys([sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]]),
    ]
    env = {
        "PYTHONPATH": ":".join(paths),
        "TAXILAB_SPECTRUM_ENDPOINT": settings.endpoint("s3") or "",
        "AWS_DEFAULT_REGION": settings.region,
        "AWS_ACCESS_KEY_ID": settings.emulator_access_key,
        "AWS_SECRET_ACCESS_KEY": settings.emulator_secret_key,
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    return "env -i " + " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items()) + " " + shlex.quote(python)


def _interpreters() -> list[str]:
    """The lab's own interpreter first; as root, PostgreSQL runs as another OS user that may not be able
    to reach it (e.g. under /root): then a system interpreter of the same version, which can import the
    venv's packages (same ABI) through PYTHONPATH."""
    v = f"{sys.version_info.major}.{sys.version_info.minor}"
    found = [sys.executable, f"/usr/bin/python{v}", f"/usr/local/bin/python{v}", shutil.which(f"python{v}")]
    return [p for p in dict.fromkeys(found) if p]


def _probe(conn, prefix: str) -> str | None:
    """None if PostgreSQL's OS user can run the scan program with this prefix, else why not."""
    command = f"{prefix} -c 'import pyarrow.parquet, {SCAN_MODULE}; print(\"ok\")'"
    try:
        with conn.transaction():
            conn.execute("CREATE TEMP TABLE IF NOT EXISTS lab_spectrum_probe (line text) ON COMMIT DROP")
            conn.execute(pgsql.SQL("COPY lab_spectrum_probe FROM PROGRAM {}").format(pgsql.Literal(command)))
            got = conn.execute("SELECT line FROM lab_spectrum_probe").fetchall()
            return None if got == [("ok",)] else f"printed {got}"
    except psycopg.Error as e:
        return str(e).strip().splitlines()[0]


def _scan_program(conn, settings: Settings) -> str:
    if not settings.uses_emulator:
        raise SpectrumError(
            "the Spectrum emulation is for the local profile; on aws Redshift runs it natively"
        )
    key = (conn.info.dsn, settings.endpoint("s3"))
    if key in _PROGRAMS:
        return _PROGRAMS[key]
    allowed = conn.execute(
        "SELECT rolsuper OR pg_has_role(current_user, 'pg_execute_server_program', 'MEMBER')"
        " FROM pg_roles WHERE rolname = current_user"
    ).fetchone()
    if not allowed or not allowed[0]:
        raise SpectrumError(
            "the Spectrum emulation runs COPY ... FROM PROGRAM: the warehouse user must be a "
            "superuser or a member of pg_execute_server_program"
        )
    failures = []
    for python in _interpreters():
        prefix = _program_prefix(settings, python)
        why = _probe(conn, prefix)
        if why is None:
            _PROGRAMS[key] = f"{prefix} -m {SCAN_MODULE}"
            return _PROGRAMS[key]
        failures.append(f"{python}: {why}")
    raise SpectrumError(
        "PostgreSQL's OS user cannot run the Spectrum scan program (python with pyarrow and "
        "taxilab; on the compose profile the server runs in a container without them): " + "; ".join(failures)
    )


# Column definitions the scan function accepts: `"quoted name" type`, comma-separated, types from the
# whitelist pg_type() produces. Checked inside the function (it is the boundary: anyone allowed to call
# it could pass any text), so coldefs can be pasted into its CREATE TEMP TABLE only in this shape.
_COLDEF_TYPES = (
    r"(smallint|integer|bigint|real|double precision|text|boolean|date|timestamp"
    r"|numeric\([0-9]{1,2},[0-9]{1,2}\)|varchar\([0-9]{1,5}\)|char\([0-9]{1,5}\))"
)
_COLDEF = r'"([^"]|"")+" ' + _COLDEF_TYPES
COLDEFS_PATTERN = "^" + _COLDEF + "(, " + _COLDEF + ")*$"
SPEC_PATTERN = "^([0-9a-f][0-9a-f])+$"

# SECURITY DEFINER, owned by the superuser that installs it: the lab's app role may call it (EXECUTE is
# granted to that role only, revoked from PUBLIC) without being allowed COPY ... PROGRAM itself. Every
# argument is checked before use: the only text after the program's fixed prefix on its command line is
# `spec`, which must be lower-case hex (so no shell metacharacter can appear) and must decode to a JSON
# object naming the same s3:// location; `coldefs` must match COLDEFS_PATTERN (quoted identifiers, types
# from a whitelist). search_path is pinned so no object of the caller's can shadow what the body uses.
_SCAN_FUNCTION_SQL = """
CREATE OR REPLACE FUNCTION lab_meta.spectrum_scan(location text, coldefs text, spec text)
RETURNS SETOF record LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
  failure text;
  decoded jsonb;
BEGIN
  IF spec IS NULL OR length(spec) > 1048576 OR spec !~ {spec_pattern} THEN
    RAISE EXCEPTION 'spectrum_scan: refused: the scan spec must be hex-encoded JSON (lower-case hex digits '
                    'only), got %', left(quote_nullable(spec), 80);
  END IF;
  BEGIN
    decoded := convert_from(decode(spec, 'hex'), 'UTF8')::jsonb;
  EXCEPTION WHEN OTHERS THEN
    RAISE EXCEPTION 'spectrum_scan: refused: the scan spec is not hex-encoded UTF-8 JSON (%)', SQLERRM;
  END;
  IF jsonb_typeof(decoded) IS DISTINCT FROM 'object' OR jsonb_typeof(decoded -> 'columns') IS DISTINCT FROM 'array'
     OR location IS NULL OR location !~ '^s3://' OR (decoded ->> 'location') IS DISTINCT FROM location THEN
    RAISE EXCEPTION 'spectrum_scan: refused: the scan spec must be {"location": <the location argument, an '
                    's3:// URL>, "columns": [...]}; location argument %', left(quote_nullable(location), 200);
  END IF;
  IF coldefs IS NULL OR length(coldefs) > 65536 OR coldefs !~ {coldefs_pattern} THEN
    RAISE EXCEPTION 'spectrum_scan: refused: coldefs must be "quoted name" type[, ...] with types from '
                    'smallint, integer, bigint, real, double precision, text, boolean, date, timestamp, '
                    'numeric(p,s), varchar(n), char(n); got %', left(quote_nullable(coldefs), 200);
  END IF;
  -- One scan at a time per session (a plpgsql set-returning function is materialised whole).
  DROP TABLE IF EXISTS pg_temp.lab_spectrum_rows;
  EXECUTE 'CREATE TEMP TABLE lab_spectrum_rows (lab_scan_error text, ' || coldefs || ')';
  BEGIN
    EXECUTE format('COPY pg_temp.lab_spectrum_rows FROM PROGRAM %L WITH (FORMAT csv)', {program} || ' ' || spec);
  EXCEPTION WHEN OTHERS THEN
    RAISE EXCEPTION 'Spectrum scan of % failed: %', location, SQLERRM
      USING HINT = 'the files do not fit the external table''s column types, or the scan program failed '
                   '(its stderr is in the PostgreSQL server log)';
  END;
  EXECUTE 'SELECT lab_scan_error FROM pg_temp.lab_spectrum_rows WHERE lab_scan_error IS NOT NULL LIMIT 1'
    INTO failure;
  IF failure IS NOT NULL THEN
    RAISE EXCEPTION 'Spectrum scan of % failed: %', location, failure;
  END IF;
  ALTER TABLE pg_temp.lab_spectrum_rows DROP COLUMN lab_scan_error;
  RETURN QUERY EXECUTE 'SELECT * FROM pg_temp.lab_spectrum_rows';
  DROP TABLE pg_temp.lab_spectrum_rows;
END
$fn$
"""
SCAN_SIGNATURE = "lab_meta.spectrum_scan(text, text, text)"


_META_SQL = [
    "CREATE SCHEMA IF NOT EXISTS lab_meta",
    """CREATE TABLE IF NOT EXISTS lab_meta.external_schemas (
        schemaname text PRIMARY KEY, databasename text NOT NULL, esoptions text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(), refreshed_at timestamptz NOT NULL DEFAULT now())""",
    """CREATE TABLE IF NOT EXISTS lab_meta.external_tables (
        schemaname text NOT NULL, tablename text NOT NULL, location text, input_format text,
        output_format text, serialization_lib text, serde_parameters text, compressed integer,
        parameters text, tabletype text, partitions integer, PRIMARY KEY (schemaname, tablename))""",
    """CREATE TABLE IF NOT EXISTS lab_meta.external_partitions (
        schemaname text NOT NULL, tablename text NOT NULL, "values" text NOT NULL, location text,
        input_format text, output_format text, serialization_lib text, serde_parameters text,
        compressed integer, parameters text)""",
    """CREATE TABLE IF NOT EXISTS lab_meta.external_columns (
        schemaname text NOT NULL, tablename text NOT NULL, columnname text NOT NULL,
        external_type text NOT NULL, columnnum integer NOT NULL, part_key integer NOT NULL,
        is_nullable text NOT NULL)""",
    """CREATE OR REPLACE VIEW lab_meta.svv_external_schemas AS
        SELECT n.oid::integer AS esoid, 1 AS eskind, e.schemaname, n.nspowner::integer AS esowner,
               e.databasename, e.esoptions
        FROM lab_meta.external_schemas e JOIN pg_namespace n ON n.nspname = e.schemaname""",
    """CREATE OR REPLACE VIEW lab_meta.svv_external_tables AS
        SELECT schemaname, tablename, location, input_format, output_format, serialization_lib,
               serde_parameters, compressed, parameters, tabletype FROM lab_meta.external_tables""",
    """CREATE OR REPLACE VIEW lab_meta.svv_external_partitions AS
        SELECT schemaname, tablename, "values", location, input_format, output_format, serialization_lib,
               serde_parameters, compressed, parameters FROM lab_meta.external_partitions""",
    """CREATE OR REPLACE VIEW lab_meta.svv_external_columns AS
        SELECT schemaname, tablename, columnname, external_type, columnnum, part_key, is_nullable
        FROM lab_meta.external_columns""",
]


def install(conn, settings: Settings) -> None:
    """The lab_meta tables/views and the scan function (with the current S3 endpoint baked in).

    Setup work: it needs a superuser (the function runs COPY ... FROM PROGRAM as its owner). On a
    connection of the lab's app role it is done on a separate connection of settings.warehouse_admin_dsn.
    EXECUTE on the function is revoked from PUBLIC and granted to the app role only."""
    if not _is_superuser(conn):
        if not settings.warehouse_admin_dsn:
            raise SpectrumError(
                "installing the Spectrum scan function needs the warehouse's setup (superuser) "
                "connection: settings.warehouse_admin_dsn is not set"
            )
        from psycopg.conninfo import make_conninfo

        # The superuser's connection to the database `conn` is on (a test's scratch database too).
        with psycopg.connect(
            make_conninfo(settings.warehouse_admin_dsn, dbname=conn.info.dbname), connect_timeout=10
        ) as admin:
            install(admin, settings)
        return
    program = _scan_program(conn, settings)
    literal = pgsql.Literal
    function_sql = (
        _SCAN_FUNCTION_SQL.replace("{program}", literal(program).as_string(conn))
        .replace("{spec_pattern}", literal(SPEC_PATTERN).as_string(conn))
        .replace("{coldefs_pattern}", literal(COLDEFS_PATTERN).as_string(conn))
    )
    app_role = settings.warehouse_app_role
    with conn.transaction():
        if not conn.execute("SELECT 1 FROM pg_namespace WHERE nspname = 'lab_meta'").fetchone():
            conn.execute("CREATE SCHEMA lab_meta")
            if conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [app_role]).fetchone():
                conn.execute(
                    pgsql.SQL("GRANT USAGE, CREATE ON SCHEMA lab_meta TO {}").format(
                        pgsql.Identifier(app_role)
                    )
                )
        for statement in _META_SQL:
            conn.execute(statement)
        conn.execute(function_sql)
        conn.execute(f"REVOKE ALL ON FUNCTION {SCAN_SIGNATURE} FROM PUBLIC")
        if conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [app_role]).fetchone():
            role = pgsql.Identifier(app_role)
            conn.execute(
                pgsql.SQL("GRANT EXECUTE ON FUNCTION lab_meta.spectrum_scan(text, text, text) TO {}").format(
                    role
                )
            )
            conn.execute(pgsql.SQL("GRANT USAGE ON SCHEMA lab_meta TO {}").format(role))
            conn.execute(
                pgsql.SQL(
                    "GRANT SELECT, INSERT, UPDATE, DELETE ON lab_meta.external_schemas, "
                    "lab_meta.external_tables, lab_meta.external_partitions, lab_meta.external_columns "
                    "TO {}"
                ).format(role)
            )
            conn.execute(
                pgsql.SQL(
                    "GRANT SELECT ON lab_meta.svv_external_schemas, lab_meta.svv_external_tables, "
                    "lab_meta.svv_external_partitions, lab_meta.svv_external_columns TO {}"
                ).format(role)
            )


def _is_superuser(conn) -> bool:
    with conn.transaction():
        return bool(conn.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user").fetchone()[0])


# ---------------------------------------------------------------------------------- views


def _ident(*names: str) -> str:
    return ".".join('"' + n.replace('"', '""') + '"' for n in names)


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def view_sql(schema: str, table: ExternalTable) -> str:
    """SELECT ... UNION ALL ...: one scan per partition, partition values as typed constants."""
    where = f"{schema}.{table.name}"
    data = [(c, pg_type(t, f"{where} column {c}")) for c, t in table.columns]
    keys = [(k, pg_type(t, f"{where} partition key {k}")) for k, t in table.partition_keys]
    if not data:
        raise SpectrumError(f"{where}: the Glue table has no columns")
    coldefs = ", ".join(f"{_ident(c)} {t}" for c, t in data)

    def branch(location: str, values: list[str] | None) -> str:
        spec = json.dumps({"location": location, "columns": [c for c, _ in data]}).encode().hex()
        consts = []
        for (k, t), v in zip(keys, values or [], strict=True):
            consts.append(
                f"CAST({'NULL' if v == HIVE_DEFAULT_PARTITION else _literal(v)} AS {t}) AS {_ident(k)}"
            )
        return (
            f"SELECT s.*{''.join(', ' + c for c in consts)} FROM {SCAN_FUNCTION}("
            f"{_literal(location)}, {_literal(coldefs)}, {_literal(spec)}) AS s({coldefs})"
        )

    if not keys:
        return branch(table.location, None)
    if not table.partitions:  # a partitioned table without partitions: no rows, the right columns
        cols = [f"CAST(NULL AS {t}) AS {_ident(c)}" for c, t in data + keys]
        return f"SELECT {', '.join(cols)} WHERE false"
    return "\nUNION ALL\n".join(branch(loc, values) for values, loc in table.partitions)


def _create_view(conn, schema: str, table: ExternalTable) -> None:
    body = view_sql(schema, table)
    name = _ident(schema, table.name)
    try:
        with conn.transaction():
            conn.execute(f"CREATE OR REPLACE VIEW {name} AS\n{body}")
    except psycopg.errors.InvalidTableDefinition:
        # The columns changed (a new Glue column lands before the partition keys): recreate. A local
        # view depending on it makes this fail, naming it, rather than being dropped silently.
        try:
            with conn.transaction():
                conn.execute(f"DROP VIEW {name}")
                conn.execute(f"CREATE VIEW {name} AS\n{body}")
        except psycopg.Error as e:
            raise SpectrumError(f"cannot rebuild external table {schema}.{table.name}: {e}") from e
    except psycopg.Error as e:
        raise SpectrumError(f"cannot create external table {schema}.{table.name}: {e}") from e


def _record(conn, schema: str, tables: list[ExternalTable]) -> None:
    for meta in ("external_tables", "external_partitions", "external_columns"):
        conn.execute(f"DELETE FROM lab_meta.{meta} WHERE schemaname = %s", [schema])
    with conn.cursor() as cur:
        for t in tables:
            fmt = (t.input_format, t.output_format, t.serialization_lib, "{}", 0)
            cur.execute(
                "INSERT INTO lab_meta.external_tables VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                [
                    schema,
                    t.name,
                    t.location,
                    *fmt,
                    json.dumps(t.parameters),
                    "EXTERNAL_TABLE",
                    len(t.partitions),
                ],
            )
            cur.executemany(
                "INSERT INTO lab_meta.external_partitions VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                [[schema, t.name, json.dumps(v), loc, *fmt, "{}"] for v, loc in t.partitions],
            )
            cur.executemany(
                "INSERT INTO lab_meta.external_columns VALUES (%s, %s, %s, %s, %s, %s, %s)",
                [
                    [schema, t.name, c, typ, i, k, "true"]
                    for i, (c, typ, k) in enumerate(
                        [(c, typ, 0) for c, typ in t.columns]
                        + [(c, typ, n) for n, (c, typ) in enumerate(t.partition_keys, start=1)],
                        start=1,
                    )
                ],
            )


def _build(conn, schema: str, tables: list[ExternalTable]) -> None:
    """Create/replace the views of `tables` in `schema`, drop those the catalog no longer has, record."""
    before = {
        r[0]
        for r in conn.execute(
            "SELECT tablename FROM lab_meta.external_tables WHERE schemaname = %s", [schema]
        ).fetchall()
    }
    for t in tables:
        _create_view(conn, schema, t)
    for gone in sorted(before - {t.name for t in tables}):
        try:
            with conn.transaction():
                conn.execute(f"DROP VIEW IF EXISTS {_ident(schema, gone)}")
        except psycopg.Error as e:
            raise SpectrumError(
                f"external table {schema}.{gone} left the Glue catalog but cannot be dropped: {e}"
            ) from e
    _record(conn, schema, tables)
    conn.execute("UPDATE lab_meta.external_schemas SET refreshed_at = now() WHERE schemaname = %s", [schema])


def _external_schemas(conn) -> dict[str, str]:
    exists = conn.execute("SELECT to_regclass('lab_meta.external_schemas')").fetchone()[0]
    if exists is None:
        return {}
    return dict(conn.execute("SELECT schemaname, databasename FROM lab_meta.external_schemas").fetchall())


# ---------------------------------------------------------------------------------- entry points


def create_external_schema(conn, settings: Settings, stmt: CreateExternalSchema) -> Result:
    """All or nothing, in one transaction (committed unless the caller has one open)."""
    with conn.transaction():
        existing = conn.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", [stmt.schema]).fetchone()
        if existing:
            if stmt.schema not in _external_schemas(conn):
                raise SpectrumError(
                    f"CREATE EXTERNAL SCHEMA {stmt.schema}: a (local) schema {stmt.schema} already exists"
                )
            if stmt.if_not_exists:
                return Result(message=f"external schema {stmt.schema} already exists, skipping")
            raise SpectrumError(f"CREATE EXTERNAL SCHEMA {stmt.schema}: schema {stmt.schema} already exists")
        tables = read_catalog(settings, stmt.database, create=stmt.create_database)
        install(conn, settings)
        options = {"IAM_ROLE": stmt.iam_role, **({"REGION": stmt.region} if stmt.region else {})}
        conn.execute(f"CREATE SCHEMA {_ident(stmt.schema)}")
        conn.execute(
            "INSERT INTO lab_meta.external_schemas (schemaname, databasename, esoptions) VALUES (%s, %s, %s)",
            [stmt.schema, stmt.database, json.dumps(options)],
        )
        _build(conn, stmt.schema, tables)
    parts = sum(len(t.partitions) for t in tables)
    return Result(
        message=f"CREATE EXTERNAL SCHEMA {stmt.schema}: {len(tables)} external tables "
        f"({parts} partitions) from Glue database {stmt.database}"
    )


def refresh(conn, settings: Settings) -> dict[str, int]:
    """Rebuild the views of every external schema from the Glue catalog (new/removed tables,
    partitions, columns) and re-install the scan function with the current S3 endpoint, in one
    transaction. Returns {schema: number of external tables}. Call it after the pipeline's crawl."""
    with conn.transaction():
        schemas = _external_schemas(conn)
        if not schemas:
            return {}
        catalogs = {s: read_catalog(settings, db) for s, db in sorted(schemas.items())}
        install(conn, settings)
        for schema, tables in catalogs.items():
            _build(conn, schema, tables)
    return {schema: len(tables) for schema, tables in catalogs.items()}


def is_external(conn, schema: str) -> bool:
    with conn.transaction():  # leaves no transaction open behind the caller's statement
        return schema in _external_schemas(conn)


def drop_external_schema(conn, stmt: DropSchema) -> Result:
    if stmt.drop_database:
        raise SpectrumError(
            f"DROP SCHEMA {stmt.schema} DROP EXTERNAL DATABASE: deleting the Glue database is not "
            "done from the lab's SQL; drop the schema alone (the catalog keeps its tables)"
        )
    try:
        with conn.transaction():
            tables = [
                r[0]
                for r in conn.execute(
                    "SELECT tablename FROM lab_meta.external_tables WHERE schemaname = %s", [stmt.schema]
                ).fetchall()
            ]
            for t in tables:
                conn.execute(
                    f"DROP VIEW IF EXISTS {_ident(stmt.schema, t)}{' CASCADE' if stmt.cascade else ''}"
                )
            conn.execute(f"DROP SCHEMA {_ident(stmt.schema)}{' CASCADE' if stmt.cascade else ''}")
            for meta in ("external_schemas", "external_tables", "external_partitions", "external_columns"):
                conn.execute(f"DELETE FROM lab_meta.{meta} WHERE schemaname = %s", [stmt.schema])
    except psycopg.Error as e:
        raise SpectrumError(f"DROP SCHEMA {stmt.schema}: {e}".strip()) from e
    return Result(
        message=f"DROP SCHEMA {stmt.schema}: external schema dropped ({len(tables)} external tables); "
        "the Glue database is unchanged"
    )
