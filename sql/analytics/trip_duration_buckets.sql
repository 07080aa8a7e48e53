-- Trips by duration bucket (under 5, 5-15, 15-30, 30-60, 60+ minutes) with average fare.
-- Params: :month (YYYY-MM). Source: agg_trips_hourly_profile (its duration_bucket).
SELECT duration_bucket,
       CAST(SUM(trip_count) AS BIGINT) AS trip_count,
       ROUND(SUM(fare_amount_sum) / NULLIF(SUM(fare_amount_n), 0), 2) AS avg_fare
FROM taxi.agg_trips_hourly_profile
WHERE month_start = TO_DATE(:month, 'YYYY-MM')
GROUP BY duration_bucket
ORDER BY duration_bucket;
