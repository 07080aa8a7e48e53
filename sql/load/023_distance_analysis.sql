-- Replace :month (YYYY-MM) in taxi.distance_analysis with the curated zone's month partition, read through
-- Redshift Spectrum (external schema lake_curated over the curated Glue database; pickup_month is the
-- Hive partition column). Run with the other sql/load files in ONE transaction (sql_load.py).
DELETE FROM taxi.distance_analysis
WHERE pickup_month = :month;

INSERT INTO taxi.distance_analysis (
    pickup_date, distance_category, trip_count, total_revenue, total_fare, total_tips, total_distance,
    avg_fare_per_mile, avg_duration_min, avg_speed_mph, pickup_month
)
SELECT
    pickup_date, distance_category, trip_count, total_revenue, total_fare, total_tips, total_distance,
    avg_fare_per_mile, avg_duration_min, avg_speed_mph, pickup_month
FROM lake_curated.distance_analysis
WHERE pickup_month = :month;
