-- taxi.agg_trips_zone_pair: one row per month and (pickup zone, dropoff zone) route, built in the
-- warehouse from fct_trips after each month's load (sql/load/041_agg_trips_zone_pair.sql).
-- ~31k rows for the 3M trips of Feb 2024. The zone names, boroughs and is_airport_trip are
-- functions of the two zone ids in fct_trips (they add no rows) and are kept as fct_trips has
-- them, so results equal those over fct_trips whatever dim_zone holds.
-- Additive measures only: counts, exact DECIMAL sums, DOUBLE sums with the count of non-null
-- values they cover, so every average is sum / count exactly as AVG() over the trips computes it.
-- The *_with_distance measures cover only trips with trip_distance > 0 (fare per mile).
-- DISTSTYLE ALL: small, and joined to nothing large.
CREATE TABLE IF NOT EXISTS taxi.agg_trips_zone_pair (
    month_start            DATE             NOT NULL ENCODE raw,
    pu_location_id         INTEGER          ENCODE az64,
    pu_borough             VARCHAR(32)      ENCODE zstd,
    pu_zone                VARCHAR(100)     ENCODE zstd,
    do_location_id         INTEGER          ENCODE az64,
    do_borough             VARCHAR(32)      ENCODE zstd,
    do_zone                VARCHAR(100)     ENCODE zstd,
    is_airport_trip        BOOLEAN          ENCODE zstd,
    trip_count             BIGINT           NOT NULL ENCODE az64,
    total_amount_sum       DECIMAL(18,2)    ENCODE az64,
    total_amount_n         BIGINT           NOT NULL ENCODE az64,
    airport_fee_sum        DECIMAL(18,2)    ENCODE az64,
    speed_mph_sum          DOUBLE PRECISION ENCODE zstd,
    speed_mph_n            BIGINT           NOT NULL ENCODE az64,
    trips_with_distance    BIGINT           NOT NULL ENCODE az64,
    distance_with_distance DOUBLE PRECISION ENCODE zstd,
    fare_with_distance     DECIMAL(18,2)    ENCODE az64
)
DISTSTYLE ALL
COMPOUND SORTKEY (month_start, pu_location_id, do_location_id);
