-- The Manhattan congestion relief zone fee (charged from 2025-01-05): trips whose file records the fee,
-- trips charged, their share of the month's trips, fees collected. Before 2025 nothing is recorded.
-- Params: :month (YYYY-MM). Source: agg_cbd_fee_daily (fct_trips rolled up per day after each load; its
-- day sums add up exactly to the month's, a month without trips gives 0 trips and NULLs as a scan would).
SELECT CAST(COALESCE(SUM(trip_count), 0) AS BIGINT) AS trip_count,
       CAST(SUM(fee_recorded_trips) AS BIGINT) AS fee_recorded_trips,
       CAST(SUM(charged_trips) AS BIGINT) AS charged_trips,
       ROUND(100.0 * SUM(charged_trips) / NULLIF(SUM(trip_count), 0), 2) AS charged_share_pct,
       SUM(total_fee) AS total_fee
FROM taxi.agg_cbd_fee_daily
WHERE pickup_date >= TO_DATE(:month, 'YYYY-MM')
  AND pickup_date < DATEADD(month, 1, TO_DATE(:month, 'YYYY-MM'));
