-- Replace :month (YYYY-MM) in taxi.dim_date with every date of the month. No GENERATE_SERIES (leader
-- node only on Redshift): day offsets 0..39 from two digit lists, cut at the month's end. ISO weekday
-- (1 = Monday .. 7 = Sunday, as fct_trips.pickup_weekday); week_start is that week's Monday.
DELETE FROM taxi.dim_date
WHERE date_key >= TO_DATE(:month, 'YYYY-MM')
  AND date_key < DATEADD(month, 1, TO_DATE(:month, 'YYYY-MM'));

INSERT INTO taxi.dim_date (date_key, year, month, day_of_month, iso_weekday, day_name, week_start, is_weekend,
                           month_label)
SELECT date_key,
       CAST(EXTRACT(YEAR FROM date_key) AS INTEGER),
       CAST(EXTRACT(MONTH FROM date_key) AS INTEGER),
       CAST(EXTRACT(DAY FROM date_key) AS INTEGER),
       iso_weekday,
       CASE iso_weekday
                WHEN 1 THEN 'Monday'
                WHEN 2 THEN 'Tuesday'
                WHEN 3 THEN 'Wednesday'
                WHEN 4 THEN 'Thursday'
                WHEN 5 THEN 'Friday'
                WHEN 6 THEN 'Saturday'
                WHEN 7 THEN 'Sunday'
       END,
       CAST(DATEADD(day, 1 - iso_weekday, date_key) AS DATE),
       CASE WHEN iso_weekday >= 6 THEN TRUE ELSE FALSE END,
       :month
FROM (
    SELECT date_key,
           CASE WHEN EXTRACT(DOW FROM date_key) = 0 THEN 7 ELSE CAST(EXTRACT(DOW FROM date_key) AS INTEGER) END
               AS iso_weekday
    FROM (
        SELECT CAST(DATEADD(day, tens.n * 10 + units.n, TO_DATE(:month, 'YYYY-MM')) AS DATE) AS date_key
        FROM (SELECT 0 AS n UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3 UNION ALL SELECT 4 UNION ALL SELECT 5 UNION ALL SELECT 6 UNION ALL SELECT 7 UNION ALL SELECT 8 UNION ALL SELECT 9) units
        CROSS JOIN (SELECT 0 AS n UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3) tens
    ) offsets
    WHERE date_key < DATEADD(month, 1, TO_DATE(:month, 'YYYY-MM'))
) dates;
