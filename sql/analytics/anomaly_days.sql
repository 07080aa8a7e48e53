-- Anomalous days: days whose trip count is more than :z sample standard deviations from the month's mean.
-- Params: :month (YYYY-MM), :z (number). Source: daily_summary.
SELECT pickup_date, trip_count, ROUND(z_score, 2) AS z_score
FROM (
    SELECT pickup_date, trip_count,
           (trip_count - AVG(CAST(trip_count AS DOUBLE PRECISION)) OVER ())
               / NULLIF(STDDEV_SAMP(CAST(trip_count AS DOUBLE PRECISION)) OVER (), 0) AS z_score
    FROM taxi.daily_summary
    WHERE pickup_month = :month
) scored
WHERE ABS(z_score) > CAST(:z AS DOUBLE PRECISION)
ORDER BY pickup_date;
