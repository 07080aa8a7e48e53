-- Daily trips and revenue of a month for one pickup borough ('All' = every borough), with the weekday.
-- Params: :month (YYYY-MM), :borough (a pu_borough name or 'All'). Source: location_analysis + dim_date.
SELECT l.pickup_date,
       d.iso_weekday,
       d.is_weekend,
       SUM(l.trip_count) AS trip_count,
       SUM(l.total_revenue) AS total_revenue
FROM taxi.location_analysis l
JOIN taxi.dim_date d ON d.date_key = l.pickup_date
WHERE l.pickup_month = :month
  AND (:borough = 'All' OR l.pu_borough = :borough)
GROUP BY l.pickup_date, d.iso_weekday, d.is_weekend
ORDER BY l.pickup_date;
