-- Executive summary of a month in one row: days, trips, revenue, tips, revenue per trip, trips per day,
-- airport share and the busiest day. Params: :month (YYYY-MM). Source: daily_summary.
SELECT COUNT(*) AS days,
       SUM(trip_count) AS trip_count,
       SUM(total_revenue) AS total_revenue,
       SUM(total_tips) AS total_tips,
       ROUND(SUM(total_revenue) / SUM(trip_count), 2) AS revenue_per_trip,
       ROUND(1.0 * SUM(trip_count) / COUNT(*), 2) AS trips_per_day,
       ROUND(100.0 * SUM(airport_trips) / SUM(trip_count), 2) AS airport_share_pct,
       (SELECT pickup_date FROM taxi.daily_summary b WHERE b.pickup_month = :month
        ORDER BY b.trip_count DESC, b.pickup_date LIMIT 1) AS busiest_day
FROM taxi.daily_summary
WHERE pickup_month = :month;
