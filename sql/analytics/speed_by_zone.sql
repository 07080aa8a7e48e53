-- The slowest pickup zones: average speed (mph) for zones with at least :min_trips trips.
-- Params: :month (YYYY-MM), :min_trips (integer). Source: agg_trips_zone_pair.
SELECT pu_location_id,
       pu_zone,
       CAST(SUM(trip_count) AS BIGINT) AS trip_count,
       ROUND(SUM(speed_mph_sum) / CAST(NULLIF(SUM(speed_mph_n), 0) AS DOUBLE PRECISION), 2) AS avg_speed_mph
FROM taxi.agg_trips_zone_pair
WHERE month_start = TO_DATE(:month, 'YYYY-MM')
GROUP BY pu_location_id, pu_zone
HAVING SUM(trip_count) >= CAST(:min_trips AS INTEGER)
ORDER BY SUM(speed_mph_sum) / CAST(NULLIF(SUM(speed_mph_n), 0) AS DOUBLE PRECISION), pu_location_id;
