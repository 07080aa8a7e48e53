-- taxi.daily_summary: one row per pickup date (curated/daily_summary), + its pickup_month partition.
-- Small (one row a day): DISTSTYLE ALL puts a copy on every node so joins never redistribute it.
-- UNIQUE states the grain; Redshift treats it as informational, PostgreSQL enforces it.
CREATE TABLE IF NOT EXISTS taxi.daily_summary (
    pickup_date      DATE             NOT NULL ENCODE raw,
    pickup_weekday   INTEGER          ENCODE az64,
    is_weekend       BOOLEAN          ENCODE zstd,
    trip_count       BIGINT           ENCODE az64,
    total_revenue    DECIMAL(18,2)    ENCODE az64,
    total_fare       DECIMAL(18,2)    ENCODE az64,
    total_tips       DECIMAL(18,2)    ENCODE az64,
    total_passengers BIGINT           ENCODE az64,
    total_distance   DOUBLE PRECISION ENCODE zstd,
    avg_fare         DOUBLE PRECISION ENCODE zstd,
    avg_distance     DOUBLE PRECISION ENCODE zstd,
    avg_duration_min DOUBLE PRECISION ENCODE zstd,
    avg_tip_pct      DOUBLE PRECISION ENCODE zstd,
    airport_trips    BIGINT           ENCODE az64,
    pickup_month     VARCHAR(7)       NOT NULL ENCODE zstd,
    UNIQUE (pickup_date)
)
DISTSTYLE ALL
COMPOUND SORTKEY (pickup_date);
