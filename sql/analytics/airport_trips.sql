-- Airport trips by airport and direction (a trip from an airport counts as 'from', else as 'to'):
-- trips, revenue, airport fees, average total. Params: :month (YYYY-MM).
-- Source: agg_trips_zone_pair (fct_trips per route and month) + dim_zone.
SELECT z.zone AS airport,
       t.direction,
       CAST(SUM(t.trip_count) AS BIGINT) AS trip_count,
       SUM(t.total_amount_sum) AS total_revenue,
       SUM(t.airport_fee_sum) AS airport_fees,
       ROUND(SUM(t.total_amount_sum) / NULLIF(SUM(t.total_amount_n), 0), 2) AS avg_total
FROM (
    SELECT CASE WHEN pu_location_id IN (1, 132, 138) THEN pu_location_id ELSE do_location_id END AS airport_id,
           CASE WHEN pu_location_id IN (1, 132, 138) THEN 'from' ELSE 'to' END AS direction,
           trip_count, total_amount_sum, total_amount_n, airport_fee_sum
    FROM taxi.agg_trips_zone_pair
    WHERE month_start = TO_DATE(:month, 'YYYY-MM')
      AND is_airport_trip
) t
JOIN taxi.dim_zone z ON z.location_id = t.airport_id
GROUP BY z.zone, t.direction
ORDER BY z.zone, t.direction;
