-- The Manhattan congestion relief zone fee (charged from 2025-01-05): trips whose file records the fee,
-- trips charged, their share of the month's trips, fees collected. Before 2025 nothing is recorded.
-- Params: :month (YYYY-MM). Source: fct_trips (the month's dates: its sort key prunes the scan).
SELECT CAST(COUNT(*) AS BIGINT) AS trip_count,
       CAST(SUM(CASE WHEN cbd_congestion_fee IS NOT NULL THEN 1 ELSE 0 END) AS BIGINT) AS fee_recorded_trips,
       CAST(SUM(CASE WHEN cbd_congestion_fee > 0 THEN 1 ELSE 0 END) AS BIGINT) AS charged_trips,
       ROUND(100.0 * SUM(CASE WHEN cbd_congestion_fee > 0 THEN 1 ELSE 0 END) / NULLIF(COUNT(*), 0), 2)
           AS charged_share_pct,
       SUM(cbd_congestion_fee) AS total_fee
FROM taxi.fct_trips
WHERE pickup_date >= TO_DATE(:month, 'YYYY-MM')
  AND pickup_date < DATEADD(month, 1, TO_DATE(:month, 'YYYY-MM'));
