-- Trips and revenue by rate code ('Not recorded' when the trip has none, as Flex Fare trips).
-- Params: :month (YYYY-MM). Source: fct_trips + dim_rate_code.
SELECT COALESCE(r.rate_code_name, 'Not recorded') AS rate_code,
       COUNT(*) AS trip_count,
       SUM(f.total_amount) AS total_revenue
FROM taxi.fct_trips f
LEFT JOIN taxi.dim_rate_code r ON r.ratecode_id = f.ratecode_id
WHERE f.pickup_date >= TO_DATE(:month, 'YYYY-MM')
  AND f.pickup_date < DATEADD(month, 1, TO_DATE(:month, 'YYYY-MM'))
GROUP BY COALESCE(r.rate_code_name, 'Not recorded')
ORDER BY trip_count DESC, rate_code;
