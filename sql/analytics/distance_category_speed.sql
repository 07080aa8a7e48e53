-- Fare per mile and speed by distance category: trips, fare per mile (total fare / total miles),
-- average speed (mph) and duration (minutes) over the category's trips.
-- Params: :month (YYYY-MM). Source: distance_analysis (daily averages weighted by their trips: every
-- accepted trip has a positive duration, so a speed and a duration). Ordered from short to long trips.
SELECT distance_category,
       SUM(trip_count) AS trip_count,
       ROUND(CAST(SUM(total_fare) AS DOUBLE PRECISION) / NULLIF(SUM(total_distance), 0), 2) AS fare_per_mile,
       ROUND(SUM(avg_speed_mph * trip_count) / SUM(trip_count), 2) AS avg_speed_mph,
       ROUND(SUM(avg_duration_min * trip_count) / SUM(trip_count), 2) AS avg_duration_min
FROM taxi.distance_analysis
WHERE pickup_month = :month
GROUP BY distance_category
ORDER BY SUM(total_distance) / SUM(trip_count), distance_category;
