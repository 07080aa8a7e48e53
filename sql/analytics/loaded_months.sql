-- Months loaded in the warehouse, newest first: days with trips, trips and revenue per month.
-- Params: none. Source: daily_summary (one row a day, replaced with each month's load).
SELECT pickup_month,
       COUNT(*) AS days,
       SUM(trip_count) AS trip_count,
       SUM(total_revenue) AS total_revenue
FROM taxi.daily_summary
GROUP BY pickup_month
ORDER BY pickup_month DESC;
