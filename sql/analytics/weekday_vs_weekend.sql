-- Weekdays against weekends: days, trips, trips per day, revenue per trip.
-- Params: :month (YYYY-MM). Source: daily_summary.
SELECT is_weekend,
       COUNT(*) AS days,
       SUM(trip_count) AS trip_count,
       ROUND(1.0 * SUM(trip_count) / COUNT(*), 2) AS trips_per_day,
       ROUND(SUM(total_revenue) / SUM(trip_count), 2) AS revenue_per_trip
FROM taxi.daily_summary
WHERE pickup_month = :month
GROUP BY is_weekend
ORDER BY is_weekend;
