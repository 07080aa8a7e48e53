-- taxi.dim_payment_type: TLC payment_type codes (spark_jobs/schemas/contracts.PAYMENT_TYPES).
-- A handful of rows: DISTSTYLE ALL.
CREATE TABLE IF NOT EXISTS taxi.dim_payment_type (
    payment_type      INTEGER     NOT NULL ENCODE raw,
    payment_type_name VARCHAR(32) NOT NULL ENCODE zstd,
    UNIQUE (payment_type)
)
DISTSTYLE ALL
COMPOUND SORTKEY (payment_type);
