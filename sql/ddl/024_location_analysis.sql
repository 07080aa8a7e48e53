-- taxi.location_analysis: one row per pickup date and pickup zone (curated/location_analysis),
-- + pickup_month. ~265 rows a day, still small: DISTSTYLE ALL. UNIQUE states the grain.
CREATE TABLE IF NOT EXISTS taxi.location_analysis (
    pickup_date    DATE             NOT NULL ENCODE raw,
    pu_location_id INTEGER          ENCODE az64,
    pu_borough     VARCHAR(32)      ENCODE zstd,
    pu_zone        VARCHAR(100)     ENCODE zstd,
    trip_count     BIGINT           ENCODE az64,
    total_revenue  DECIMAL(18,2)    ENCODE az64,
    total_fare     DECIMAL(18,2)    ENCODE az64,
    total_tips     DECIMAL(18,2)    ENCODE az64,
    avg_fare       DOUBLE PRECISION ENCODE zstd,
    avg_distance   DOUBLE PRECISION ENCODE zstd,
    avg_tip_pct    DOUBLE PRECISION ENCODE zstd,
    pickup_month   VARCHAR(7)       NOT NULL ENCODE zstd,
    UNIQUE (pickup_date, pu_location_id)
)
DISTSTYLE ALL
COMPOUND SORTKEY (pickup_date, pu_location_id);
