-- taxi.dim_date: one row per calendar date of every loaded month (dims.py replaces a month's dates
-- in the month's load). ISO weekday (1 = Monday .. 7 = Sunday) as in fct_trips.pickup_weekday;
-- week_start is the Monday of the ISO week (what DATE_TRUNC('week', ...) returns on Redshift).
-- Small: DISTSTYLE ALL.
CREATE TABLE IF NOT EXISTS taxi.dim_date (
    date_key     DATE        NOT NULL ENCODE raw,
    year         INTEGER     ENCODE az64,
    month        INTEGER     ENCODE az64,
    day_of_month INTEGER     ENCODE az64,
    iso_weekday  INTEGER     ENCODE az64,
    day_name     VARCHAR(9)  ENCODE zstd,
    week_start   DATE        ENCODE az64,
    is_weekend   BOOLEAN     ENCODE zstd,
    month_label  VARCHAR(7)  NOT NULL ENCODE zstd,
    UNIQUE (date_key)
)
DISTSTYLE ALL
COMPOUND SORTKEY (date_key);
