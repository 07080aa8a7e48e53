-- Credit-card tipping by pickup hour: card trips and their average tip percent (tip / fare * 100).
-- Params: :month (YYYY-MM). Source: fct_trips (payment_type 1 = credit card).
SELECT pickup_hour,
       COUNT(*) AS card_trips,
       ROUND(AVG(tip_pct), 2) AS avg_tip_pct
FROM taxi.fct_trips
WHERE pickup_date >= TO_DATE(:month, 'YYYY-MM')
  AND pickup_date < DATEADD(month, 1, TO_DATE(:month, 'YYYY-MM'))
  AND payment_type = 1
GROUP BY pickup_hour
ORDER BY pickup_hour;
