-- The warehouse pre-aggregates (agg_*) against fct_trips for a month: agg_trips_daily day by day (trips, airport trips, revenue), agg_cbd_fee_daily day by day (trips, congestion fee cents), the month's trips and money in agg_trips_zone_pair and agg_trips_hourly_profile, and the trips with a speed in agg_trip_speed_distribution.
-- Returns one row per mismatch (no rows = consistent): the table, the day (or the month's first day), what
-- fct_trips says and what the pre-aggregate says. fct_trips is scanned once (per day, then summed). Params: :month.
WITH f AS (
    SELECT pickup_date, COUNT(*) AS trips, SUM(CAST(total_amount * 100 AS BIGINT)) AS cents,
           SUM(CASE WHEN is_airport_trip THEN 1 ELSE 0 END) AS airport,
           SUM(CAST(fare_amount * 100 AS BIGINT)) AS fare_cents,
           SUM(CASE WHEN avg_speed_mph IS NOT NULL THEN 1 ELSE 0 END) AS with_speed,
           SUM(CAST(cbd_congestion_fee * 100 AS BIGINT)) AS fee_cents
    FROM taxi.fct_trips
    WHERE pickup_date >= TO_DATE(:month, 'YYYY-MM') AND pickup_date < DATEADD(month, 1, TO_DATE(:month, 'YYYY-MM'))
    GROUP BY pickup_date
),
a AS (
    SELECT pickup_date, trip_count AS trips, CAST(total_revenue * 100 AS BIGINT) AS cents, airport_trips AS airport
    FROM taxi.agg_trips_daily
    WHERE pickup_date >= TO_DATE(:month, 'YYYY-MM') AND pickup_date < DATEADD(month, 1, TO_DATE(:month, 'YYYY-MM'))
),
c AS (
    SELECT pickup_date, trip_count AS trips, CAST(total_fee * 100 AS BIGINT) AS fee_cents
    FROM taxi.agg_cbd_fee_daily
    WHERE pickup_date >= TO_DATE(:month, 'YYYY-MM') AND pickup_date < DATEADD(month, 1, TO_DATE(:month, 'YYYY-MM'))
),
cd AS (
    SELECT COALESCE(f.pickup_date, c.pickup_date) AS pickup_date,
           COALESCE(f.trips, 0) AS f_trips, COALESCE(c.trips, 0) AS c_trips,
           COALESCE(f.fee_cents, 0) AS f_fee_cents, COALESCE(c.fee_cents, 0) AS c_fee_cents
    FROM f FULL OUTER JOIN c ON c.pickup_date = f.pickup_date
),
d AS (
    SELECT COALESCE(f.pickup_date, a.pickup_date) AS pickup_date,
           COALESCE(f.trips, 0) AS f_trips, COALESCE(a.trips, 0) AS a_trips,
           COALESCE(f.cents, 0) AS f_cents, COALESCE(a.cents, 0) AS a_cents,
           COALESCE(f.airport, 0) AS f_airport, COALESCE(a.airport, 0) AS a_airport
    FROM f FULL OUTER JOIN a ON a.pickup_date = f.pickup_date
),
m AS (
    SELECT COALESCE(SUM(trips), 0) AS trips, COALESCE(SUM(cents), 0) AS cents,
           COALESCE(SUM(fare_cents), 0) AS fare_cents, COALESCE(SUM(with_speed), 0) AS with_speed
    FROM f
),
zp AS (
    SELECT COALESCE(SUM(trip_count), 0) AS trips, COALESCE(SUM(CAST(total_amount_sum * 100 AS BIGINT)), 0) AS cents
    FROM taxi.agg_trips_zone_pair WHERE month_start = TO_DATE(:month, 'YYYY-MM')
),
hp AS (
    SELECT COALESCE(SUM(trip_count), 0) AS trips, COALESCE(SUM(CAST(fare_amount_sum * 100 AS BIGINT)), 0) AS fare_cents
    FROM taxi.agg_trips_hourly_profile WHERE month_start = TO_DATE(:month, 'YYYY-MM')
),
sd AS (
    SELECT COALESCE(SUM(trip_count), 0) AS trips
    FROM taxi.agg_trip_speed_distribution WHERE month_start = TO_DATE(:month, 'YYYY-MM')
)
SELECT table_name, pickup_date, measure, fct_value, agg_value
FROM (
    SELECT 'agg_trips_daily' AS table_name, pickup_date, 'trips' AS measure, f_trips AS fct_value, a_trips AS agg_value FROM d
    UNION ALL
    SELECT 'agg_trips_daily', pickup_date, 'revenue_cents', f_cents, a_cents FROM d
    UNION ALL
    SELECT 'agg_trips_daily', pickup_date, 'airport_trips', f_airport, a_airport FROM d
    UNION ALL
    SELECT 'agg_cbd_fee_daily', pickup_date, 'trips', f_trips, c_trips FROM cd
    UNION ALL
    SELECT 'agg_cbd_fee_daily', pickup_date, 'fee_cents', f_fee_cents, c_fee_cents FROM cd
    UNION ALL
    SELECT 'agg_trips_zone_pair', TO_DATE(:month, 'YYYY-MM'), 'trips', m.trips, zp.trips FROM m CROSS JOIN zp
    UNION ALL
    SELECT 'agg_trips_zone_pair', TO_DATE(:month, 'YYYY-MM'), 'revenue_cents', m.cents, zp.cents FROM m CROSS JOIN zp
    UNION ALL
    SELECT 'agg_trips_hourly_profile', TO_DATE(:month, 'YYYY-MM'), 'trips', m.trips, hp.trips FROM m CROSS JOIN hp
    UNION ALL
    SELECT 'agg_trips_hourly_profile', TO_DATE(:month, 'YYYY-MM'), 'fare_cents', m.fare_cents, hp.fare_cents FROM m CROSS JOIN hp
    UNION ALL
    SELECT 'agg_trip_speed_distribution', TO_DATE(:month, 'YYYY-MM'), 'trips_with_speed', m.with_speed, sd.trips FROM m CROSS JOIN sd
) checks
WHERE fct_value <> agg_value
ORDER BY table_name, pickup_date, measure;
