-- Fare per mile by pickup borough over trips with a distance (total fare / total miles).
-- Params: :month (YYYY-MM). Source: fct_trips.
SELECT pu_borough,
       COUNT(*) AS trip_count,
       ROUND(SUM(trip_distance), 2) AS total_miles,
       ROUND(CAST(SUM(fare_amount) AS DOUBLE PRECISION) / SUM(trip_distance), 2) AS fare_per_mile
FROM taxi.fct_trips
WHERE pickup_date >= TO_DATE(:month, 'YYYY-MM')
  AND pickup_date < DATEADD(month, 1, TO_DATE(:month, 'YYYY-MM'))
  AND trip_distance > 0
GROUP BY pu_borough
ORDER BY pu_borough;
