-- The N most frequent zone-to-zone routes (ties broken by pickup then dropoff zone id).
-- Params: :month (YYYY-MM), :top_n (integer). Source: fct_trips.
SELECT route_rank, pu_location_id, pu_zone, do_location_id, do_zone, trip_count, avg_total
FROM (
    SELECT pu_location_id, pu_zone, do_location_id, do_zone,
           COUNT(*) AS trip_count,
           ROUND(AVG(total_amount), 2) AS avg_total,
           ROW_NUMBER() OVER (ORDER BY COUNT(*) DESC, pu_location_id, do_location_id) AS route_rank
    FROM taxi.fct_trips
    WHERE pickup_date >= TO_DATE(:month, 'YYYY-MM')
      AND pickup_date < DATEADD(month, 1, TO_DATE(:month, 'YYYY-MM'))
    GROUP BY pu_location_id, pu_zone, do_location_id, do_zone
) ranked
WHERE route_rank <= CAST(:top_n AS INTEGER)
ORDER BY route_rank;
