-- The warehouse pre-aggregates (agg_*) against fct_trips for a month: agg_trips_daily day by day (trips, airport trips, revenue), the month's trips and money in agg_trips_zone_pair and agg_trips_hourly_profile, and the trips with a speed in agg_trip_speed_distribution.
-- Returns one row per mismatch (no rows = consistent): the table, the day (or the month's first day), what
-- fct_trips says and what the pre-aggregate says. Params: :month.
SELECT table_name, pickup_date, measure, fct_value, agg_value
FROM (
    SELECT 'agg_trips_daily' AS table_name, COALESCE(f.pickup_date, a.pickup_date) AS pickup_date,
           'trips' AS measure, COALESCE(f.trips, 0) AS fct_value, COALESCE(a.trips, 0) AS agg_value
    FROM (
        SELECT pickup_date, COUNT(*) AS trips FROM taxi.fct_trips
        WHERE pickup_date >= TO_DATE(:month, 'YYYY-MM') AND pickup_date < DATEADD(month, 1, TO_DATE(:month, 'YYYY-MM'))
        GROUP BY pickup_date
    ) f
    FULL OUTER JOIN (
        SELECT pickup_date, trip_count AS trips FROM taxi.agg_trips_daily
        WHERE pickup_date >= TO_DATE(:month, 'YYYY-MM') AND pickup_date < DATEADD(month, 1, TO_DATE(:month, 'YYYY-MM'))
    ) a ON a.pickup_date = f.pickup_date
    UNION ALL
    SELECT 'agg_trips_daily', COALESCE(f.pickup_date, a.pickup_date), 'revenue_cents',
           COALESCE(f.cents, 0), COALESCE(a.cents, 0)
    FROM (
        SELECT pickup_date, SUM(CAST(total_amount * 100 AS BIGINT)) AS cents FROM taxi.fct_trips
        WHERE pickup_date >= TO_DATE(:month, 'YYYY-MM') AND pickup_date < DATEADD(month, 1, TO_DATE(:month, 'YYYY-MM'))
        GROUP BY pickup_date
    ) f
    FULL OUTER JOIN (
        SELECT pickup_date, CAST(total_revenue * 100 AS BIGINT) AS cents FROM taxi.agg_trips_daily
        WHERE pickup_date >= TO_DATE(:month, 'YYYY-MM') AND pickup_date < DATEADD(month, 1, TO_DATE(:month, 'YYYY-MM'))
    ) a ON a.pickup_date = f.pickup_date
    UNION ALL
    SELECT 'agg_trips_daily', COALESCE(f.pickup_date, a.pickup_date), 'airport_trips',
           COALESCE(f.airport, 0), COALESCE(a.airport, 0)
    FROM (
        SELECT pickup_date, SUM(CASE WHEN is_airport_trip THEN 1 ELSE 0 END) AS airport FROM taxi.fct_trips
        WHERE pickup_date >= TO_DATE(:month, 'YYYY-MM') AND pickup_date < DATEADD(month, 1, TO_DATE(:month, 'YYYY-MM'))
        GROUP BY pickup_date
    ) f
    FULL OUTER JOIN (
        SELECT pickup_date, airport_trips AS airport FROM taxi.agg_trips_daily
        WHERE pickup_date >= TO_DATE(:month, 'YYYY-MM') AND pickup_date < DATEADD(month, 1, TO_DATE(:month, 'YYYY-MM'))
    ) a ON a.pickup_date = f.pickup_date
    UNION ALL
    SELECT 'agg_trips_zone_pair', TO_DATE(:month, 'YYYY-MM'), 'trips', f.trips,
           (SELECT COALESCE(SUM(trip_count), 0) FROM taxi.agg_trips_zone_pair WHERE month_start = TO_DATE(:month, 'YYYY-MM'))
    FROM (
        SELECT COUNT(*) AS trips, COALESCE(SUM(CAST(total_amount * 100 AS BIGINT)), 0) AS cents FROM taxi.fct_trips
        WHERE pickup_date >= TO_DATE(:month, 'YYYY-MM') AND pickup_date < DATEADD(month, 1, TO_DATE(:month, 'YYYY-MM'))
    ) f
    UNION ALL
    SELECT 'agg_trips_zone_pair', TO_DATE(:month, 'YYYY-MM'), 'revenue_cents', f.cents,
           (SELECT COALESCE(SUM(CAST(total_amount_sum * 100 AS BIGINT)), 0) FROM taxi.agg_trips_zone_pair WHERE month_start = TO_DATE(:month, 'YYYY-MM'))
    FROM (
        SELECT COALESCE(SUM(CAST(total_amount * 100 AS BIGINT)), 0) AS cents FROM taxi.fct_trips
        WHERE pickup_date >= TO_DATE(:month, 'YYYY-MM') AND pickup_date < DATEADD(month, 1, TO_DATE(:month, 'YYYY-MM'))
    ) f
    UNION ALL
    SELECT 'agg_trips_hourly_profile', TO_DATE(:month, 'YYYY-MM'), 'trips', f.trips,
           (SELECT COALESCE(SUM(trip_count), 0) FROM taxi.agg_trips_hourly_profile WHERE month_start = TO_DATE(:month, 'YYYY-MM'))
    FROM (
        SELECT COUNT(*) AS trips FROM taxi.fct_trips
        WHERE pickup_date >= TO_DATE(:month, 'YYYY-MM') AND pickup_date < DATEADD(month, 1, TO_DATE(:month, 'YYYY-MM'))
    ) f
    UNION ALL
    SELECT 'agg_trips_hourly_profile', TO_DATE(:month, 'YYYY-MM'), 'fare_cents', f.cents,
           (SELECT COALESCE(SUM(CAST(fare_amount_sum * 100 AS BIGINT)), 0) FROM taxi.agg_trips_hourly_profile WHERE month_start = TO_DATE(:month, 'YYYY-MM'))
    FROM (
        SELECT COALESCE(SUM(CAST(fare_amount * 100 AS BIGINT)), 0) AS cents FROM taxi.fct_trips
        WHERE pickup_date >= TO_DATE(:month, 'YYYY-MM') AND pickup_date < DATEADD(month, 1, TO_DATE(:month, 'YYYY-MM'))
    ) f
    UNION ALL
    SELECT 'agg_trip_speed_distribution', TO_DATE(:month, 'YYYY-MM'), 'trips_with_speed', f.trips,
           (SELECT COALESCE(SUM(trip_count), 0) FROM taxi.agg_trip_speed_distribution WHERE month_start = TO_DATE(:month, 'YYYY-MM'))
    FROM (
        SELECT COUNT(*) AS trips FROM taxi.fct_trips
        WHERE pickup_date >= TO_DATE(:month, 'YYYY-MM') AND pickup_date < DATEADD(month, 1, TO_DATE(:month, 'YYYY-MM'))
          AND avg_speed_mph IS NOT NULL
    ) f
) checks
WHERE fct_value <> agg_value
ORDER BY table_name, pickup_date, measure;
