-- Rebuild taxi.agg_trips_hourly_profile for :month (YYYY-MM) from taxi.fct_trips: delete the month, insert it.
DELETE FROM taxi.agg_trips_hourly_profile
WHERE month_start = TO_DATE(:month, 'YYYY-MM');

INSERT INTO taxi.agg_trips_hourly_profile (month_start, pickup_hour, vendor_id, payment_type, ratecode_id,
                                           passenger_count, duration_bucket, trip_count, total_amount_sum,
                                           total_amount_n, fare_amount_sum, fare_amount_n, speed_mph_sum, speed_mph_n,
                                           duration_min_sum, duration_min_n, tip_pct_sum, tip_pct_n)
SELECT TO_DATE(:month, 'YYYY-MM'),
       pickup_hour, vendor_id, payment_type, ratecode_id, passenger_count,
       CASE WHEN trip_duration_min < 5 THEN '00-05 min'
            WHEN trip_duration_min < 15 THEN '05-15 min'
            WHEN trip_duration_min < 30 THEN '15-30 min'
            WHEN trip_duration_min < 60 THEN '30-60 min'
            ELSE '60+ min' END,
       COUNT(*),
       SUM(total_amount),
       COUNT(total_amount),
       SUM(fare_amount),
       COUNT(fare_amount),
       SUM(avg_speed_mph),
       COUNT(avg_speed_mph),
       SUM(trip_duration_min),
       COUNT(trip_duration_min),
       SUM(tip_pct),
       COUNT(tip_pct)
FROM taxi.fct_trips
WHERE pickup_date >= TO_DATE(:month, 'YYYY-MM')
  AND pickup_date < DATEADD(month, 1, TO_DATE(:month, 'YYYY-MM'))
GROUP BY 1, 2, 3, 4, 5, 6, 7;
