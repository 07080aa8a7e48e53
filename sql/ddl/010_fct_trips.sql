-- taxi.fct_trips: one row per accepted trip, the staging zone (staging.nyc_taxi) as loaded.
-- Columns follow spark_jobs/schemas/contracts.py STAGING_COLUMNS, in contract order, + loaded_at.
--
-- Distribution: KEY on pu_location_id co-locates each pickup zone's trips, so per-zone
-- aggregations (location_analysis rebuilt in-warehouse) and joins to a zone table run without
-- redistribution. ~265 zones with a few heavy ones (JFK, Midtown) give some skew: check
-- svv_table_info.skew_rows after the first months; switch to DISTSTYLE EVEN if it exceeds ~4.
-- Sort: compound (pickup_date, pickup_datetime), as nearly every query restricts a date or time
-- range; loads arrive one month at a time, so zone maps prune whole blocks.
-- Encoding: the leading sort key column stays RAW (compressing it hurts range-restricted scans);
-- AZ64 for integers, decimals, dates and timestamps; ZSTD for doubles, booleans and strings
-- (AZ64 supports neither DOUBLE PRECISION nor BOOLEAN nor VARCHAR).
CREATE TABLE IF NOT EXISTS taxi.fct_trips (
    vendor_id             INTEGER          ENCODE az64,
    pickup_datetime       TIMESTAMP        NOT NULL ENCODE az64,
    dropoff_datetime      TIMESTAMP        ENCODE az64,
    passenger_count       INTEGER          ENCODE az64,
    trip_distance         DOUBLE PRECISION ENCODE zstd,
    ratecode_id           INTEGER          ENCODE az64,
    store_and_fwd_flag    VARCHAR(1)       ENCODE zstd,
    pu_location_id        INTEGER          ENCODE az64,
    do_location_id        INTEGER          ENCODE az64,
    payment_type          INTEGER          ENCODE az64,
    fare_amount           DECIMAL(12,2)    ENCODE az64,
    extra                 DECIMAL(12,2)    ENCODE az64,
    mta_tax               DECIMAL(12,2)    ENCODE az64,
    tip_amount            DECIMAL(12,2)    ENCODE az64,
    tolls_amount          DECIMAL(12,2)    ENCODE az64,
    improvement_surcharge DECIMAL(12,2)    ENCODE az64,
    total_amount          DECIMAL(12,2)    ENCODE az64,
    congestion_surcharge  DECIMAL(12,2)    ENCODE az64,
    airport_fee           DECIMAL(12,2)    ENCODE az64,
    cbd_congestion_fee    DECIMAL(12,2)    ENCODE az64,
    source_file           VARCHAR(256)     ENCODE zstd,
    trip_duration_min     DOUBLE PRECISION ENCODE zstd,
    avg_speed_mph         DOUBLE PRECISION ENCODE zstd,
    pickup_hour           INTEGER          ENCODE az64,
    pickup_weekday        INTEGER          ENCODE az64,
    is_weekend            BOOLEAN          ENCODE zstd,
    tip_pct               DOUBLE PRECISION ENCODE zstd,
    fare_per_mile         DOUBLE PRECISION ENCODE zstd,
    distance_category     VARCHAR(16)      ENCODE zstd,
    pu_borough            VARCHAR(32)      ENCODE zstd,
    pu_zone               VARCHAR(100)     ENCODE zstd,
    do_borough            VARCHAR(32)      ENCODE zstd,
    do_zone               VARCHAR(100)     ENCODE zstd,
    is_airport_trip       BOOLEAN          ENCODE zstd,
    is_flex_fare          BOOLEAN          ENCODE zstd,
    is_unknown_zone       BOOLEAN          ENCODE zstd,
    is_zero_passengers    BOOLEAN          ENCODE zstd,
    pickup_date           DATE             NOT NULL ENCODE raw,
    time_of_day_category  VARCHAR(16)      NOT NULL ENCODE zstd,
    loaded_at             TIMESTAMP        NOT NULL DEFAULT GETDATE() ENCODE az64
)
DISTSTYLE KEY
DISTKEY (pu_location_id)
COMPOUND SORTKEY (pickup_date, pickup_datetime);
