-- The N pickup zones with the most trips (ties broken by zone id), with revenue and average fare.
-- Params: :month (YYYY-MM), :top_n (integer). Source: location_analysis.
SELECT zone_rank, pu_location_id, pu_borough, pu_zone, trip_count, total_revenue, avg_fare
FROM (
    SELECT pu_location_id, pu_borough, pu_zone,
           SUM(trip_count) AS trip_count,
           SUM(total_revenue) AS total_revenue,
           ROUND(SUM(total_fare) / SUM(trip_count), 2) AS avg_fare,
           ROW_NUMBER() OVER (ORDER BY SUM(trip_count) DESC, pu_location_id) AS zone_rank
    FROM taxi.location_analysis
    WHERE pickup_month = :month
    GROUP BY pu_location_id, pu_borough, pu_zone
) ranked
WHERE zone_rank <= CAST(:top_n AS INTEGER)
ORDER BY zone_rank;
