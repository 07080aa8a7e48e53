-- taxi.distance_analysis: one row per pickup date and distance category
-- (curated/distance_analysis), + pickup_month. Small: DISTSTYLE ALL. UNIQUE states the grain.
CREATE TABLE IF NOT EXISTS taxi.distance_analysis (
    pickup_date       DATE             NOT NULL ENCODE raw,
    distance_category VARCHAR(16)      ENCODE zstd,
    trip_count        BIGINT           ENCODE az64,
    total_revenue     DECIMAL(18,2)    ENCODE az64,
    total_fare        DECIMAL(18,2)    ENCODE az64,
    total_tips        DECIMAL(18,2)    ENCODE az64,
    total_distance    DOUBLE PRECISION ENCODE zstd,
    avg_fare_per_mile DOUBLE PRECISION ENCODE zstd,
    avg_duration_min  DOUBLE PRECISION ENCODE zstd,
    avg_speed_mph     DOUBLE PRECISION ENCODE zstd,
    pickup_month      VARCHAR(7)       NOT NULL ENCODE zstd,
    UNIQUE (pickup_date, distance_category)
)
DISTSTYLE ALL
COMPOUND SORTKEY (pickup_date, distance_category);
