-- Replace :month (YYYY-MM) in taxi.payment_analysis with the curated zone's month partition, read through
-- Redshift Spectrum (external schema lake_curated over the curated Glue database; pickup_month is the
-- Hive partition column). Run with the other sql/load files in ONE transaction (sql_load.py).
DELETE FROM taxi.payment_analysis
WHERE pickup_month = :month;

INSERT INTO taxi.payment_analysis (
    pickup_date, payment_type, payment_type_name, trip_count, total_revenue, total_fare, total_tips,
    tipped_trips, avg_tip_pct, pickup_month
)
SELECT
    pickup_date, payment_type, payment_type_name, trip_count, total_revenue, total_fare, total_tips,
    tipped_trips, avg_tip_pct, pickup_month
FROM lake_curated.payment_analysis
WHERE pickup_month = :month;
