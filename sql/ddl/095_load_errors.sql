-- lab_meta.sys_load_error_detail: the lab's stand-in for Redshift's SYS_LOAD_ERROR_DETAIL (rows a
-- COPY rejected: which file, line and column, why, and the raw line). Its own schema, not taxi:
-- it describes loads, it is not warehouse data. Written by taxilab.warehouse.redshift for every
-- rejected row, including when the COPY then fails for exceeding MAXERROR (as Redshift does).
create schema if not exists lab_meta;

CREATE TABLE IF NOT EXISTS lab_meta.sys_load_error_detail (
    query_id      VARCHAR(64)    NOT NULL ENCODE zstd,
    table_name    VARCHAR(256)   NOT NULL ENCODE zstd,
    file_name     VARCHAR(1024)  NOT NULL ENCODE zstd,
    line_number   BIGINT         NOT NULL ENCODE az64,
    column_name   VARCHAR(128)   ENCODE zstd,
    column_type   VARCHAR(64)    ENCODE zstd,
    error_code    INTEGER        NOT NULL ENCODE az64,
    error_message VARCHAR(512)   NOT NULL ENCODE zstd,
    raw_field_value VARCHAR(1024) ENCODE zstd,
    raw_line      VARCHAR(4096)  ENCODE zstd,
    start_time    TIMESTAMP      NOT NULL DEFAULT GETDATE() ENCODE raw
)
DISTSTYLE ALL
COMPOUND SORTKEY (start_time);
