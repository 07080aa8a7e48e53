-- Distance categories: trips, revenue, total miles and fare per mile (total fare / total miles).
-- Params: :month (YYYY-MM). Source: distance_analysis. Ordered from short to long trips.
SELECT distance_category,
       SUM(trip_count) AS trip_count,
       SUM(total_revenue) AS total_revenue,
       ROUND(SUM(total_distance), 2) AS total_miles,
       ROUND(CAST(SUM(total_fare) AS DOUBLE PRECISION) / NULLIF(SUM(total_distance), 0), 2) AS fare_per_mile
FROM taxi.distance_analysis
WHERE pickup_month = :month
GROUP BY distance_category
ORDER BY SUM(total_distance) / SUM(trip_count), distance_category;
