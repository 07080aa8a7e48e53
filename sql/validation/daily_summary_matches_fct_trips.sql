-- daily_summary against fct_trips day by day: trips, revenue and airport trips per pickup date.
-- Returns one row per day that differs (or exists on one side only). Params: :month.
SELECT COALESCE(f.pickup_date, s.pickup_date) AS pickup_date,
       f.trip_count AS fct_trips, s.trip_count AS summary_trips,
       f.total_revenue AS fct_revenue, s.total_revenue AS summary_revenue
FROM (
    SELECT pickup_date, COUNT(*) AS trip_count, SUM(total_amount) AS total_revenue,
           SUM(CASE WHEN is_airport_trip THEN 1 ELSE 0 END) AS airport_trips
    FROM taxi.fct_trips
    WHERE pickup_date >= TO_DATE(:month, 'YYYY-MM')
      AND pickup_date < DATEADD(month, 1, TO_DATE(:month, 'YYYY-MM'))
    GROUP BY pickup_date
) f
FULL OUTER JOIN (
    SELECT pickup_date, trip_count, total_revenue, airport_trips
    FROM taxi.daily_summary WHERE pickup_month = :month
) s ON s.pickup_date = f.pickup_date
WHERE f.pickup_date IS NULL OR s.pickup_date IS NULL
   OR f.trip_count <> s.trip_count OR f.total_revenue <> s.total_revenue OR f.airport_trips <> s.airport_trips
ORDER BY 1;
