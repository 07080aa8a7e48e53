-- Figures of fct_trips per pickup date for reconciliation with staging: rows, exact money sums in cents and an order-independent row fingerprint.
-- Not a check by itself (taxilab.validation.reconcile compares it with the lake's own figures, computed by
-- DuckDB). The fingerprint is defined in docs/adr/0019-per-day-reconciliation-fingerprints.md: each row's
-- key columns rendered as text (epoch seconds floored, cents as integers, ids as integers, '|' between
-- fields, '~' for NULL), the first 15 hex digits of its MD5 as a 60-bit integer, summed as DECIMAL(38,0).
-- Params: :month.
SELECT pickup_date,
       COUNT(*) AS row_count,
       SUM(CAST(total_amount * 100 AS BIGINT)) AS total_cents,
       SUM(CAST(fare_amount * 100 AS BIGINT)) AS fare_cents,
       SUM(CAST(tip_amount * 100 AS BIGINT)) AS tip_cents,
       SUM(CAST(STRTOL(SUBSTRING(MD5(
           COALESCE(CAST(vendor_id AS VARCHAR), '~') || '|'
           || COALESCE(CAST(DATEDIFF(second, TIMESTAMP '1970-01-01 00:00:00', pickup_datetime) AS VARCHAR), '~') || '|'
           || COALESCE(CAST(DATEDIFF(second, TIMESTAMP '1970-01-01 00:00:00', dropoff_datetime) AS VARCHAR), '~') || '|'
           || COALESCE(CAST(pu_location_id AS VARCHAR), '~') || '|'
           || COALESCE(CAST(do_location_id AS VARCHAR), '~') || '|'
           || COALESCE(CAST(payment_type AS VARCHAR), '~') || '|'
           || COALESCE(CAST(passenger_count AS VARCHAR), '~') || '|'
           || COALESCE(CAST(ratecode_id AS VARCHAR), '~') || '|'
           || COALESCE(CAST(CAST(fare_amount * 100 AS BIGINT) AS VARCHAR), '~') || '|'
           || COALESCE(CAST(CAST(tip_amount * 100 AS BIGINT) AS VARCHAR), '~') || '|'
           || COALESCE(CAST(CAST(tolls_amount * 100 AS BIGINT) AS VARCHAR), '~') || '|'
           || COALESCE(CAST(CAST(total_amount * 100 AS BIGINT) AS VARCHAR), '~')
       ), 1, 15), 16) AS DECIMAL(38, 0))) AS fingerprint
FROM taxi.fct_trips
WHERE pickup_date >= TO_DATE(:month, 'YYYY-MM')
  AND pickup_date < DATEADD(month, 1, TO_DATE(:month, 'YYYY-MM'))
GROUP BY pickup_date
ORDER BY pickup_date;
