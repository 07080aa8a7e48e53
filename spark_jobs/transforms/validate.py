"""Validation rules: split conformed trips into accepted (staging) and rejected (quarantine) rows.
Why: docs/adr/0007-nothing-lost.md.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from spark_jobs.month import Month
from spark_jobs.schemas.contracts import (
    CANONICAL_COLUMNS,
    QUARANTINE_COLUMNS,
    QUARANTINE_REASONS,
    check_columns,
)
from spark_jobs.transforms.conform import (
    MONEY_COLUMNS,
    NONFINITE_FLAG,
    micros_between,
    ntz_literal,
    speed_mph,
    unconformed,
)

REASONS_COLUMN = "_reason_codes"  # flag() output: fired codes comma-separated in RULES order, "" if none

REQUIRED_COLUMNS = [
    "vendor_id",
    "pickup_datetime",
    "dropoff_datetime",
    "pu_location_id",
    "do_location_id",
    "payment_type",
    "trip_distance",
    "fare_amount",
    "total_amount",
]
# Columns whose unreadable source values another rule names (NONFINITE_AMOUNT or a domain rule), so
# their null is not also reported as MISSING_REQUIRED.
_NAMED_ELSEWHERE = set(MONEY_COLUMNS) | {
    "trip_distance",
    "vendor_id",
    "pu_location_id",
    "do_location_id",
    "payment_type",
}

VALID_VENDORS = (1, 2, 6, 7)
VALID_RATECODES = (1, 2, 3, 4, 5, 6, 99)
LOCATION_RANGE = (1, 265)
PAYMENT_RANGE = (0, 6)
PASSENGER_RANGE = (0, 9)
VALID_STORE_AND_FWD_FLAGS = ("Y", "N")
MAX_DURATION_US = 24 * 3600 * 1_000_000
MAX_DISTANCE_MI = 100.0
MAX_FARE, MAX_TOTAL, MAX_TIP = 1000, 2000, 500
MAX_SPEED_MPH = 100.0


@dataclass(frozen=True)
class RuleContext:
    """What a predicate may depend on besides the row: the month processed and the input's columns."""

    month_start: str  # 'YYYY-MM-01 00:00:00', inclusive
    month_end: str  # first instant of the next month, exclusive
    columns: tuple[str, ...]


@dataclass(frozen=True)
class Rule:
    code: str
    description: str
    violates: Callable[[RuleContext], Column]  # builds the Column: true when the row breaks the rule


def month_bounds(month: str) -> tuple[str, str]:
    """'YYYY-MM' -> ('YYYY-MM-01 00:00:00', first instant of the next month), as Spark literals."""
    first, end = Month.parse(month).bounds()
    return f"{first} 00:00:00", f"{end} 00:00:00"


def _c(name: str) -> Column:
    return F.col(name)


def _any(*preds: Column) -> Column:
    out = preds[0]
    for p in preds[1:]:
        out = out | p
    return out


def _missing_required(ctx: RuleContext) -> Column:
    terms = []
    for name in REQUIRED_COLUMNS:
        term = _c(name).isNull()
        if name in _NAMED_ELSEWHERE:
            term = term & ~unconformed(list(ctx.columns), name)
        terms.append(term)
    return _any(*terms)


def _nonfinite(ctx: RuleContext) -> Column:
    return _c(NONFINITE_FLAG) if NONFINITE_FLAG in ctx.columns else F.lit(False)


def _outside_month(ctx: RuleContext) -> Column:
    p = _c("pickup_datetime")
    return ~((p >= ntz_literal(ctx.month_start)) & (p < ntz_literal(ctx.month_end)))


def _duration_us() -> Column:
    return micros_between("pickup_datetime", "dropoff_datetime")


def _out_of(name: str, lo: int, hi: int) -> Column:
    return ~_c(name).between(lo, hi)


def _domain(ctx: RuleContext, name: str, bad_value: Column) -> Column:
    return bad_value | unconformed(list(ctx.columns), name)


