-- Curated tables against fct_trips for a month: every curated table's trip count and revenue must equal
-- the fact table's. Returns one row per mismatching table (no rows = consistent). Params: :month.
SELECT c.table_name, f.trip_count AS fct_trips, c.trip_count AS curated_trips,
       f.total_revenue AS fct_revenue, c.total_revenue AS curated_revenue
FROM (
    SELECT 'daily_summary' AS table_name, SUM(trip_count) AS trip_count, SUM(total_revenue) AS total_revenue
    FROM taxi.daily_summary WHERE pickup_month = :month
    UNION ALL
    SELECT 'hourly_patterns', SUM(trip_count), SUM(total_revenue) FROM taxi.hourly_patterns WHERE pickup_month = :month
    UNION ALL
    SELECT 'payment_analysis', SUM(trip_count), SUM(total_revenue) FROM taxi.payment_analysis WHERE pickup_month = :month
    UNION ALL
    SELECT 'distance_analysis', SUM(trip_count), SUM(total_revenue) FROM taxi.distance_analysis WHERE pickup_month = :month
    UNION ALL
    SELECT 'location_analysis', SUM(trip_count), SUM(total_revenue) FROM taxi.location_analysis WHERE pickup_month = :month
) c
CROSS JOIN (
    SELECT COUNT(*) AS trip_count, SUM(total_amount) AS total_revenue
    FROM taxi.fct_trips
    WHERE pickup_date >= TO_DATE(:month, 'YYYY-MM')
      AND pickup_date < DATEADD(month, 1, TO_DATE(:month, 'YYYY-MM'))
) f
WHERE COALESCE(c.trip_count, 0) <> f.trip_count
   OR COALESCE(c.total_revenue, 0) <> COALESCE(f.total_revenue, 0)
ORDER BY c.table_name;
