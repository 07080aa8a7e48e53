-- Trips by duration bucket (under 5, 5-15, 15-30, 30-60, 60+ minutes) with average fare.
-- Params: :month (YYYY-MM). Source: fct_trips.
SELECT CASE WHEN trip_duration_min < 5 THEN '00-05 min'
            WHEN trip_duration_min < 15 THEN '05-15 min'
            WHEN trip_duration_min < 30 THEN '15-30 min'
            WHEN trip_duration_min < 60 THEN '30-60 min'
            ELSE '60+ min' END AS duration_bucket,
       COUNT(*) AS trip_count,
       ROUND(AVG(fare_amount), 2) AS avg_fare
FROM taxi.fct_trips
WHERE pickup_date >= TO_DATE(:month, 'YYYY-MM')
  AND pickup_date < DATEADD(month, 1, TO_DATE(:month, 'YYYY-MM'))
GROUP BY 1
ORDER BY 1;
