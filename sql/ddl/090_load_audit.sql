-- taxi.load_audit: one row per partition replaced by a warehouse load (which table, which
-- partition, how many rows went out and in, when). Written in the load's own transaction, so a
-- row here means the load committed.
CREATE TABLE IF NOT EXISTS taxi.load_audit (
    audit_id       BIGINT        IDENTITY(1,1) ENCODE az64,
    table_name     VARCHAR(128)  NOT NULL ENCODE zstd,
    pickup_month   VARCHAR(7)    ENCODE zstd,
    partition_spec VARCHAR(4096) NOT NULL ENCODE zstd,
    rows_deleted   BIGINT        NOT NULL ENCODE az64,
    rows_loaded    BIGINT        NOT NULL ENCODE az64,
    loaded_at      TIMESTAMP     NOT NULL DEFAULT GETDATE() ENCODE raw
)
DISTSTYLE ALL
COMPOUND SORTKEY (loaded_at);
