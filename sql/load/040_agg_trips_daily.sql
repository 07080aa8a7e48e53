-- Rebuild taxi.agg_trips_daily for :month (YYYY-MM) from taxi.fct_trips: delete the month, insert it.
-- Run with the other sql/load files in one transaction (taxilab.warehouse.aggregates_wh).
DELETE FROM taxi.agg_trips_daily
WHERE pickup_date >= TO_DATE(:month, 'YYYY-MM')
  AND pickup_date < DATEADD(month, 1, TO_DATE(:month, 'YYYY-MM'));

INSERT INTO taxi.agg_trips_daily (pickup_date, trip_count, airport_trips, airport_fees, total_revenue,
                                  zero_distance, over_3_hours, tip_above_fare)
SELECT pickup_date,
       COUNT(*),
       SUM(CASE WHEN is_airport_trip THEN 1 ELSE 0 END),
       SUM(airport_fee),
       SUM(total_amount),
       SUM(CASE WHEN trip_distance = 0 THEN 1 ELSE 0 END),
       SUM(CASE WHEN trip_duration_min > 180 THEN 1 ELSE 0 END),
       SUM(CASE WHEN tip_amount > fare_amount THEN 1 ELSE 0 END)
FROM taxi.fct_trips
WHERE pickup_date >= TO_DATE(:month, 'YYYY-MM')
  AND pickup_date < DATEADD(month, 1, TO_DATE(:month, 'YYYY-MM'))
GROUP BY pickup_date;
