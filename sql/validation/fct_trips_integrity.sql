-- Row-level integrity of a month of fct_trips: the partition columns agree with pickup_datetime,
-- the trip ends after it starts, and every zone, payment type and date has its dimension row.
-- A month with no trips loaded fails too (month_has_trips: 1 when fct_trips holds none of the month).
-- Returns one row per failed check with the number of offending trips. Params: :month.
-- fct_trips is scanned once (the dimensions are small lookups joined to it); the CTE's one row is then
-- unfolded into one row per check.
WITH t AS (
    SELECT COUNT(*) AS trips,
           SUM(CASE WHEN f.pickup_date <> CAST(f.pickup_datetime AS DATE) THEN 1 ELSE 0 END) AS bad_date,
           SUM(CASE WHEN f.dropoff_datetime <= f.pickup_datetime THEN 1 ELSE 0 END) AS bad_dropoff,
           SUM(CASE WHEN pz.location_id IS NULL OR dz.location_id IS NULL THEN 1 ELSE 0 END) AS bad_zone,
           SUM(CASE WHEN p.payment_type IS NULL THEN 1 ELSE 0 END) AS bad_payment,
           SUM(CASE WHEN d.date_key IS NULL THEN 1 ELSE 0 END) AS bad_dim_date
    FROM taxi.fct_trips f
    LEFT JOIN taxi.dim_zone pz ON pz.location_id = f.pu_location_id
    LEFT JOIN taxi.dim_zone dz ON dz.location_id = f.do_location_id
    LEFT JOIN taxi.dim_payment_type p ON p.payment_type = f.payment_type
    LEFT JOIN taxi.dim_date d ON d.date_key = f.pickup_date
    WHERE f.pickup_date >= TO_DATE(:month, 'YYYY-MM') AND f.pickup_date < DATEADD(month, 1, TO_DATE(:month, 'YYYY-MM'))
)
SELECT check_name, failing_trips
FROM (
    SELECT 'month_has_trips' AS check_name, CASE WHEN trips = 0 THEN 1 ELSE 0 END AS failing_trips FROM t
    UNION ALL
    SELECT 'pickup_date_matches_pickup_datetime', bad_date FROM t
    UNION ALL
    SELECT 'dropoff_after_pickup', bad_dropoff FROM t
    UNION ALL
    SELECT 'zones_in_dim_zone', bad_zone FROM t
    UNION ALL
    SELECT 'payment_type_in_dim_payment_type', bad_payment FROM t
    UNION ALL
    SELECT 'pickup_date_in_dim_date', bad_dim_date FROM t
) checks
WHERE failing_trips > 0
ORDER BY check_name;
