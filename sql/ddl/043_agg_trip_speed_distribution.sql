-- taxi.agg_trip_speed_distribution: the month's distribution of trip speeds, one row per distinct
-- avg_speed_mph value (nulls left out) with the trips at that speed and the trips at that speed
-- or faster (a reverse running total). "How many trips were faster than X mph" is then one row,
-- the first speed above X, for any X: exact, with no per-threshold result stored.
-- Built after each month's load (sql/load/043_agg_trip_speed_distribution.sql); ~640k rows for
-- Feb 2024 (speeds are doubles), about a fifth of the month's trips.
-- Sort (month_start, avg_speed_mph): a threshold lookup reads one block. UNIQUE states the grain
-- (informational on Redshift; on the lab's PostgreSQL it is the btree the lookup uses).
CREATE TABLE IF NOT EXISTS taxi.agg_trip_speed_distribution (
    month_start       DATE             NOT NULL ENCODE raw,
    avg_speed_mph     DOUBLE PRECISION NOT NULL ENCODE raw,
    trip_count        BIGINT           NOT NULL ENCODE az64,
    trips_at_or_above BIGINT           NOT NULL ENCODE az64,
    UNIQUE (month_start, avg_speed_mph)
)
DISTSTYLE EVEN
COMPOUND SORTKEY (month_start, avg_speed_mph);
