"""Table contracts: the schemas every zone promises to its readers.
Why: docs/adr/0003-exact-money-and-reconciliation.md.
"""

from __future__ import annotations

from dataclasses import dataclass

MONEY = "decimal(12,2)"  # TLC amounts are dollars and cents; decimal keeps every sum exact
MONEY_SUM = "decimal(18,2)"

# Canonical trip columns: every TLC era is conformed to these names and types (snake_case).
CANONICAL_COLUMNS: list[tuple[str, str]] = [
    ("vendor_id", "int"),
    ("pickup_datetime", "timestamp_ntz"),
    ("dropoff_datetime", "timestamp_ntz"),
    ("passenger_count", "int"),
    ("trip_distance", "double"),
    ("ratecode_id", "int"),
    ("store_and_fwd_flag", "string"),
    ("pu_location_id", "int"),
    ("do_location_id", "int"),
    ("payment_type", "int"),
    ("fare_amount", MONEY),
    ("extra", MONEY),
    ("mta_tax", MONEY),
    ("tip_amount", MONEY),
    ("tolls_amount", MONEY),
    ("improvement_surcharge", MONEY),
    ("total_amount", MONEY),
    ("congestion_surcharge", MONEY),
    ("airport_fee", MONEY),
    ("cbd_congestion_fee", MONEY),
    ("source_file", "string"),
]

# Columns the enrichment adds to accepted rows (staging).
ENRICHED_COLUMNS: list[tuple[str, str]] = [
    ("trip_duration_min", "double"),
    ("avg_speed_mph", "double"),
    ("pickup_hour", "int"),
    ("pickup_weekday", "int"),  # ISO: 1 = Monday .. 7 = Sunday
    ("is_weekend", "boolean"),
    ("tip_pct", "double"),  # tip / fare * 100; null when fare <= 0
    ("fare_per_mile", "double"),  # null when distance <= 0
    ("distance_category", "string"),
    ("pu_borough", "string"),
    ("pu_zone", "string"),
    ("do_borough", "string"),
    ("do_zone", "string"),
    ("is_airport_trip", "boolean"),  # pickup or dropoff at EWR (1), JFK (132) or LaGuardia (138)
    ("is_flex_fare", "boolean"),  # the TLC null block: payment_type 0, null passenger/ratecode/fees
    ("is_unknown_zone", "boolean"),  # pickup or dropoff in 264/265
    ("is_zero_passengers", "boolean"),
]

# Hive partition columns of staging (directory names, restored by readers).
STAGING_PARTITIONS: list[tuple[str, str]] = [
    ("pickup_date", "date"),
    ("time_of_day_category", "string"),
]

# time_of_day_category by pickup hour.
TIME_OF_DAY = [
    ("overnight", 0, 5),
    ("morning_rush", 6, 9),
    ("midday", 10, 15),
    ("evening_rush", 16, 19),
    ("evening", 20, 23),
]

# distance_category by trip_distance (miles), lower bound inclusive, upper exclusive.
DISTANCE_CATEGORIES = [
    ("0-1 mi", 0.0, 1.0),
    ("1-3 mi", 1.0, 3.0),
    ("3-5 mi", 3.0, 5.0),
    ("5-10 mi", 5.0, 10.0),
    ("10-20 mi", 10.0, 20.0),
    ("20+ mi", 20.0, None),
]

PAYMENT_TYPES = {
    0: "Flex Fare",
    1: "Credit card",
    2: "Cash",
    3: "No charge",
    4: "Dispute",
    5: "Unknown",
    6: "Voided trip",
}

AIRPORT_ZONES = (1, 132, 138)
UNKNOWN_ZONES = (264, 265)

STAGING_COLUMNS = CANONICAL_COLUMNS + ENRICHED_COLUMNS + STAGING_PARTITIONS

# Quarantine: the canonical columns as conformed (values that could not be conformed are null and
# named in reason_codes) + why. Partitioned by the month being processed.
QUARANTINE_COLUMNS: list[tuple[str, str]] = CANONICAL_COLUMNS + [
    ("reason_codes", "string"),  # comma-separated, every rule that fired, in rule order
    ("primary_reason", "string"),  # the first of reason_codes
]
QUARANTINE_PARTITIONS: list[tuple[str, str]] = [("year", "int"), ("month", "int")]

# Validation rules, in the order reason_codes lists them (code, what makes a row fail it). The
# predicates live in spark_jobs/transforms/validate.py (RULES), which must follow this exact order.
QUARANTINE_REASONS: list[tuple[str, str]] = [
    (
        "MISSING_REQUIRED",
        "a required column is null (vendor, pickup/dropoff time, PU/DO location, "
        "payment type, distance, fare or total), other than through a non-finite or unconformable source value",
    ),
    (
        "NONFINITE_AMOUNT",
        "a money column or trip_distance was NaN/+-inf (or beyond decimal(12,2)) in the source",
    ),
    ("PICKUP_OUTSIDE_MONTH", "pickup_datetime is not within the month being processed"),
    ("NON_POSITIVE_DURATION", "dropoff_datetime <= pickup_datetime"),
    ("DURATION_OVER_24H", "dropoff is more than 24 hours after pickup"),
    ("NEGATIVE_AMOUNT", "a money column is negative (refunds/reversals are kept in quarantine)"),
    ("ZERO_DISTANCE", "trip_distance <= 0"),
    ("DISTANCE_OVER_100MI", "trip_distance > 100 miles"),
    ("FARE_OUTLIER", "fare_amount > 1000 or total_amount > 2000 or tip_amount > 500"),
    ("SPEED_OUTLIER", "average speed > 100 mph (duration > 0 and distance > 0)"),
    ("INVALID_LOCATION", "PU or DO location id not in 1..265 (or not an integer in the source)"),
    ("INVALID_VENDOR", "vendor_id not in 1, 2, 6, 7 (or not an integer in the source)"),
    ("INVALID_PAYMENT_TYPE", "payment_type not in 0..6 (or not an integer in the source)"),
    ("INVALID_RATECODE", "ratecode_id not null and not in 1..6, 99 (or not an integer in the source)"),
    ("INVALID_PASSENGER_COUNT", "passenger_count not null and not in 0..9 (or not an integer in the source)"),
    (
        "INVALID_STORE_AND_FWD_FLAG",
        "store_and_fwd_flag not null and not exactly 'Y' or 'N' (kept as delivered)",
    ),
]


