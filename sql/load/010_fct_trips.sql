-- Replace :month (YYYY-MM) in taxi.fct_trips with the staging zone's trips, read through Redshift Spectrum
-- (external schema lake_staging over the staging Glue database; the crawler names the table after the
-- dataset). pickup_date and time_of_day_category are the Hive partition columns: Spectrum returns them
-- from the folder names (COPY ... FORMAT AS PARQUET cannot), and the WHERE prunes the other dates.
-- Run with the other sql/load files in ONE transaction (taxilab.warehouse.sql_load); loaded_at defaults.
DELETE FROM taxi.fct_trips
WHERE pickup_date >= TO_DATE(:month, 'YYYY-MM')
  AND pickup_date < DATEADD(month, 1, TO_DATE(:month, 'YYYY-MM'));

INSERT INTO taxi.fct_trips (
    vendor_id, pickup_datetime, dropoff_datetime, passenger_count, trip_distance, ratecode_id,
    store_and_fwd_flag, pu_location_id, do_location_id, payment_type, fare_amount, extra, mta_tax, tip_amount,
    tolls_amount, improvement_surcharge, total_amount, congestion_surcharge, airport_fee, cbd_congestion_fee,
    source_file, trip_duration_min, avg_speed_mph, pickup_hour, pickup_weekday, is_weekend, tip_pct,
    fare_per_mile, distance_category, pu_borough, pu_zone, do_borough, do_zone, is_airport_trip, is_flex_fare,
    is_unknown_zone, is_zero_passengers, pickup_date, time_of_day_category
)
SELECT
    vendor_id, pickup_datetime, dropoff_datetime, passenger_count, trip_distance, ratecode_id,
    store_and_fwd_flag, pu_location_id, do_location_id, payment_type, fare_amount, extra, mta_tax, tip_amount,
    tolls_amount, improvement_surcharge, total_amount, congestion_surcharge, airport_fee, cbd_congestion_fee,
    source_file, trip_duration_min, avg_speed_mph, pickup_hour, pickup_weekday, is_weekend, tip_pct,
    fare_per_mile, distance_category, pu_borough, pu_zone, do_borough, do_zone, is_airport_trip, is_flex_fare,
    is_unknown_zone, is_zero_passengers, pickup_date, time_of_day_category
FROM lake_staging.nyc_taxi
WHERE pickup_date >= TO_DATE(:month, 'YYYY-MM')
  AND pickup_date < DATEADD(month, 1, TO_DATE(:month, 'YYYY-MM'));
