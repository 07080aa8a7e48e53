-- taxi.agg_cbd_fee_daily: the congestion relief zone fee per pickup date, built in the warehouse from
-- fct_trips right after each month's load (sql/load/044_agg_cbd_fee_daily.sql, taxilab.warehouse.aggregates_wh).
-- Additive measures only: the day's trips, trips whose file records the fee, trips charged (fee > 0),
-- and the exact DECIMAL sum of the fee (NULL on a day where no trip records it, as SUM over fct_trips).
-- A table of its own rather than columns of agg_trips_daily: the DDL has no migrations, a new table is
-- created on the next load. Tiny (one row a day): DISTSTYLE ALL.
CREATE TABLE IF NOT EXISTS taxi.agg_cbd_fee_daily (
    pickup_date        DATE          NOT NULL ENCODE raw,
    trip_count         BIGINT        NOT NULL ENCODE az64,
    fee_recorded_trips BIGINT        NOT NULL ENCODE az64,
    charged_trips      BIGINT        NOT NULL ENCODE az64,
    total_fee          DECIMAL(18,2) ENCODE az64,
    UNIQUE (pickup_date)
)
DISTSTYLE ALL
COMPOUND SORTKEY (pickup_date);
