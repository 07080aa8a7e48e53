-- Rebuild taxi.agg_cbd_fee_daily for :month (YYYY-MM) from taxi.fct_trips: delete the month, insert it.
-- Run with the other sql/load files in one transaction (taxilab.warehouse.aggregates_wh).
DELETE FROM taxi.agg_cbd_fee_daily
WHERE pickup_date >= TO_DATE(:month, 'YYYY-MM')
  AND pickup_date < DATEADD(month, 1, TO_DATE(:month, 'YYYY-MM'));

INSERT INTO taxi.agg_cbd_fee_daily (pickup_date, trip_count, fee_recorded_trips, charged_trips, total_fee)
SELECT pickup_date,
       COUNT(*),
       SUM(CASE WHEN cbd_congestion_fee IS NOT NULL THEN 1 ELSE 0 END),
       SUM(CASE WHEN cbd_congestion_fee > 0 THEN 1 ELSE 0 END),
       SUM(cbd_congestion_fee)
FROM taxi.fct_trips
WHERE pickup_date >= TO_DATE(:month, 'YYYY-MM')
  AND pickup_date < DATEADD(month, 1, TO_DATE(:month, 'YYYY-MM'))
GROUP BY pickup_date;
