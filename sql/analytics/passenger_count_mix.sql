-- Trips by passenger count (null when not recorded), with average total per trip.
-- Params: :month (YYYY-MM). Source: fct_trips.
SELECT passenger_count,
       COUNT(*) AS trip_count,
       ROUND(AVG(total_amount), 2) AS avg_total
FROM taxi.fct_trips
WHERE pickup_date >= TO_DATE(:month, 'YYYY-MM')
  AND pickup_date < DATEADD(month, 1, TO_DATE(:month, 'YYYY-MM'))
GROUP BY passenger_count
ORDER BY passenger_count NULLS LAST;