_PREDICATES: dict[str, Callable[[RuleContext], Column]] = {
    "MISSING_REQUIRED": _missing_required,
    "NONFINITE_AMOUNT": _nonfinite,
    "PICKUP_OUTSIDE_MONTH": _outside_month,
    "NON_POSITIVE_DURATION": lambda ctx: _c("dropoff_datetime") <= _c("pickup_datetime"),
    "DURATION_OVER_24H": lambda ctx: _duration_us() > F.lit(MAX_DURATION_US),
    # least() skips nulls: null only when every money column is null (then MISSING_REQUIRED fires).
    "NEGATIVE_AMOUNT": lambda ctx: F.least(*[_c(m) for m in MONEY_COLUMNS]) < 0,
    "ZERO_DISTANCE": lambda ctx: _c("trip_distance") <= 0,
    "DISTANCE_OVER_100MI": lambda ctx: _c("trip_distance") > F.lit(MAX_DISTANCE_MI),
    "FARE_OUTLIER": lambda ctx: (
        (_c("fare_amount") > MAX_FARE) | (_c("total_amount") > MAX_TOTAL) | (_c("tip_amount") > MAX_TIP)
    ),
    "SPEED_OUTLIER": lambda ctx: (
        (_c("trip_distance") > 0) & (speed_mph(_c("trip_distance"), _duration_us()) > F.lit(MAX_SPEED_MPH))
    ),
    "INVALID_LOCATION": lambda ctx: (
        _domain(ctx, "pu_location_id", _out_of("pu_location_id", *LOCATION_RANGE))
        | _domain(ctx, "do_location_id", _out_of("do_location_id", *LOCATION_RANGE))
    ),
    "INVALID_VENDOR": lambda ctx: _domain(ctx, "vendor_id", ~_c("vendor_id").isin(*VALID_VENDORS)),
    "INVALID_PAYMENT_TYPE": lambda ctx: _domain(ctx, "payment_type", _out_of("payment_type", *PAYMENT_RANGE)),
    "INVALID_RATECODE": lambda ctx: _domain(
        ctx, "ratecode_id", _c("ratecode_id").isNotNull() & ~_c("ratecode_id").isin(*VALID_RATECODES)
    ),
    "INVALID_PASSENGER_COUNT": lambda ctx: _domain(
        ctx,
        "passenger_count",
        _c("passenger_count").isNotNull() & _out_of("passenger_count", *PASSENGER_RANGE),
    ),
    # Exact match, no trimming or case folding: the warehouse column is VARCHAR(1), Y or N (ADR 0007).
    "INVALID_STORE_AND_FWD_FLAG": lambda ctx: _domain(
        ctx,
        "store_and_fwd_flag",
        _c("store_and_fwd_flag").isNotNull() & ~_c("store_and_fwd_flag").isin(*VALID_STORE_AND_FWD_FLAGS),
    ),
}

# The ordered rule list: codes and descriptions from contracts.QUARANTINE_REASONS, predicates above.
RULES: list[Rule] = [Rule(code, desc, _PREDICATES[code]) for code, desc in QUARANTINE_REASONS]
assert set(_PREDICATES) == {r.code for r in RULES}, (
    "validate predicates and contracts.QUARANTINE_REASONS differ"
)
RULE_CODES = [r.code for r in RULES]

_CANONICAL = [name for name, _ in CANONICAL_COLUMNS]


def flag(df: DataFrame, month: str) -> DataFrame:
    """Conformed rows -> CANONICAL_COLUMNS + `_reason_codes` (string, "" when the row is accepted).

    One projection evaluates every rule once per row: concat_ws skips the codes of rules that did not
    fire (all built-in, code-generated expressions; an array + array_compact would fall back to
    interpreted evaluation). Persist its result if both outputs are written from an uncached input.
    """
    start, end = month_bounds(month)
    missing = [c for c in _CANONICAL if c not in df.columns]
    if missing:
        raise ValueError(f"validate needs the canonical columns; missing {missing}")
    ctx = RuleContext(start, end, tuple(df.columns))
    codes = [F.when(F.coalesce(rule.violates(ctx), F.lit(False)), F.lit(rule.code)) for rule in RULES]
    return df.select(*_CANONICAL, F.concat_ws(",", *codes).alias(REASONS_COLUMN))


def split_flagged(flagged: DataFrame) -> tuple[DataFrame, DataFrame]:
    """flag() output -> (accepted: CANONICAL_COLUMNS, rejected: QUARANTINE_COLUMNS)."""
    reasons = F.col(REASONS_COLUMN)
    accepted = flagged.where(reasons == "").select(*_CANONICAL)
    rejected = flagged.where(reasons != "").select(
        *_CANONICAL,
        reasons.alias("reason_codes"),
        F.substring_index(reasons, ",", 1).alias("primary_reason"),
    )
    check_columns(accepted.dtypes, CANONICAL_COLUMNS, "accepted trips")
    check_columns(rejected.dtypes, QUARANTINE_COLUMNS, "quarantined trips")
    return accepted, rejected


def split(df: DataFrame, month: str) -> tuple[DataFrame, DataFrame]:
    """Conformed rows of `month` ('YYYY-MM') -> (accepted, rejected); every row lands in exactly one."""
    return split_flagged(flag(df, month))
