-- taxi.hourly_patterns: one row per pickup date and hour (curated/hourly_patterns), + pickup_month.
-- Small (24 rows a day): DISTSTYLE ALL. UNIQUE states the grain (informational on Redshift).
CREATE TABLE IF NOT EXISTS taxi.hourly_patterns (
    pickup_date          DATE             NOT NULL ENCODE raw,
    pickup_hour          INTEGER          ENCODE az64,
    pickup_weekday       INTEGER          ENCODE az64,
    is_weekend           BOOLEAN          ENCODE zstd,
    time_of_day_category VARCHAR(16)      ENCODE zstd,
    trip_count           BIGINT           ENCODE az64,
    total_revenue        DECIMAL(18,2)    ENCODE az64,
    total_fare           DECIMAL(18,2)    ENCODE az64,
    total_tips           DECIMAL(18,2)    ENCODE az64,
    avg_fare             DOUBLE PRECISION ENCODE zstd,
    avg_duration_min     DOUBLE PRECISION ENCODE zstd,
    avg_speed_mph        DOUBLE PRECISION ENCODE zstd,
    pickup_month         VARCHAR(7)       NOT NULL ENCODE zstd,
    UNIQUE (pickup_date, pickup_hour)
)
DISTSTYLE ALL
COMPOUND SORTKEY (pickup_date, pickup_hour);
