-- Daily revenue trend between two dates (inclusive): trips, revenue, tips, revenue per trip.
-- Params: :start_date, :end_date (YYYY-MM-DD). Source: curated daily_summary (one row a day).
SELECT pickup_date,
       trip_count,
       total_revenue,
       total_tips,
       ROUND(total_revenue / NULLIF(trip_count, 0), 2) AS revenue_per_trip
FROM taxi.daily_summary
WHERE pickup_date BETWEEN CAST(:start_date AS DATE) AND CAST(:end_date AS DATE)
ORDER BY pickup_date;
