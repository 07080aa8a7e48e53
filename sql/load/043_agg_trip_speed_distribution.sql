-- Rebuild taxi.agg_trip_speed_distribution for :month (YYYY-MM) from taxi.fct_trips: delete the
-- month, insert one row per distinct speed with the trips at that speed or faster.
DELETE FROM taxi.agg_trip_speed_distribution
WHERE month_start = TO_DATE(:month, 'YYYY-MM');

INSERT INTO taxi.agg_trip_speed_distribution (month_start, avg_speed_mph, trip_count, trips_at_or_above)
SELECT TO_DATE(:month, 'YYYY-MM'),
       avg_speed_mph,
       trip_count,
       SUM(trip_count) OVER (ORDER BY avg_speed_mph DESC ROWS UNBOUNDED PRECEDING)
FROM (
    SELECT avg_speed_mph, COUNT(*) AS trip_count
    FROM taxi.fct_trips
    WHERE pickup_date >= TO_DATE(:month, 'YYYY-MM')
  AND pickup_date < DATEADD(month, 1, TO_DATE(:month, 'YYYY-MM'))
      AND avg_speed_mph IS NOT NULL
    GROUP BY avg_speed_mph
) speeds
ORDER BY avg_speed_mph;
