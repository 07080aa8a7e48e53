-- Airport trips by airport and direction (a trip from an airport counts as 'from', else as 'to'):
-- trips, revenue, airport fees, average total. Params: :month (YYYY-MM). Source: fct_trips + dim_zone.
SELECT z.zone AS airport,
       t.direction,
       COUNT(*) AS trip_count,
       SUM(t.total_amount) AS total_revenue,
       SUM(t.airport_fee) AS airport_fees,
       ROUND(AVG(t.total_amount), 2) AS avg_total
FROM (
    SELECT CASE WHEN pu_location_id IN (1, 132, 138) THEN pu_location_id ELSE do_location_id END AS airport_id,
           CASE WHEN pu_location_id IN (1, 132, 138) THEN 'from' ELSE 'to' END AS direction,
           total_amount, airport_fee
    FROM taxi.fct_trips
    WHERE pickup_date >= TO_DATE(:month, 'YYYY-MM')
      AND pickup_date < DATEADD(month, 1, TO_DATE(:month, 'YYYY-MM'))
      AND is_airport_trip
) t
JOIN taxi.dim_zone z ON z.location_id = t.airport_id
GROUP BY z.zone, t.direction
ORDER BY z.zone, t.direction;
