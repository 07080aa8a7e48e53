-- The slowest pickup zones: average speed (mph) for zones with at least :min_trips trips.
-- Params: :month (YYYY-MM), :min_trips (integer). Source: fct_trips.
SELECT pu_location_id,
       pu_zone,
       COUNT(*) AS trip_count,
       ROUND(AVG(avg_speed_mph), 2) AS avg_speed_mph
FROM taxi.fct_trips
WHERE pickup_date >= TO_DATE(:month, 'YYYY-MM')
  AND pickup_date < DATEADD(month, 1, TO_DATE(:month, 'YYYY-MM'))
GROUP BY pu_location_id, pu_zone
HAVING COUNT(*) >= CAST(:min_trips AS INTEGER)
ORDER BY AVG(avg_speed_mph), pu_location_id;
