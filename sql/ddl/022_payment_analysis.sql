-- taxi.payment_analysis: one row per pickup date and payment type (curated/payment_analysis),
-- + pickup_month. Small: DISTSTYLE ALL. UNIQUE states the grain (informational on Redshift).
CREATE TABLE IF NOT EXISTS taxi.payment_analysis (
    pickup_date       DATE             NOT NULL ENCODE raw,
    payment_type      INTEGER          ENCODE az64,
    payment_type_name VARCHAR(32)      ENCODE zstd,
    trip_count        BIGINT           ENCODE az64,
    total_revenue     DECIMAL(18,2)    ENCODE az64,
    total_fare        DECIMAL(18,2)    ENCODE az64,
    total_tips        DECIMAL(18,2)    ENCODE az64,
    tipped_trips      BIGINT           ENCODE az64,
    avg_tip_pct       DOUBLE PRECISION ENCODE zstd,
    pickup_month      VARCHAR(7)       NOT NULL ENCODE zstd,
    UNIQUE (pickup_date, payment_type)
)
DISTSTYLE ALL
COMPOUND SORTKEY (pickup_date, payment_type);
