-- Day-over-day change in trips: trips, previous day's trips, change in percent (null on the first day).
-- Params: :month (YYYY-MM). Source: daily_summary.
SELECT pickup_date,
       trip_count,
       LAG(trip_count) OVER (ORDER BY pickup_date) AS prev_trip_count,
       ROUND(100.0 * (trip_count - LAG(trip_count) OVER (ORDER BY pickup_date))
             / NULLIF(LAG(trip_count) OVER (ORDER BY pickup_date), 0), 2) AS change_pct
FROM taxi.daily_summary
WHERE pickup_month = :month
ORDER BY pickup_date;
