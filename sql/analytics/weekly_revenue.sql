-- Weekly revenue trend of a month (ISO weeks starting Monday; partial weeks at the month's edges).
-- Params: :month (YYYY-MM). Source: daily_summary + dim_date.
SELECT d.week_start,
       COUNT(*) AS days,
       SUM(s.trip_count) AS trip_count,
       SUM(s.total_revenue) AS total_revenue,
       ROUND(SUM(s.total_revenue) / NULLIF(SUM(s.trip_count), 0), 2) AS revenue_per_trip
FROM taxi.daily_summary s
JOIN taxi.dim_date d ON d.date_key = s.pickup_date
WHERE s.pickup_month = :month
GROUP BY d.week_start
ORDER BY d.week_start;
