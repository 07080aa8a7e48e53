"""TLC yellow taxi source schemas as delivered (see shared/docs/TLC_REFERENCE.md).

Types are Arrow type names (what pyarrow reports for the files). The mapping from every source
column to its canonical name lives in SOURCE_TO_CANONICAL; names are matched case-insensitively
because the TLC renamed `airport_fee` to `Airport_fee` in 2023-02.
"""

from __future__ import annotations

# 2024 (and 2023-02 onward): 19 columns, exact case.
SOURCE_2024: list[tuple[str, str, bool]] = [  # (name, arrow type, nullable)
    ("VendorID", "int32", False),
    ("tpep_pickup_datetime", "timestamp[us]", False),
    ("tpep_dropoff_datetime", "timestamp[us]", False),
    ("passenger_count", "int64", True),
    ("trip_distance", "double", False),
    ("RatecodeID", "int64", True),
    ("store_and_fwd_flag", "large_string", True),
    ("PULocationID", "int32", False),
    ("DOLocationID", "int32", False),
    ("payment_type", "int64", False),
    ("fare_amount", "double", False),
    ("extra", "double", False),
    ("mta_tax", "double", False),
    ("tip_amount", "double", False),
    ("tolls_amount", "double", False),
    ("improvement_surcharge", "double", False),
    ("total_amount", "double", False),
    ("congestion_surcharge", "double", True),
    ("Airport_fee", "double", True),
]

# 2025-01 onward adds one column.
SOURCE_2025_EXTRA: list[tuple[str, str, bool]] = [("cbd_congestion_fee", "double", True)]

# Source column (lower-cased) -> canonical column.
SOURCE_TO_CANONICAL: dict[str, str] = {
    "vendorid": "vendor_id",
    "tpep_pickup_datetime": "pickup_datetime",
    "tpep_dropoff_datetime": "dropoff_datetime",
    "passenger_count": "passenger_count",
    "trip_distance": "trip_distance",
    "ratecodeid": "ratecode_id",
    "store_and_fwd_flag": "store_and_fwd_flag",
    "pulocationid": "pu_location_id",
    "dolocationid": "do_location_id",
    "payment_type": "payment_type",
    "fare_amount": "fare_amount",
    "extra": "extra",
    "mta_tax": "mta_tax",
    "tip_amount": "tip_amount",
    "tolls_amount": "tolls_amount",
    "improvement_surcharge": "improvement_surcharge",
    "total_amount": "total_amount",
    "congestion_surcharge": "congestion_surcharge",
    "airport_fee": "airport_fee",
    "cbd_congestion_fee": "cbd_congestion_fee",
}

# Source columns a file must have to be processed at all (lower-cased).
REQUIRED_SOURCE_COLUMNS = [
    "vendorid",
    "tpep_pickup_datetime",
    "tpep_dropoff_datetime",
    "trip_distance",
    "pulocationid",
    "dolocationid",
    "payment_type",
    "fare_amount",
    "total_amount",
]

SOURCE_URL = "https://d37ci6vzurychx.cloudfront.net/trip-data/yellow_tripdata_{month}.parquet"
ZONE_LOOKUP_URL = "https://d37ci6vzurychx.cloudfront.net/misc/taxi_zone_lookup.csv"


def arrow_schema_2024():
    """The exact pyarrow schema of a 2024 yellow file."""
    import pyarrow as pa

    types = {
        "int32": pa.int32(),
        "int64": pa.int64(),
        "double": pa.float64(),
        "timestamp[us]": pa.timestamp("us"),
        "large_string": pa.large_string(),
    }
    return pa.schema([pa.field(n, types[t], nullable=True) for n, t, _ in SOURCE_2024])
