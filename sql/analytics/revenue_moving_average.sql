-- Daily revenue with its trailing 7-day moving average (fewer days at the start of the month).
-- Params: :month (YYYY-MM). Source: daily_summary.
SELECT pickup_date,
       total_revenue,
       ROUND(AVG(total_revenue) OVER (ORDER BY pickup_date ROWS BETWEEN 6 PRECEDING AND CURRENT ROW), 2)
           AS revenue_7d_avg
FROM taxi.daily_summary
WHERE pickup_month = :month
ORDER BY pickup_date;
