"""Fuzzing (hypothesis) of the three parsers that take text or files from users: the Redshift statement
parser (COPY/UNLOAD options, quoting, comments), the dialect guard, and the ingest schema checker. No input
makes them fail with anything but their own named error; every input is accepted or refused with a
message. Bounded: 200 examples each, no deadline (the machine is shared and slow)."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from emulation.redshift import guard
from emulation.redshift.dialect import DialectError
from emulation.redshift.statements import (
    CopyStatement,
    RedshiftStatementError,
    UnloadStatement,
    parse_copy,
    parse_unload,
)
from spark_jobs.schemas.tlc import check_source_schema
from taxilab.ingest.raw import IngestError, SourceFile, refuse_unusable

FUZZ = settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)

# Pieces of COPY/UNLOAD statements, mixed with quoting, comments and stray characters.
PIECES = [
    "COPY",
    "UNLOAD",
    "taxi.fct_trips",
    "t",
    "(a, b)",
    "(",
    ")",
    ",",
    "FROM",
    "TO",
    "'s3://b/k/'",
    "'s3://b'",
    "'s3:/x'",
    "'/etc/passwd'",
    "IAM_ROLE",
    "'arn:aws:iam::123456789012:role/r'",
    "DEFAULT",
    "FORMAT",
    "AS",
    "PARQUET",
    "CSV",
    "JSON",
    "DELIMITER",
    "'|'",
    "'\\t'",
    "IGNOREHEADER",
    "1",
    "-1",
    "99999999999999999999",
    "NULL",
    "GZIP",
    "MAXERROR",
    "MANIFEST",
    "HEADER",
    "PARTITION",
    "BY",
    "INCLUDE",
    "PARALLEL",
    "ON",
    "OFF",
    "ALLOWOVERWRITE",
    "CLEANPATH",
    "('select 1')",
    "('select ''x''')",
    "'",
    "''",
    '"',
    '"q"',
    "$$",
    "$t$",
    "--",
    "-- comment\n",
    "/*",
    "*/",
    "/* c */",
    "\\",
    "\n",
    ";",
    "; DROP TABLE t",
    "\0",
    "é",
    "\u202e",
    "E'\\''",
    "'unterminated",
]
statements = st.one_of(
    st.lists(st.sampled_from(PIECES), min_size=0, max_size=14).map(" ".join),
    st.lists(st.sampled_from(PIECES), min_size=1, max_size=14).map("".join),
    st.text(max_size=120),
    st.builds(
        lambda head, tail: head + tail,
        st.sampled_from(["COPY ", "UNLOAD ", "copy t from ", "UNLOAD ('"]),
        st.text(max_size=80),
    ),
)


@FUZZ
@given(statements)
def test_copy_parser_accepts_or_refuses_with_its_own_error(sql):
    try:
        stmt = parse_copy(sql)
    except RedshiftStatementError as e:
        assert str(e).strip()
    else:
        assert isinstance(stmt, CopyStatement) and stmt.table and stmt.source.startswith("s3://")


@FUZZ
@given(statements)
def test_unload_parser_accepts_or_refuses_with_its_own_error(sql):
    try:
        stmt = parse_unload(sql)
    except RedshiftStatementError as e:
        assert str(e).strip()
    else:
        assert isinstance(stmt, UnloadStatement) and stmt.target.startswith("s3://")


SQL_PIECES = [
    "SELECT",
    "*",
    "a",
    "FROM",
    "t",
    "WHERE",
    "1",
    "=",
    "'x'",
    "GROUP BY",
    "ORDER BY",
    "LIMIT",
    "(",
    ")",
    ",",
    "GENERATE_SERIES(1, 3)",
    "ARRAY[1]",
    "x::jsonb",
    "DISTINCT ON (a)",
    "ILIKE",
    "RETURNING a",
    "NOW()",
    "CREATE TABLE t (a SERIAL)",
    "INSERT INTO t VALUES (1)",
    "--",
    "/*",
    "*/",
    "'",
    '"',
    "$$",
    "\\",
    ";",
    "\n",
    "lab_meta.spectrum_scan('x','a text','00; id')",
    "AS s(a text)",
    "WITH",
    "q AS (SELECT 1)",
    "UNION ALL",
]
guarded = st.one_of(st.lists(st.sampled_from(SQL_PIECES), max_size=16).map(" ".join), st.text(max_size=120))


@FUZZ
@given(guarded)
def test_dialect_guard_lists_violations_or_refuses_with_a_dialect_error(sql):
    try:
        found = guard.violations(sql)
    except DialectError as e:
        assert str(e).strip()
    else:
        assert isinstance(found, list) and all(isinstance(m, str) and m for m in found)


# ---- the ingest schema checker ---------------------------------------------------------------------
NAMES = [
    "VendorID",
    "vendorid",
    "tpep_pickup_datetime",
    "tpep_dropoff_datetime",
    "passenger_count",
    "trip_distance",
    "RatecodeID",
    "store_and_fwd_flag",
    "PULocationID",
    "DOLocationID",
    "payment_type",
    "fare_amount",
    "extra",
    "mta_tax",
    "tip_amount",
    "tolls_amount",
    "improvement_surcharge",
    "total_amount",
    "congestion_surcharge",
    "Airport_fee",
    "airport_fee",
    "cbd_congestion_fee",
    "lpep_pickup_datetime",
    "vendor_name",
    "Trip_Pickup_DateTime",
    "",
    " ",
    "é",
    "a.b",
]
TYPES = [
    pa.int8(),
    pa.int32(),
    pa.int64(),
    pa.float32(),
    pa.float64(),
    pa.string(),
    pa.large_string(),
    pa.null(),
    pa.bool_(),
    pa.timestamp("us"),
    pa.timestamp("ns"),
    pa.timestamp("ms", tz="UTC"),
    pa.date32(),
    pa.decimal128(10, 2),
    pa.binary(),
    pa.list_(pa.int32()),
    pa.struct([("x", pa.int8())]),
    pa.dictionary(pa.int32(), pa.string()),
]
schemas = st.lists(
    st.tuples(st.one_of(st.sampled_from(NAMES), st.text(max_size=12)), st.sampled_from(TYPES)), max_size=22
).map(lambda fields: pa.schema([pa.field(n, t) for n, t in fields]))


@FUZZ
@given(schemas, st.integers(min_value=-5, max_value=10**9))
def test_schema_checker_returns_problems_or_accepts_never_crashes(schema, rows):
    problems = check_source_schema(schema, rows)
    assert isinstance(problems, list) and all(isinstance(p, str) and p.strip() for p in problems)


@FUZZ
@given(st.binary(max_size=400), st.sampled_from([b"", b"PAR1", b"PAR1\x00\x00\x00\x00PAR1"]))
def test_a_file_of_any_bytes_is_accepted_or_refused_naming_it(tmp_path, body, prefix):
    f = tmp_path / "month.parquet"
    f.write_bytes(prefix + body + (b"PAR1" if prefix else b""))
    with pytest.raises(IngestError, match="SOURCE fuzz: refused: "):
        refuse_unusable(SourceFile(f, "fuzz"))


@FUZZ
@given(schemas)
def test_a_real_parquet_file_of_any_schema_is_accepted_or_refused_with_a_message(tmp_path, schema):
    f = tmp_path / "month.parquet"
    try:
        pq.write_table(schema.empty_table(), f)
    except (pa.ArrowException, ValueError):
        return  # not writable as Parquet (e.g. duplicate names in a nested type): nothing to check
    try:
        refuse_unusable(SourceFile(f, "fuzz"))
    except IngestError as e:
        assert "SOURCE fuzz: refused: " in str(e)
    else:
        assert not check_source_schema(
            pq.read_schema(f), 0
        )  # accepted: the checker found nothing (and rows=0 refuses)
