-- Airport trips and fees per day: airport trips, their share of the day's trips, fees collected.
-- Params: :month (YYYY-MM). Source: agg_trips_daily (fct_trips rolled up per day after each load).
SELECT pickup_date,
       CAST(SUM(trip_count) AS BIGINT) AS trip_count,
       CAST(SUM(airport_trips) AS BIGINT) AS airport_trips,
       ROUND(100.0 * SUM(airport_trips) / SUM(trip_count), 2) AS airport_share_pct,
       COALESCE(SUM(airport_fees), 0) AS airport_fees
FROM taxi.agg_trips_daily
WHERE pickup_date >= TO_DATE(:month, 'YYYY-MM')
  AND pickup_date < DATEADD(month, 1, TO_DATE(:month, 'YYYY-MM'))
GROUP BY pickup_date
ORDER BY pickup_date;
