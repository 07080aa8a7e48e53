-- The N most frequent zone-to-zone routes (ties broken by pickup then dropoff zone id).
-- Params: :month (YYYY-MM), :top_n (integer). Source: agg_trips_zone_pair (fct_trips per route and month).
SELECT route_rank, pu_location_id, pu_zone, do_location_id, do_zone, trip_count, avg_total
FROM (
    SELECT pu_location_id, pu_zone, do_location_id, do_zone,
           CAST(SUM(trip_count) AS BIGINT) AS trip_count,
           ROUND(SUM(total_amount_sum) / NULLIF(SUM(total_amount_n), 0), 2) AS avg_total,
           ROW_NUMBER() OVER (ORDER BY SUM(trip_count) DESC, pu_location_id, do_location_id) AS route_rank
    FROM taxi.agg_trips_zone_pair
    WHERE month_start = TO_DATE(:month, 'YYYY-MM')
    GROUP BY pu_location_id, pu_zone, do_location_id, do_zone
) ranked
WHERE route_rank <= CAST(:top_n AS INTEGER)
ORDER BY route_rank;
