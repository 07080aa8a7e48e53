-- The airports' share of a month: trips and revenue touching JFK, LaGuardia or Newark (either end; a
-- trip between two airports counts for its pickup airport), and their share of all trips and revenue.
-- Params: :month (YYYY-MM). Source: agg_trips_zone_pair (fct_trips per route and month) + dim_zone.
SELECT z.zone AS airport,
       CAST(SUM(t.trip_count) AS BIGINT) AS trip_count,
       SUM(t.total_amount_sum) AS total_revenue,
       ROUND(100.0 * SUM(t.trip_count) / MAX(m.month_trips), 2) AS trip_share_pct,
       ROUND(100.0 * SUM(t.total_amount_sum) / NULLIF(MAX(m.month_revenue), 0), 2) AS revenue_share_pct
FROM (
    SELECT CASE WHEN pu_location_id IN (1, 132, 138) THEN pu_location_id ELSE do_location_id END AS airport_id,
           trip_count, total_amount_sum
    FROM taxi.agg_trips_zone_pair
    WHERE month_start = TO_DATE(:month, 'YYYY-MM')
      AND (pu_location_id IN (1, 132, 138) OR do_location_id IN (1, 132, 138))
) t
CROSS JOIN (
    SELECT SUM(trip_count) AS month_trips, SUM(total_amount_sum) AS month_revenue
    FROM taxi.agg_trips_zone_pair
    WHERE month_start = TO_DATE(:month, 'YYYY-MM')
) m
JOIN taxi.dim_zone z ON z.location_id = t.airport_id
GROUP BY z.zone
ORDER BY z.zone;
