-- Figures of the warehouse's curated tables per table and pickup date, for reconciliation with the lake's curated tables: grain rows, trips and revenue in cents.
-- Not a check by itself: taxilab.validation.reconcile compares it with the lake's curated Parquet read by
-- DuckDB (docs/adr/0019-per-day-reconciliation-fingerprints.md). Params: :month.
SELECT table_name, pickup_date, COUNT(*) AS grain_rows, SUM(trip_count) AS trip_count,
       SUM(CAST(total_revenue * 100 AS BIGINT)) AS revenue_cents
FROM (
    SELECT 'daily_summary' AS table_name, pickup_date, trip_count, total_revenue
    FROM taxi.daily_summary WHERE pickup_month = :month
    UNION ALL
    SELECT 'hourly_patterns', pickup_date, trip_count, total_revenue FROM taxi.hourly_patterns WHERE pickup_month = :month
    UNION ALL
    SELECT 'payment_analysis', pickup_date, trip_count, total_revenue FROM taxi.payment_analysis WHERE pickup_month = :month
    UNION ALL
    SELECT 'distance_analysis', pickup_date, trip_count, total_revenue FROM taxi.distance_analysis WHERE pickup_month = :month
    UNION ALL
    SELECT 'location_analysis', pickup_date, trip_count, total_revenue FROM taxi.location_analysis WHERE pickup_month = :month
) c
GROUP BY table_name, pickup_date
ORDER BY table_name, pickup_date;
