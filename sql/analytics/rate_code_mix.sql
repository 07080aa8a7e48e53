-- Trips and revenue by rate code ('Not recorded' when the trip has none, as Flex Fare trips).
-- Params: :month (YYYY-MM). Source: agg_trips_hourly_profile + dim_rate_code.
SELECT COALESCE(r.rate_code_name, 'Not recorded') AS rate_code,
       CAST(SUM(f.trip_count) AS BIGINT) AS trip_count,
       SUM(f.total_amount_sum) AS total_revenue
FROM taxi.agg_trips_hourly_profile f
LEFT JOIN taxi.dim_rate_code r ON r.ratecode_id = f.ratecode_id
WHERE f.month_start = TO_DATE(:month, 'YYYY-MM')
GROUP BY COALESCE(r.rate_code_name, 'Not recorded')
ORDER BY trip_count DESC, rate_code;
