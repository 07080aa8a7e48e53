-- Replace :month (YYYY-MM) in taxi.hourly_patterns with the curated zone's month partition, read through
-- Redshift Spectrum (external schema lake_curated over the curated Glue database; pickup_month is the
-- Hive partition column). Run with the other sql/load files in ONE transaction (sql_load.py).
DELETE FROM taxi.hourly_patterns
WHERE pickup_month = :month;

INSERT INTO taxi.hourly_patterns (
    pickup_date, pickup_hour, pickup_weekday, is_weekend, time_of_day_category, trip_count, total_revenue,
    total_fare, total_tips, avg_fare, avg_duration_min, avg_speed_mph, pickup_month
)
SELECT
    pickup_date, pickup_hour, pickup_weekday, is_weekend, time_of_day_category, trip_count, total_revenue,
    total_fare, total_tips, avg_fare, avg_duration_min, avg_speed_mph, pickup_month
FROM lake_curated.hourly_patterns
WHERE pickup_month = :month;
