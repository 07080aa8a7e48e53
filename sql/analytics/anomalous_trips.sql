-- Suspicious trips that passed validation: over a speed limit, zero distance, over 3 hours, or
-- a tip above the fare. Params: :month (YYYY-MM), :max_speed_mph (number). Source: fct_trips.
SELECT COUNT(*) AS trip_count,
       SUM(CASE WHEN avg_speed_mph > CAST(:max_speed_mph AS DOUBLE PRECISION) THEN 1 ELSE 0 END) AS too_fast,
       SUM(CASE WHEN trip_distance = 0 THEN 1 ELSE 0 END) AS zero_distance,
       SUM(CASE WHEN trip_duration_min > 180 THEN 1 ELSE 0 END) AS over_3_hours,
       SUM(CASE WHEN tip_amount > fare_amount THEN 1 ELSE 0 END) AS tip_above_fare
FROM taxi.fct_trips
WHERE pickup_date >= TO_DATE(:month, 'YYYY-MM')
  AND pickup_date < DATEADD(month, 1, TO_DATE(:month, 'YYYY-MM'));
