-- Payment mix: trips, trip share and revenue per payment type.
-- Params: :month (YYYY-MM). Source: payment_analysis.
SELECT payment_type,
       payment_type_name,
       SUM(trip_count) AS trip_count,
       ROUND(100.0 * SUM(trip_count) / SUM(SUM(trip_count)) OVER (), 2) AS trip_share_pct,
       SUM(total_revenue) AS total_revenue
FROM taxi.payment_analysis
WHERE pickup_month = :month
GROUP BY payment_type, payment_type_name
ORDER BY payment_type;
