-- The N most frequent zone-to-zone routes (ties broken by pickup then dropoff zone id).
-- Params: :month (YYYY-MM), :top_n (integer). Source: agg_trips_zone_pair (fct_trips per route and month).
-- The routes are summed first and ranked on their bigint trip counts; the average is divided out for the N
-- rows kept only (sorting every route with its rounded average cost ~25% more).
SELECT route_rank, pu_location_id, pu_zone, do_location_id, do_zone, trip_count,
       ROUND(total_amount_sum / NULLIF(total_amount_n, 0), 2) AS avg_total
FROM (
    SELECT pu_location_id, pu_zone, do_location_id, do_zone, trip_count, total_amount_sum, total_amount_n,
           ROW_NUMBER() OVER (ORDER BY trip_count DESC, pu_location_id, do_location_id) AS route_rank
    FROM (
        SELECT pu_location_id, pu_zone, do_location_id, do_zone,
               CAST(SUM(trip_count) AS BIGINT) AS trip_count,
               SUM(total_amount_sum) AS total_amount_sum, SUM(total_amount_n) AS total_amount_n
        FROM taxi.agg_trips_zone_pair
        WHERE month_start = TO_DATE(:month, 'YYYY-MM')
        GROUP BY pu_location_id, pu_zone, do_location_id, do_zone
    ) routes
) ranked
WHERE route_rank <= CAST(:top_n AS INTEGER)
ORDER BY route_rank;
