-- Market share by vendor (TPEP provider): trips, trip share, revenue.
-- Params: :month (YYYY-MM). Source: fct_trips.
SELECT vendor_id,
       COUNT(*) AS trip_count,
       ROUND(100.0 * COUNT(*) / SUM(COUNT(*)) OVER (), 2) AS trip_share_pct,
       SUM(total_amount) AS total_revenue
FROM taxi.fct_trips
WHERE pickup_date >= TO_DATE(:month, 'YYYY-MM')
  AND pickup_date < DATEADD(month, 1, TO_DATE(:month, 'YYYY-MM'))
GROUP BY vendor_id
ORDER BY vendor_id;
