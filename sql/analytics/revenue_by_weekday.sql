-- Revenue by day of the week (ISO, Monday first): days, trips, revenue, revenue per day.
-- Params: :month (YYYY-MM). Source: daily_summary + dim_date.
SELECT d.iso_weekday,
       d.day_name,
       COUNT(*) AS days,
       SUM(s.trip_count) AS trip_count,
       SUM(s.total_revenue) AS total_revenue,
       ROUND(SUM(s.total_revenue) / COUNT(*), 2) AS revenue_per_day
FROM taxi.daily_summary s
JOIN taxi.dim_date d ON d.date_key = s.pickup_date
WHERE s.pickup_month = :month
GROUP BY d.iso_weekday, d.day_name
ORDER BY d.iso_weekday;
