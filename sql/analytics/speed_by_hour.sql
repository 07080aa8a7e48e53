-- Average speed (mph) and duration (minutes) by pickup hour.
-- Params: :month (YYYY-MM). Source: agg_trips_hourly_profile (sums / counts of non-null values).
SELECT pickup_hour,
       CAST(SUM(trip_count) AS BIGINT) AS trip_count,
       ROUND(SUM(speed_mph_sum) / CAST(NULLIF(SUM(speed_mph_n), 0) AS DOUBLE PRECISION), 2) AS avg_speed_mph,
       ROUND(SUM(duration_min_sum) / CAST(NULLIF(SUM(duration_min_n), 0) AS DOUBLE PRECISION), 2) AS avg_duration_min
FROM taxi.agg_trips_hourly_profile
WHERE month_start = TO_DATE(:month, 'YYYY-MM')
GROUP BY pickup_hour
ORDER BY pickup_hour;
