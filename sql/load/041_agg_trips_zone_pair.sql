-- Rebuild taxi.agg_trips_zone_pair for :month (YYYY-MM) from taxi.fct_trips: delete the month, insert it.
DELETE FROM taxi.agg_trips_zone_pair
WHERE month_start = TO_DATE(:month, 'YYYY-MM');

INSERT INTO taxi.agg_trips_zone_pair (month_start, pu_location_id, pu_borough, pu_zone, do_location_id, do_borough,
                                      do_zone, is_airport_trip, trip_count, total_amount_sum, total_amount_n,
                                      airport_fee_sum, speed_mph_sum, speed_mph_n, trips_with_distance,
                                      distance_with_distance, fare_with_distance)
SELECT TO_DATE(:month, 'YYYY-MM'),
       pu_location_id, pu_borough, pu_zone, do_location_id, do_borough, do_zone, is_airport_trip,
       COUNT(*),
       SUM(total_amount),
       COUNT(total_amount),
       SUM(airport_fee),
       SUM(avg_speed_mph),
       COUNT(avg_speed_mph),
       SUM(CASE WHEN trip_distance > 0 THEN 1 ELSE 0 END),
       SUM(CASE WHEN trip_distance > 0 THEN trip_distance END),
       SUM(CASE WHEN trip_distance > 0 THEN fare_amount END)
FROM taxi.fct_trips
WHERE pickup_date >= TO_DATE(:month, 'YYYY-MM')
  AND pickup_date < DATEADD(month, 1, TO_DATE(:month, 'YYYY-MM'))
GROUP BY pu_location_id, pu_borough, pu_zone, do_location_id, do_borough, do_zone, is_airport_trip;
