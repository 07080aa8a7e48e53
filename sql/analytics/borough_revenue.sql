-- Trips, revenue and revenue share by pickup borough.
-- Params: :month (YYYY-MM). Source: location_analysis.
SELECT pu_borough,
       SUM(trip_count) AS trip_count,
       SUM(total_revenue) AS total_revenue,
       ROUND(100.0 * SUM(total_revenue) / SUM(SUM(total_revenue)) OVER (), 2) AS revenue_share_pct
FROM taxi.location_analysis
WHERE pickup_month = :month
GROUP BY pu_borough
ORDER BY total_revenue DESC, pu_borough;
