-- Replace :month (YYYY-MM) in taxi.daily_summary with the curated zone's month partition, read through
-- Redshift Spectrum (external schema lake_curated over the curated Glue database; pickup_month is the
-- Hive partition column). Run with the other sql/load files in ONE transaction (sql_load.py).
DELETE FROM taxi.daily_summary
WHERE pickup_month = :month;

INSERT INTO taxi.daily_summary (
    pickup_date, pickup_weekday, is_weekend, trip_count, total_revenue, total_fare, total_tips,
    total_passengers, total_distance, avg_fare, avg_distance, avg_duration_min, avg_tip_pct, airport_trips,
    pickup_month
)
SELECT
    pickup_date, pickup_weekday, is_weekend, trip_count, total_revenue, total_fare, total_tips,
    total_passengers, total_distance, avg_fare, avg_distance, avg_duration_min, avg_tip_pct, airport_trips,
    pickup_month
FROM lake_curated.daily_summary
WHERE pickup_month = :month;
