-- Trips and revenue by time of day (overnight, morning_rush, midday, evening_rush, evening) with trip share.
-- Params: :month (YYYY-MM). Source: hourly_patterns.
SELECT time_of_day_category,
       SUM(trip_count) AS trip_count,
       SUM(total_revenue) AS total_revenue,
       ROUND(100.0 * SUM(trip_count) / SUM(SUM(trip_count)) OVER (), 2) AS trip_share_pct
FROM taxi.hourly_patterns
WHERE pickup_month = :month
GROUP BY time_of_day_category
ORDER BY MIN(pickup_hour);
