-- Airport trips and fees per day: airport trips, their share of the day's trips, fees collected.
-- Params: :month (YYYY-MM). Source: fct_trips.
SELECT pickup_date,
       COUNT(*) AS trip_count,
       SUM(CASE WHEN is_airport_trip THEN 1 ELSE 0 END) AS airport_trips,
       ROUND(100.0 * SUM(CASE WHEN is_airport_trip THEN 1 ELSE 0 END) / COUNT(*), 2) AS airport_share_pct,
       COALESCE(SUM(airport_fee), 0) AS airport_fees
FROM taxi.fct_trips
WHERE pickup_date >= TO_DATE(:month, 'YYYY-MM')
  AND pickup_date < DATEADD(month, 1, TO_DATE(:month, 'YYYY-MM'))
GROUP BY pickup_date
ORDER BY pickup_date;
