-- Row-level integrity of a month of fct_trips: the partition columns agree with pickup_datetime,
-- the trip ends after it starts, and every zone, payment type and date has its dimension row.
-- A month with no trips loaded fails too (month_has_trips: 1 when fct_trips holds none of the month).
-- Returns one row per failed check with the number of offending trips. Params: :month.
SELECT check_name, failing_trips
FROM (
    SELECT 'month_has_trips' AS check_name, CASE WHEN COUNT(*) = 0 THEN 1 ELSE 0 END AS failing_trips
    FROM taxi.fct_trips f
    WHERE f.pickup_date >= TO_DATE(:month, 'YYYY-MM') AND f.pickup_date < DATEADD(month, 1, TO_DATE(:month, 'YYYY-MM'))
    UNION ALL
    SELECT 'pickup_date_matches_pickup_datetime',
           SUM(CASE WHEN f.pickup_date <> CAST(f.pickup_datetime AS DATE) THEN 1 ELSE 0 END) AS failing_trips
    FROM taxi.fct_trips f
    WHERE f.pickup_date >= TO_DATE(:month, 'YYYY-MM') AND f.pickup_date < DATEADD(month, 1, TO_DATE(:month, 'YYYY-MM'))
    UNION ALL
    SELECT 'dropoff_after_pickup',
           SUM(CASE WHEN f.dropoff_datetime <= f.pickup_datetime THEN 1 ELSE 0 END)
    FROM taxi.fct_trips f
    WHERE f.pickup_date >= TO_DATE(:month, 'YYYY-MM') AND f.pickup_date < DATEADD(month, 1, TO_DATE(:month, 'YYYY-MM'))
    UNION ALL
    SELECT 'zones_in_dim_zone',
           SUM(CASE WHEN pz.location_id IS NULL OR dz.location_id IS NULL THEN 1 ELSE 0 END)
    FROM taxi.fct_trips f
    LEFT JOIN taxi.dim_zone pz ON pz.location_id = f.pu_location_id
    LEFT JOIN taxi.dim_zone dz ON dz.location_id = f.do_location_id
    WHERE f.pickup_date >= TO_DATE(:month, 'YYYY-MM') AND f.pickup_date < DATEADD(month, 1, TO_DATE(:month, 'YYYY-MM'))
    UNION ALL
    SELECT 'payment_type_in_dim_payment_type',
           SUM(CASE WHEN p.payment_type IS NULL THEN 1 ELSE 0 END)
    FROM taxi.fct_trips f
    LEFT JOIN taxi.dim_payment_type p ON p.payment_type = f.payment_type
    WHERE f.pickup_date >= TO_DATE(:month, 'YYYY-MM') AND f.pickup_date < DATEADD(month, 1, TO_DATE(:month, 'YYYY-MM'))
    UNION ALL
    SELECT 'pickup_date_in_dim_date',
           SUM(CASE WHEN d.date_key IS NULL THEN 1 ELSE 0 END)
    FROM taxi.fct_trips f
    LEFT JOIN taxi.dim_date d ON d.date_key = f.pickup_date
    WHERE f.pickup_date >= TO_DATE(:month, 'YYYY-MM') AND f.pickup_date < DATEADD(month, 1, TO_DATE(:month, 'YYYY-MM'))
) checks
WHERE failing_trips > 0
ORDER BY check_name;
