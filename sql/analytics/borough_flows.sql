-- Borough-to-borough flows: trips and revenue per (pickup borough, dropoff borough).
-- Params: :month (YYYY-MM). Source: fct_trips.
SELECT pu_borough,
       do_borough,
       COUNT(*) AS trip_count,
       SUM(total_amount) AS total_revenue
FROM taxi.fct_trips
WHERE pickup_date >= TO_DATE(:month, 'YYYY-MM')
  AND pickup_date < DATEADD(month, 1, TO_DATE(:month, 'YYYY-MM'))
GROUP BY pu_borough, do_borough
ORDER BY trip_count DESC, pu_borough, do_borough;
