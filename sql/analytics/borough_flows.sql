-- Borough-to-borough flows: trips and revenue per (pickup borough, dropoff borough).
-- Params: :month (YYYY-MM). Source: agg_trips_zone_pair (fct_trips per route and month).
SELECT pu_borough,
       do_borough,
       CAST(SUM(trip_count) AS BIGINT) AS trip_count,
       SUM(total_amount_sum) AS total_revenue
FROM taxi.agg_trips_zone_pair
WHERE month_start = TO_DATE(:month, 'YYYY-MM')
GROUP BY pu_borough, do_borough
ORDER BY trip_count DESC, pu_borough, do_borough;
