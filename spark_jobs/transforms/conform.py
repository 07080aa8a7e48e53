"""Conform a raw TLC yellow file (any era 2011+) to the canonical trip schema.
Why: docs/adr/0007-nothing-lost.md.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from spark_jobs.schemas.contracts import CANONICAL_COLUMNS, MONEY, ContractError, check_columns
from spark_jobs.schemas.tlc import REQUIRED_SOURCE_COLUMNS, SOURCE_TO_CANONICAL

NONFINITE_FLAG = "_nonfinite_amount"
UNCONFORMED_MASK = "_unconformed_mask"
TRANSIENT_COLUMNS: list[tuple[str, str]] = [(NONFINITE_FLAG, "boolean"), (UNCONFORMED_MASK, "int")]

CANONICAL_NAMES = [name for name, _ in CANONICAL_COLUMNS]
CANONICAL_TYPES = dict(CANONICAL_COLUMNS)
MONEY_COLUMNS = [name for name, dtype in CANONICAL_COLUMNS if dtype == MONEY]
# Columns whose unconformable source values count as "non-finite amounts".
AMOUNT_COLUMNS = MONEY_COLUMNS + ["trip_distance"]

_INT_MIN, _INT_MAX = -(2**31), 2**31 - 1
# decimal(12,2) holds |x| <= 9,999,999,999.99; the guard keeps the cast from overflowing (which would be
# null in default mode and an error with spark.sql.ansi.enabled).
_MONEY_LIMIT = 9_999_999_999.99
_INF = float("inf")
_EPOCH_NTZ = "timestamp_ntz'1970-01-01 00:00:00'"


# ---------------------------------------------------------------------------------------------------
# Time helpers shared by validate and enrich: all arithmetic on timestamp_ntz is done without the
# session time zone (timestampdiff/interval arithmetic on ntz values use no zone).
# ---------------------------------------------------------------------------------------------------


def micros_between(start_col: str, end_col: str) -> Column:
    """end - start in microseconds (bigint) for two timestamp_ntz columns, independent of session tz.

    ntz - ntz is a day-time interval computed without any zone (about twice as fast as timestampdiff).
    """
    return F.expr(
        f"CAST(CAST(CAST(`{end_col}` - `{start_col}` AS INTERVAL SECOND) AS DECIMAL(18,6)) * 1000000 AS BIGINT)"
    )


def speed_mph(distance: Column, micros: Column) -> Column:
    """Miles per hour from a distance in miles and a duration in microseconds (null if duration <= 0)."""
    return F.when(micros > 0, distance / (micros / F.lit(3_600_000_000.0)))


def ntz_from_epoch_micros(micros: Column) -> Column:
    """timestamp_ntz whose wall clock is the UTC wall clock of `micros` since the epoch."""
    return F.expr(_EPOCH_NTZ) + micros * F.expr("INTERVAL '0.000001' SECOND")


def ntz_literal(text: str) -> Column:
    """A timestamp_ntz literal ('YYYY-MM-DD HH:MM:SS'); casting a string to ntz uses no time zone."""
    return F.lit(text).cast("timestamp_ntz")


# ---------------------------------------------------------------------------------------------------
# Source column discovery
# ---------------------------------------------------------------------------------------------------


def _source_columns(df: DataFrame) -> dict[str, str]:
    """canonical name -> actual source column name (case-insensitive match)."""
    found: dict[str, str] = {}
    for name in df.columns:
        canonical = SOURCE_TO_CANONICAL.get(name.lower())
        if canonical is None:
            continue
        if canonical in found:
            raise ContractError(
                f"source columns {found[canonical]!r} and {name!r} both map to {canonical!r} "
                "(names are matched case-insensitively)"
            )
        found[canonical] = name
    return found


def unknown_columns(df: DataFrame, source_file_col: str = "source_file") -> list[str]:
    """Source columns conform() drops because the TLC mapping does not know them (for the job to report)."""
    return [c for c in df.columns if c.lower() not in SOURCE_TO_CANONICAL and c != source_file_col]


def missing_required(df: DataFrame) -> list[str]:
    """Required TLC source columns (lower-cased names) absent from df; non-empty -> refuse the file."""
    present = {c.lower() for c in df.columns}
    return [c for c in REQUIRED_SOURCE_COLUMNS if c not in present]


# ---------------------------------------------------------------------------------------------------
# Per-type conversions: each returns (value, unconformable): unconformable is true where a present source
# value could not be conformed (null/false elsewhere; conform() coalesces it), or None when the source type
# cannot produce an unconformable value (so no per-row work is spent on it). It never re-evaluates the
# conversion itself, which for money (decimal casts) is the costly part.
# ---------------------------------------------------------------------------------------------------


def _parse_double(name: str) -> Column:
    """A string source column as double; null where it does not parse (try_cast: also under ANSI mode)."""
    return F.expr(f"try_cast(`{name}` AS double)")


def _to_int(col: Column, dtype: T.DataType, name: str) -> tuple[Column, Column | None]:
    if isinstance(dtype, T.IntegerType | T.ShortType | T.ByteType):
        return col.cast("int"), None
    if isinstance(dtype, T.LongType):
        ok = col.between(_INT_MIN, _INT_MAX)
        return F.when(ok, col.cast("int")), ~ok
    if isinstance(dtype, T.FloatType | T.DoubleType | T.DecimalType):
        # x % 1 is NaN for NaN/inf, so those fail the integral test too.
        ok = (col % 1 == 0) & col.between(_INT_MIN, _INT_MAX)
        return F.when(ok, col.cast("int")), ~ok
    if isinstance(dtype, T.StringType):
        x = _parse_double(name)
        ok = (x % 1 == 0) & x.between(_INT_MIN, _INT_MAX)
        return F.when(ok, x.cast("int")), col.isNotNull() & ~F.coalesce(ok, F.lit(False))
    raise TypeError(dtype)


def _to_double(col: Column, dtype: T.DataType, name: str) -> tuple[Column, Column | None]:
    if isinstance(dtype, T.IntegralType | T.DecimalType):
        return col.cast("double"), None
    if isinstance(dtype, T.FloatType | T.DoubleType):
        x = col.cast("double")
        # NaN sorts above every double in Spark, so |x| < inf is false for NaN and +-inf, null for null.
        ok = F.abs(x) < F.lit(_INF)
        return F.when(ok, x), ~ok
    if isinstance(dtype, T.StringType):
        x = _parse_double(name)
        ok = F.abs(x) < F.lit(_INF)
        return F.when(ok, x), col.isNotNull() & ~F.coalesce(ok, F.lit(False))
    raise TypeError(dtype)


def _to_money(col: Column, dtype: T.DataType, name: str) -> tuple[Column, Column | None]:
    # Casting double -> decimal rounds the shortest decimal form of the double half-up (2.675 -> 2.68,
    # -0.125 -> -0.13), i.e. the amount as printed; decimal -> decimal rounds half-up too. The range
    # guard (false for NaN/inf, which sort above every double) keeps the cast itself from overflowing.
    if isinstance(dtype, T.IntegralType | T.DecimalType | T.FloatType | T.DoubleType):
        ok = F.abs(col) <= F.lit(_MONEY_LIMIT)
        return F.when(ok, col.cast(MONEY)), ~ok
    if isinstance(dtype, T.StringType):
        x = _parse_double(name)
        ok = F.abs(x) <= F.lit(_MONEY_LIMIT)
        return F.when(ok, x.cast(MONEY)), col.isNotNull() & ~F.coalesce(ok, F.lit(False))
    raise TypeError(dtype)


def _to_ntz(col: Column, dtype: T.DataType, name: str) -> tuple[Column, Column | None]:
    if isinstance(dtype, T.TimestampNTZType):
        return col, None
    if isinstance(dtype, T.TimestampType):
        # An instant: take its UTC wall clock, whatever spark.sql.session.timeZone is.
        return ntz_from_epoch_micros(F.unix_micros(col)), None
    if isinstance(dtype, T.LongType):
        # Epoch nanoseconds (spark.sql.legacy.parquet.nanosAsLong); floor to microseconds.
        micros = F.expr(f"(`{name}` - pmod(`{name}`, 1000L)) div 1000L")
        return ntz_from_epoch_micros(micros), None
    if isinstance(dtype, T.DateType):
        return col.cast("timestamp_ntz"), None
    if isinstance(dtype, T.StringType):
        value = F.expr(f"try_cast(`{name}` AS timestamp_ntz)")
        return value, col.isNotNull() & value.isNull()
    raise TypeError(dtype)


def _to_string(col: Column, dtype: T.DataType, name: str) -> tuple[Column, Column | None]:
    if isinstance(dtype, T.StringType):
        return col, None
    if isinstance(dtype, T.BooleanType | T.IntegralType):
        return col.cast("string"), None
    raise TypeError(dtype)


_CONVERTERS = {
    "int": _to_int,
    "double": _to_double,
    MONEY: _to_money,
    "timestamp_ntz": _to_ntz,
    "string": _to_string,
}


def conform(df: DataFrame, source_file_col: str = "source_file") -> DataFrame:
    """Raw TLC rows -> canonical rows (one per source row) + TRANSIENT_COLUMNS.

    Raises ContractError if a required source column is absent, two source columns map to the same
    canonical column, a column has a type that cannot be conformed, or `source_file_col` is missing.
    Unknown extra columns are dropped (see unknown_columns()).
    """
    missing = missing_required(df)
    if missing:
        raise ContractError(f"raw TLC data is missing required columns {missing}; found {df.columns}")
    if source_file_col not in df.columns:
        raise ContractError(f"raw TLC data has no {source_file_col!r} column (the job must add it)")
    sources = _source_columns(df)
    sources["source_file"] = source_file_col
    dtypes = {f.name: f.dataType for f in df.schema.fields}

    values: list[Column] = []
    mask_terms: list[Column] = []
    nonfinite_terms: list[Column] = []
    for bit, (name, ctype) in enumerate(CANONICAL_COLUMNS):
        src = sources.get(name)
        if src is None or isinstance(dtypes[src], T.NullType):
            values.append(F.lit(None).cast(ctype).alias(name))
            continue
        dtype = dtypes[src]
        try:
            value, bad = _CONVERTERS[ctype](F.col(f"`{src}`"), dtype, src)
        except TypeError:
            raise ContractError(
                f"source column {src!r} has type {dtype.simpleString()}, which cannot be conformed to "
                f"{name} {ctype}"
            ) from None
        values.append(value.alias(name))
        if bad is not None:
            bad = F.coalesce(bad, F.lit(False))
            mask_terms.append(F.when(bad, F.lit(1 << bit)).otherwise(F.lit(0)))
            if name in AMOUNT_COLUMNS:
                nonfinite_terms.append(bad)

    nonfinite = F.lit(False)
    for term in nonfinite_terms:
        nonfinite = nonfinite | term
    mask = F.lit(0)
    for term in mask_terms:
        mask = mask + term  # distinct bits, so + is |
    out = df.select(*values, nonfinite.alias(NONFINITE_FLAG), mask.cast("int").alias(UNCONFORMED_MASK))
    check_columns(out.dtypes, CANONICAL_COLUMNS + TRANSIENT_COLUMNS, "conformed TLC data")
    return out


def unconformed(df_columns: list[str], name: str) -> Column:
    """True where canonical column `name` was nulled by conform() (false if df has no transient mask)."""
    if UNCONFORMED_MASK not in df_columns:
        return F.lit(False)
    bit = 1 << CANONICAL_NAMES.index(name)
    return F.col(UNCONFORMED_MASK).bitwiseAND(F.lit(bit)) != 0  # conform() never leaves the mask null
