-- Suspicious trips that passed validation: over a speed limit, zero distance, over 3 hours, or
-- a tip above the fare. Params: :month (YYYY-MM), :max_speed_mph (number).
-- Source: agg_trips_daily (fixed-rule counts) + agg_trip_speed_distribution (trips at or above
-- each speed: the first speed above the limit gives the count for any limit).
SELECT CAST(COALESCE(SUM(d.trip_count), 0) AS BIGINT) AS trip_count,
       CASE WHEN COUNT(*) = 0 THEN NULL ELSE COALESCE((
           SELECT s.trips_at_or_above
           FROM taxi.agg_trip_speed_distribution s
           WHERE s.month_start = TO_DATE(:month, 'YYYY-MM')
             AND s.avg_speed_mph > CAST(:max_speed_mph AS DOUBLE PRECISION)
           ORDER BY s.avg_speed_mph
           LIMIT 1), 0) END AS too_fast,
       CAST(SUM(d.zero_distance) AS BIGINT) AS zero_distance,
       CAST(SUM(d.over_3_hours) AS BIGINT) AS over_3_hours,
       CAST(SUM(d.tip_above_fare) AS BIGINT) AS tip_above_fare
FROM taxi.agg_trips_daily d
WHERE d.pickup_date >= TO_DATE(:month, 'YYYY-MM')
  AND d.pickup_date < DATEADD(month, 1, TO_DATE(:month, 'YYYY-MM'));
