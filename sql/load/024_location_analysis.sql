-- Replace :month (YYYY-MM) in taxi.location_analysis with the curated zone's month partition, read through
-- Redshift Spectrum (external schema lake_curated over the curated Glue database; pickup_month is the
-- Hive partition column). Run with the other sql/load files in ONE transaction (sql_load.py).
DELETE FROM taxi.location_analysis
WHERE pickup_month = :month;

INSERT INTO taxi.location_analysis (
    pickup_date, pu_location_id, pu_borough, pu_zone, trip_count, total_revenue, total_fare, total_tips,
    avg_fare, avg_distance, avg_tip_pct, pickup_month
)
SELECT
    pickup_date, pu_location_id, pu_borough, pu_zone, trip_count, total_revenue, total_fare, total_tips,
    avg_fare, avg_distance, avg_tip_pct, pickup_month
FROM lake_curated.location_analysis
WHERE pickup_month = :month;
