"""Curated tables: staging trips -> the five contracts.CURATED tables.
Why: docs/adr/0003-exact-money-and-reconciliation.md.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from spark_jobs.schemas.contracts import (
    CURATED,
    CURATED_PARTITIONS,
    MONEY_SUM,
    PAYMENT_TYPES,
    STAGING_COLUMNS,
    check_columns,
)

UNKNOWN_PAYMENT = "Unknown"


def _count_if(cond: Column) -> Column:
    return F.sum(F.when(cond, F.lit(1)).otherwise(F.lit(0))).cast("bigint")


def _avg(name: str) -> Column:
    """Mean over non-null values, as double (null if there are none)."""
    return F.avg(F.col(name).cast("double"))


def _money_sum(name: str) -> Column:
    # sum(decimal(12,2)) is decimal(22,2) and exact; the contract stores decimal(18,2).
    return F.sum(name).cast(MONEY_SUM)


def _common() -> list[Column]:
    return [
        F.count(F.lit(1)).alias("trip_count"),
        _money_sum("total_amount").alias("total_revenue"),
        _money_sum("fare_amount").alias("total_fare"),
        _money_sum("tip_amount").alias("total_tips"),
    ]


def _finish(df: DataFrame, table: str) -> DataFrame:
    """Contract columns in order with contract types, then pickup_month; checked against the contract."""
    spec = CURATED[table]
    out = df.select(
        *[F.col(name).cast(dtype).alias(name) for name, dtype in spec.columns],
        F.date_format("pickup_date", "yyyy-MM").alias(CURATED_PARTITIONS[0][0]),
    )
    check_columns(out.dtypes, spec.columns + CURATED_PARTITIONS, f"curated.{table}")
    return out


# The staging columns the curated tables are built from: a job reads only these (Parquet column pruning)
# before caching the month.
INPUT_COLUMNS: list[str] = [
    "pickup_date",
    "pickup_hour",
    "pickup_weekday",
    "is_weekend",
    "time_of_day_category",
    "payment_type",
    "distance_category",
    "pu_location_id",
    "pu_borough",
    "pu_zone",
    "passenger_count",
    "trip_distance",
    "trip_duration_min",
    "avg_speed_mph",
    "tip_pct",
    "fare_per_mile",
    "is_airport_trip",
    "fare_amount",
    "tip_amount",
    "total_amount",
]


def _check_staging(staging: DataFrame) -> None:
    types = dict(STAGING_COLUMNS)
    check_columns(
        [(n, t) for n, t in staging.dtypes if n in INPUT_COLUMNS],
        [(n, types[n]) for n in INPUT_COLUMNS],
        "staging trips",
    )


def daily_summary(staging: DataFrame) -> DataFrame:
    """One row per pickup date."""
    _check_staging(staging)
    agg = staging.groupBy("pickup_date", "pickup_weekday", "is_weekend").agg(
        *_common(),
        F.sum("passenger_count").cast("bigint").alias("total_passengers"),
        F.sum("trip_distance").alias("total_distance"),
        _avg("fare_amount").alias("avg_fare"),
        _avg("trip_distance").alias("avg_distance"),
        _avg("trip_duration_min").alias("avg_duration_min"),
        _avg("tip_pct").alias("avg_tip_pct"),
        _count_if(F.col("is_airport_trip")).alias("airport_trips"),
    )
    return _finish(agg, "daily_summary")


def hourly_patterns(staging: DataFrame) -> DataFrame:
    """One row per pickup date and hour."""
    _check_staging(staging)
    agg = staging.groupBy(
        "pickup_date", "pickup_hour", "pickup_weekday", "is_weekend", "time_of_day_category"
    ).agg(
        *_common(),
        _avg("fare_amount").alias("avg_fare"),
        _avg("trip_duration_min").alias("avg_duration_min"),
        _avg("avg_speed_mph").alias("avg_speed_mph"),
    )
    return _finish(agg, "hourly_patterns")


def payment_type_name(payment_type: Column) -> Column:
    """contracts.PAYMENT_TYPES name, 'Unknown' for any other code."""
    out: Column | None = None
    for code, name in PAYMENT_TYPES.items():
        cond = payment_type == F.lit(code)
        out = F.when(cond, F.lit(name)) if out is None else out.when(cond, F.lit(name))
    assert out is not None, "contracts.PAYMENT_TYPES is empty"
    return out.otherwise(F.lit(UNKNOWN_PAYMENT))


def payment_analysis(staging: DataFrame) -> DataFrame:
    """One row per pickup date and payment type."""
    _check_staging(staging)
    agg = staging.groupBy("pickup_date", "payment_type").agg(
        *_common(),
        _count_if(F.col("tip_amount") > 0).alias("tipped_trips"),
        _avg("tip_pct").alias("avg_tip_pct"),
    )
    return _finish(
        agg.withColumn("payment_type_name", payment_type_name(F.col("payment_type"))), "payment_analysis"
    )


def distance_analysis(staging: DataFrame) -> DataFrame:
    """One row per pickup date and distance category."""
    _check_staging(staging)
    agg = staging.groupBy("pickup_date", "distance_category").agg(
        *_common(),
        F.sum("trip_distance").alias("total_distance"),
        _avg("fare_per_mile").alias("avg_fare_per_mile"),
        _avg("trip_duration_min").alias("avg_duration_min"),
        _avg("avg_speed_mph").alias("avg_speed_mph"),
    )
    return _finish(agg, "distance_analysis")


def location_analysis(staging: DataFrame) -> DataFrame:
    """One row per pickup date and pickup zone (borough/zone are determined by the zone id)."""
    _check_staging(staging)
    agg = staging.groupBy("pickup_date", "pu_location_id", "pu_borough", "pu_zone").agg(
        *_common(),
        _avg("fare_amount").alias("avg_fare"),
        _avg("trip_distance").alias("avg_distance"),
        _avg("tip_pct").alias("avg_tip_pct"),
    )
    return _finish(agg, "location_analysis")


BUILDERS = {
    "daily_summary": daily_summary,
    "hourly_patterns": hourly_patterns,
    "payment_analysis": payment_analysis,
    "distance_analysis": distance_analysis,
    "location_analysis": location_analysis,
}
assert set(BUILDERS) == set(CURATED), "a curated table has no builder (or a builder no contract)"


def build_all(staging: DataFrame) -> dict[str, DataFrame]:
    """Every curated table, keyed by contracts.CURATED name (in that order)."""
    return {name: BUILDERS[name](staging) for name in CURATED}
