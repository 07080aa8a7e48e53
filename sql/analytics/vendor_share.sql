-- Market share by vendor (TPEP provider): trips, trip share, revenue.
-- Params: :month (YYYY-MM). Source: agg_trips_hourly_profile (fct_trips rolled up per month).
SELECT vendor_id,
       CAST(SUM(trip_count) AS BIGINT) AS trip_count,
       ROUND(100.0 * SUM(trip_count) / SUM(SUM(trip_count)) OVER (), 2) AS trip_share_pct,
       SUM(total_amount_sum) AS total_revenue
FROM taxi.agg_trips_hourly_profile
WHERE month_start = TO_DATE(:month, 'YYYY-MM')
GROUP BY vendor_id
ORDER BY vendor_id;
