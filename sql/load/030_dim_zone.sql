-- Rebuild taxi.dim_zone from the TLC zone lookup the ingest lands in the lake
-- (s3://<bucket>/reference/taxi_zone_lookup/taxi_zone_lookup.csv: LocationID, Borough, Zone, service_zone).
-- Replaced whole, as taxilab.warehouse.dims does: empty fields become NULL, is_airport marks EWR, JFK and
-- LaGuardia (spark_jobs/schemas/contracts.AIRPORT_ZONES). :zone_lookup_url and :iam_role are rendered.
DELETE FROM taxi.dim_zone;

COPY taxi.dim_zone (location_id, borough, zone, service_zone)
FROM :zone_lookup_url
IAM_ROLE :iam_role
CSV IGNOREHEADER 1;

UPDATE taxi.dim_zone
SET borough = NULLIF(borough, ''),
    zone = NULLIF(zone, ''),
    service_zone = NULLIF(service_zone, ''),
    is_airport = CASE WHEN location_id IN (1, 132, 138) THEN TRUE ELSE FALSE END;
