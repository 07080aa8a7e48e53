-- taxi.dim_zone: the TLC taxi zones (taxi_zone_lookup.csv), one row per LocationID, + is_airport.
-- ~265 rows: DISTSTYLE ALL puts a copy on every node, so joins from fct_trips (distributed on
-- pu_location_id) never redistribute. Replaced whole by taxilab.warehouse.dims on every load.
CREATE TABLE IF NOT EXISTS taxi.dim_zone (
    location_id  INTEGER      NOT NULL ENCODE raw,
    borough      VARCHAR(32)  ENCODE zstd,
    zone         VARCHAR(100) ENCODE zstd,
    service_zone VARCHAR(32)  ENCODE zstd,
    is_airport   BOOLEAN      ENCODE zstd,
    UNIQUE (location_id)
)
DISTSTYLE ALL
COMPOUND SORTKEY (location_id);
