-- Tipping per payment type: share of trips with a tip, total tips, tips as a percent of fares.
-- Params: :month (YYYY-MM). Source: payment_analysis.
SELECT payment_type_name,
       SUM(trip_count) AS trip_count,
       SUM(tipped_trips) AS tipped_trips,
       ROUND(100.0 * SUM(tipped_trips) / SUM(trip_count), 2) AS tipped_share_pct,
       SUM(total_tips) AS total_tips,
       ROUND(100.0 * SUM(total_tips) / NULLIF(SUM(total_fare), 0), 2) AS tips_pct_of_fare
FROM taxi.payment_analysis
WHERE pickup_month = :month
GROUP BY payment_type, payment_type_name
ORDER BY payment_type;
