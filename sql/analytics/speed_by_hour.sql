-- Average speed (mph) and duration (minutes) by pickup hour.
-- Params: :month (YYYY-MM). Source: fct_trips.
SELECT pickup_hour,
       COUNT(*) AS trip_count,
       ROUND(AVG(avg_speed_mph), 2) AS avg_speed_mph,
       ROUND(AVG(trip_duration_min), 2) AS avg_duration_min
FROM taxi.fct_trips
WHERE pickup_date >= TO_DATE(:month, 'YYYY-MM')
  AND pickup_date < DATEADD(month, 1, TO_DATE(:month, 'YYYY-MM'))
GROUP BY pickup_hour
ORDER BY pickup_hour;
