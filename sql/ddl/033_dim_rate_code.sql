-- taxi.dim_rate_code: TLC RatecodeID codes (data dictionary; 99 = unknown). DISTSTYLE ALL.
CREATE TABLE IF NOT EXISTS taxi.dim_rate_code (
    ratecode_id    INTEGER     NOT NULL ENCODE raw,
    rate_code_name VARCHAR(32) NOT NULL ENCODE zstd,
    UNIQUE (ratecode_id)
)
DISTSTYLE ALL
COMPOUND SORTKEY (ratecode_id);
