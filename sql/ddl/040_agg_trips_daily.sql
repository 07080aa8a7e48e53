-- taxi.agg_trips_daily: one row per pickup date, built in the warehouse from fct_trips right after
-- each month's load (sql/load/040_agg_trips_daily.sql, taxilab.warehouse.aggregates_wh).
-- Additive measures only (counts and exact DECIMAL sums), so any date range sums them exactly.
-- Counts of fixed-rule anomalies (zero distance, over 3 hours, tip above fare) are kept here;
-- a speed over a caller's threshold is answered by agg_trip_speed_distribution.
-- Tiny (one row a day): DISTSTYLE ALL.
CREATE TABLE IF NOT EXISTS taxi.agg_trips_daily (
    pickup_date     DATE          NOT NULL ENCODE raw,
    trip_count      BIGINT        NOT NULL ENCODE az64,
    airport_trips   BIGINT        NOT NULL ENCODE az64,
    airport_fees    DECIMAL(18,2) ENCODE az64,
    total_revenue   DECIMAL(18,2) ENCODE az64,
    zero_distance   BIGINT        NOT NULL ENCODE az64,
    over_3_hours    BIGINT        NOT NULL ENCODE az64,
    tip_above_fare  BIGINT        NOT NULL ENCODE az64,
    UNIQUE (pickup_date)
)
DISTSTYLE ALL
COMPOUND SORTKEY (pickup_date);
