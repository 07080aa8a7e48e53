"""Enrichment: accepted trips -> staging rows (one row per accepted trip, STAGING_COLUMNS).
Why: docs/adr/0003-exact-money-and-reconciliation.md.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from spark_jobs.schemas.contracts import (
    AIRPORT_ZONES,
    CANONICAL_COLUMNS,
    DISTANCE_CATEGORIES,
    STAGING_COLUMNS,
    TIME_OF_DAY,
    UNKNOWN_ZONES,
    ContractError,
    check_columns,
)
from spark_jobs.transforms.conform import micros_between, speed_mph

ZONE_COLUMNS: list[tuple[str, str]] = [
    ("LocationID", "int"),
    ("Borough", "string"),
    ("Zone", "string"),
    ("service_zone", "string"),
]
UNKNOWN = "Unknown"  # borough/zone of a location id the lookup does not have

_STAGING_NAMES = [name for name, _ in STAGING_COLUMNS]


def zones_from_csv_df(raw: DataFrame) -> DataFrame:
    """The zone lookup as read from taxi_zone_lookup.csv (header, all strings) -> ZONE_COLUMNS.

    One row per lookup row. Column names are matched case-insensitively; LocationID is cast to int and
    rows without a readable LocationID (none in the TLC file) are left out, since no trip can match them.
    'N/A' is a real value in the TLC file and stays text. Read the CSV with header=true and without
    inferSchema (or nullValue) so that nothing is turned into null.
    Raises ContractError if a column is missing.
    """
    by_lower = {c.lower(): c for c in raw.columns}
    missing = [name for name, _ in ZONE_COLUMNS if name.lower() not in by_lower]
    if missing:
        raise ContractError(
            f"zone lookup does not match its contract: missing columns {missing}; found {raw.columns}"
        )

    def src(name: str) -> Column:
        return F.col(f"`{by_lower[name.lower()]}`")

    location = F.trim(src("LocationID").cast("string")).cast("int")
    out = raw.select(
        location.alias("LocationID"),
        *[F.trim(src(name).cast("string")).alias(name) for name, _ in ZONE_COLUMNS[1:]],
    ).where(F.col("LocationID").isNotNull())
    check_columns(out.dtypes, ZONE_COLUMNS, "zone lookup")
    return out


def _bucket(value: Column, table, inclusive_hi: bool) -> Column:
    """First label of table [(label, lo, hi)] with lo <= value <= hi (or < hi); null if none."""
    out: Column | None = None
    for label, lo, hi in table:
        cond = value >= F.lit(lo)
        if hi is not None:
            cond = cond & ((value <= F.lit(hi)) if inclusive_hi else (value < F.lit(hi)))
        out = F.when(cond, F.lit(label)) if out is None else out.when(cond, F.lit(label))
    assert out is not None, "a bucket table needs at least one row"
    return out


def time_of_day(hour: Column) -> Column:
    """contracts.TIME_OF_DAY label of an hour 0..23."""
    return _bucket(hour, TIME_OF_DAY, inclusive_hi=True)


def distance_category(miles: Column) -> Column:
    """contracts.DISTANCE_CATEGORIES label (lower bound inclusive, upper exclusive); null if < 0 or null."""
    return _bucket(miles, DISTANCE_CATEGORIES, inclusive_hi=False)


def _zone_side(zones: DataFrame, prefix: str) -> DataFrame:
    """One row per LocationID (duplicates resolved deterministically), renamed for one join side."""
    dedup = zones.groupBy("LocationID").agg(F.min(F.struct("Borough", "Zone")).alias("z"))
    return F.broadcast(
        dedup.select(
            F.col("LocationID").alias(f"_{prefix}_key"),
            F.col("z.Borough").alias(f"_{prefix}_borough"),
            F.col("z.Zone").alias(f"_{prefix}_zone"),
        )
    )


def _in(col: Column, values) -> Column:
    return F.coalesce(col.isin(*values), F.lit(False))


def enrich(accepted: DataFrame, zones: DataFrame) -> DataFrame:
    """Accepted trips (CANONICAL_COLUMNS) + zone lookup (ZONE_COLUMNS) -> staging (STAGING_COLUMNS)."""
    check_columns(
        [(n, t) for n, t in accepted.dtypes if n in dict(CANONICAL_COLUMNS)],
        CANONICAL_COLUMNS,
        "accepted trips",
    )
    missing = [n for n, _ in ZONE_COLUMNS[:3] if n not in zones.columns]
    if missing:
        raise ContractError(f"zone lookup is missing columns {missing}: pass it through zones_from_csv_df()")

    pu_key, do_key = F.col("_pu_key"), F.col("_do_key")
    joined = accepted.join(_zone_side(zones, "pu"), F.col("pu_location_id") == pu_key, "left").join(
        _zone_side(zones, "do"), F.col("do_location_id") == do_key, "left"
    )

    pickup = F.col("pickup_datetime")
    duration_us = micros_between("pickup_datetime", "dropoff_datetime")
    distance = F.col("trip_distance")
    fare = F.col("fare_amount").cast("double")
    pickup_date = pickup.cast("date")  # ntz -> date takes the wall-clock date, no time zone involved
    weekday = F.weekday(pickup_date) + 1  # weekday(): 0 = Monday

    derived = {
        "trip_duration_min": duration_us / F.lit(60_000_000.0),
        "avg_speed_mph": speed_mph(distance, duration_us),
        "pickup_hour": F.hour(pickup),
        "pickup_weekday": weekday,
        "is_weekend": weekday >= 6,
        "tip_pct": F.when(fare > 0, F.col("tip_amount").cast("double") / fare * 100.0),
        "fare_per_mile": F.when(distance > 0, fare / distance),
        "distance_category": distance_category(distance),
        "pu_borough": F.coalesce(F.col("_pu_borough"), F.lit(UNKNOWN)),
        "pu_zone": F.coalesce(F.col("_pu_zone"), F.lit(UNKNOWN)),
        "do_borough": F.coalesce(F.col("_do_borough"), F.lit(UNKNOWN)),
        "do_zone": F.coalesce(F.col("_do_zone"), F.lit(UNKNOWN)),
        "is_airport_trip": _in(F.col("pu_location_id"), AIRPORT_ZONES)
        | _in(F.col("do_location_id"), AIRPORT_ZONES),
        "is_flex_fare": F.coalesce(F.col("payment_type") == 0, F.lit(False)),
        "is_unknown_zone": _in(F.col("pu_location_id"), UNKNOWN_ZONES)
        | _in(F.col("do_location_id"), UNKNOWN_ZONES),
        "is_zero_passengers": F.coalesce(F.col("passenger_count") == 0, F.lit(False)),
        "pickup_date": pickup_date,
        "time_of_day_category": time_of_day(F.hour(pickup)),
    }
    types = dict(STAGING_COLUMNS)
    out = joined.select(
        *[
            (F.col(name) if name not in derived else derived[name].cast(types[name])).alias(name)
            for name in _STAGING_NAMES
        ]
    )
    check_columns(out.dtypes, STAGING_COLUMNS, "staging trips")
    return out
