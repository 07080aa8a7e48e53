-- Credit-card tipping by pickup hour: card trips and their average tip percent (tip / fare * 100).
-- Params: :month (YYYY-MM). Source: agg_trips_hourly_profile (payment_type 1 = credit card).
SELECT pickup_hour,
       CAST(SUM(trip_count) AS BIGINT) AS card_trips,
       ROUND(SUM(tip_pct_sum) / CAST(NULLIF(SUM(tip_pct_n), 0) AS DOUBLE PRECISION), 2) AS avg_tip_pct
FROM taxi.agg_trips_hourly_profile
WHERE month_start = TO_DATE(:month, 'YYYY-MM')
  AND payment_type = 1
GROUP BY pickup_hour
ORDER BY pickup_hour;