@dataclass(frozen=True)
class CuratedTable:
    name: str
    grain: str
    keys: list[str]  # grouping columns, real columns in the files
    columns: list[tuple[str, str]]  # keys first, then measures


_COMMON_MEASURES = [
    ("trip_count", "bigint"),
    ("total_revenue", MONEY_SUM),  # sum(total_amount)
    ("total_fare", MONEY_SUM),  # sum(fare_amount)
    ("total_tips", MONEY_SUM),  # sum(tip_amount)
]

CURATED: dict[str, CuratedTable] = {
    t.name: t
    for t in [
        CuratedTable(
            "daily_summary",
            "one row per pickup date",
            ["pickup_date"],
            [("pickup_date", "date"), ("pickup_weekday", "int"), ("is_weekend", "boolean")]
            + _COMMON_MEASURES
            + [
                ("total_passengers", "bigint"),
                ("total_distance", "double"),
                ("avg_fare", "double"),
                ("avg_distance", "double"),
                ("avg_duration_min", "double"),
                ("avg_tip_pct", "double"),
                ("airport_trips", "bigint"),
            ],
        ),
        CuratedTable(
            "hourly_patterns",
            "one row per pickup date and hour",
            ["pickup_date", "pickup_hour"],
            [
                ("pickup_date", "date"),
                ("pickup_hour", "int"),
                ("pickup_weekday", "int"),
                ("is_weekend", "boolean"),
                ("time_of_day_category", "string"),
            ]
            + _COMMON_MEASURES
            + [("avg_fare", "double"), ("avg_duration_min", "double"), ("avg_speed_mph", "double")],
        ),
        CuratedTable(
            "payment_analysis",
            "one row per pickup date and payment type",
            ["pickup_date", "payment_type"],
            [("pickup_date", "date"), ("payment_type", "int"), ("payment_type_name", "string")]
            + _COMMON_MEASURES
            + [("tipped_trips", "bigint"), ("avg_tip_pct", "double")],
        ),
        CuratedTable(
            "distance_analysis",
            "one row per pickup date and distance category",
            ["pickup_date", "distance_category"],
            [("pickup_date", "date"), ("distance_category", "string")]
            + _COMMON_MEASURES
            + [
                ("total_distance", "double"),
                ("avg_fare_per_mile", "double"),
                ("avg_duration_min", "double"),
                ("avg_speed_mph", "double"),
            ],
        ),
        CuratedTable(
            "location_analysis",
            "one row per pickup date and pickup zone",
            ["pickup_date", "pu_location_id"],
            [
                ("pickup_date", "date"),
                ("pu_location_id", "int"),
                ("pu_borough", "string"),
                ("pu_zone", "string"),
            ]
            + _COMMON_MEASURES
            + [("avg_fare", "double"), ("avg_distance", "double"), ("avg_tip_pct", "double")],
        ),
    ]
}
# Curated tables are Hive-partitioned by pickup_month ('YYYY-MM') so a month can be replaced alone.
CURATED_PARTITIONS: list[tuple[str, str]] = [("pickup_month", "string")]


class ContractError(ValueError):
    """A DataFrame or file does not match the contract it is supposed to satisfy."""


def ddl(columns: list[tuple[str, str]]) -> str:
    """Spark DDL string ('a int, b string') for a column list."""
    return ", ".join(f"`{name}` {dtype}" for name, dtype in columns)


def spark_schema(columns: list[tuple[str, str]]):
    """StructType for a column list (imports pyspark lazily; needs an active SparkContext).

    pyspark 3.5 (Glue 5.0) has no StructType.fromDDL (added in 4.0): the DDL goes through the JVM parser.
    """
    from pyspark.sql.types import StructType, _parse_datatype_string

    if hasattr(StructType, "fromDDL"):
        return StructType.fromDDL(ddl(columns))
    return _parse_datatype_string(ddl(columns))


def check_columns(actual: list[tuple[str, str]], expected: list[tuple[str, str]], what: str) -> None:
    """Raise ContractError naming every missing, extra or mistyped column."""
    a, e = dict(actual), dict(expected)
    problems = []
    missing = [c for c in e if c not in a]
    extra = [c for c in a if c not in e]
    wrong = [f"{c}: expected {e[c]}, found {a[c]}" for c in e if c in a and a[c] != e[c]]
    if missing:
        problems.append(f"missing columns {missing}")
    if extra:
        problems.append(f"unexpected columns {extra}")
    if wrong:
        problems.append("wrong types: " + "; ".join(wrong))
    if problems:
        raise ContractError(f"{what} does not match its contract: " + "; ".join(problems))
