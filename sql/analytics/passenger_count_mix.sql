-- Trips by passenger count (null when not recorded), with average total per trip.
-- Params: :month (YYYY-MM). Source: agg_trips_hourly_profile (fct_trips rolled up per month).
SELECT passenger_count,
       CAST(SUM(trip_count) AS BIGINT) AS trip_count,
       ROUND(SUM(total_amount_sum) / NULLIF(SUM(total_amount_n), 0), 2) AS avg_total
FROM taxi.agg_trips_hourly_profile
WHERE month_start = TO_DATE(:month, 'YYYY-MM')
GROUP BY passenger_count
ORDER BY passenger_count NULLS LAST;
