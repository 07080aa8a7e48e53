-- Fare per mile by pickup borough over trips with a distance (total fare / total miles).
-- Params: :month (YYYY-MM). Source: agg_trips_zone_pair (its *_with_distance measures).
SELECT pu_borough,
       CAST(SUM(trips_with_distance) AS BIGINT) AS trip_count,
       ROUND(SUM(distance_with_distance), 2) AS total_miles,
       ROUND(CAST(SUM(fare_with_distance) AS DOUBLE PRECISION) / SUM(distance_with_distance), 2) AS fare_per_mile
FROM taxi.agg_trips_zone_pair
WHERE month_start = TO_DATE(:month, 'YYYY-MM')
  AND trips_with_distance > 0
GROUP BY pu_borough
ORDER BY pu_borough;
