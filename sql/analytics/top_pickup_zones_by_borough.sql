-- The N pickup zones with the most trips in one pickup borough ('All' = every borough; ties broken by
-- zone id), with revenue and the zone's share of the borough's trips.
-- Params: :month (YYYY-MM), :borough (a pu_borough name or 'All'), :top_n (integer). Source: location_analysis.
SELECT zone_rank, pu_location_id, pu_borough, pu_zone, trip_count, total_revenue, trip_share_pct
FROM (
    SELECT pu_location_id, pu_borough, pu_zone,
           SUM(trip_count) AS trip_count,
           SUM(total_revenue) AS total_revenue,
           ROUND(100.0 * SUM(trip_count) / SUM(SUM(trip_count)) OVER (), 2) AS trip_share_pct,
           ROW_NUMBER() OVER (ORDER BY SUM(trip_count) DESC, pu_location_id) AS zone_rank
    FROM taxi.location_analysis
    WHERE pickup_month = :month
      AND (:borough = 'All' OR pu_borough = :borough)
    GROUP BY pu_location_id, pu_borough, pu_zone
) ranked
WHERE zone_rank <= CAST(:top_n AS INTEGER)
ORDER BY zone_rank;
