-- taxi.agg_trips_hourly_profile: one row per month and (pickup hour, vendor, payment type, rate
-- code, passenger count, duration bucket), built in the warehouse from fct_trips after each
-- month's load (sql/load/042_agg_trips_hourly_profile.sql). ~11k rows for Feb 2024's 3M trips.
-- passenger_count, ratecode_id and vendor_id are the raw codes (null when not recorded), so any
-- roll-up over them is exact. duration_bucket: under 5, 5-15, 15-30, 30-60, 60+ minutes (a trip
-- without a duration falls in '60+ min', as a CASE over fct_trips puts it).
-- Additive measures only: counts, exact DECIMAL sums, DOUBLE sums + count of non-null values.
CREATE TABLE IF NOT EXISTS taxi.agg_trips_hourly_profile (
    month_start        DATE             NOT NULL ENCODE raw,
    pickup_hour        INTEGER          ENCODE az64,
    vendor_id          INTEGER          ENCODE az64,
    payment_type       INTEGER          ENCODE az64,
    ratecode_id        INTEGER          ENCODE az64,
    passenger_count    INTEGER          ENCODE az64,
    duration_bucket    VARCHAR(9)       NOT NULL ENCODE zstd,
    trip_count         BIGINT           NOT NULL ENCODE az64,
    total_amount_sum   DECIMAL(18,2)    ENCODE az64,
    total_amount_n     BIGINT           NOT NULL ENCODE az64,
    fare_amount_sum    DECIMAL(18,2)    ENCODE az64,
    fare_amount_n      BIGINT           NOT NULL ENCODE az64,
    speed_mph_sum      DOUBLE PRECISION ENCODE zstd,
    speed_mph_n        BIGINT           NOT NULL ENCODE az64,
    duration_min_sum   DOUBLE PRECISION ENCODE zstd,
    duration_min_n     BIGINT           NOT NULL ENCODE az64,
    tip_pct_sum        DOUBLE PRECISION ENCODE zstd,
    tip_pct_n          BIGINT           NOT NULL ENCODE az64
)
DISTSTYLE ALL
COMPOUND SORTKEY (month_start, pickup_hour);
