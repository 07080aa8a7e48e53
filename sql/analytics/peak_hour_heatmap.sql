-- Peak-hour heatmap: trips per ISO weekday (1 = Monday) and pickup hour, only cells with trips.
-- Params: :month (YYYY-MM). Source: hourly_patterns.
SELECT pickup_weekday,
       pickup_hour,
       SUM(trip_count) AS trip_count,
       SUM(total_revenue) AS total_revenue
FROM taxi.hourly_patterns
WHERE pickup_month = :month
GROUP BY pickup_weekday, pickup_hour
ORDER BY pickup_weekday, pickup_hour;
