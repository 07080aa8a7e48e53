-- The N busiest pickup hours of a month (ties broken by the earlier hour).
-- Params: :month (YYYY-MM), :top_n (integer). Source: hourly_patterns.
SELECT pickup_hour, trip_count, total_revenue, hour_rank
FROM (
    SELECT pickup_hour,
           SUM(trip_count) AS trip_count,
           SUM(total_revenue) AS total_revenue,
           ROW_NUMBER() OVER (ORDER BY SUM(trip_count) DESC, pickup_hour) AS hour_rank
    FROM taxi.hourly_patterns
    WHERE pickup_month = :month
    GROUP BY pickup_hour
) ranked
WHERE hour_rank <= CAST(:top_n AS INTEGER)
ORDER BY hour_rank;
