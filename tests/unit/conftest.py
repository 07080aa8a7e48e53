"""Unit-test fixtures: one small local Spark session for the whole run (no S3, no jars, no services),
and builders of tiny inline DataFrames (raw TLC rows, canonical trips, a zone lookup)."""

from __future__ import annotations

import contextlib
import os
import sys
from datetime import datetime
from decimal import Decimal

import pytest

# A valid 2024 trip in the source (raw) shape: (column, Spark DDL type of what Spark reads, value).
RAW_2024 = [
    ("VendorID", "int", 2),
    ("tpep_pickup_datetime", "timestamp_ntz", datetime(2024, 2, 10, 8, 15, 0)),
    ("tpep_dropoff_datetime", "timestamp_ntz", datetime(2024, 2, 10, 8, 30, 0)),
    ("passenger_count", "bigint", 1),
    ("trip_distance", "double", 3.0),
    ("RatecodeID", "bigint", 1),
    ("store_and_fwd_flag", "string", "N"),
    ("PULocationID", "int", 161),
    ("DOLocationID", "int", 236),
    ("payment_type", "bigint", 1),
    ("fare_amount", "double", 15.6),
    ("extra", "double", 2.5),
    ("mta_tax", "double", 0.5),
    ("tip_amount", "double", 4.0),
    ("tolls_amount", "double", 0.0),
    ("improvement_surcharge", "double", 1.0),
    ("total_amount", "double", 26.1),
    ("congestion_surcharge", "double", 2.5),
    ("Airport_fee", "double", 0.0),
    ("source_file", "string", "yellow_tripdata_2024-02.parquet"),
]

# The same trip, conformed.
CANONICAL_TRIP = {
    "vendor_id": 2,
    "pickup_datetime": datetime(2024, 2, 10, 8, 15, 0),
    "dropoff_datetime": datetime(2024, 2, 10, 8, 30, 0),
    "passenger_count": 1,
    "trip_distance": 3.0,
    "ratecode_id": 1,
    "store_and_fwd_flag": "N",
    "pu_location_id": 161,
    "do_location_id": 236,
    "payment_type": 1,
    "fare_amount": Decimal("15.60"),
    "extra": Decimal("2.50"),
    "mta_tax": Decimal("0.50"),
    "tip_amount": Decimal("4.00"),
    "tolls_amount": Decimal("0.00"),
    "improvement_surcharge": Decimal("1.00"),
    "total_amount": Decimal("26.10"),
    "congestion_surcharge": Decimal("2.50"),
    "airport_fee": Decimal("0.00"),
    "cbd_congestion_fee": None,
    "source_file": "yellow_tripdata_2024-02.parquet",
}

# A few real lookup rows (taxi_zone_lookup.csv), including the two 'N/A' ones.
ZONE_ROWS = [
    (1, "EWR", "Newark Airport", "EWR"),
    (132, "Queens", "JFK Airport", "Airports"),
    (138, "Queens", "LaGuardia Airport", "Airports"),
    (161, "Manhattan", "Midtown Center", "Yellow Zone"),
    (236, "Manhattan", "Upper East Side North", "Yellow Zone"),
    (264, "Unknown", "N/A", "N/A"),
    (265, "N/A", "Outside of NYC", "N/A"),
]


@pytest.fixture(scope="session")
def spark():
    from pyspark.sql import SparkSession

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    session = (
        SparkSession.builder.master("local[2]")
        .appName("taxilab-unit")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.driver.host", "127.0.0.1")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


@pytest.fixture
def raw_df(spark):
    """raw_df(*overrides, columns=RAW_2024, drop=(), types={}) -> one raw row per overrides dict.

    Each dict replaces values of the valid 2024 trip; `types` replaces a column's DDL type, `drop` removes
    columns, `columns` gives another era's (name, type, default) list.
    """
    from spark_jobs.schemas.contracts import spark_schema

    def build(*overrides, columns=RAW_2024, drop=(), types=None):
        types = types or {}
        cols = [(n, types.get(n, t), v) for n, t, v in columns if n not in drop]
        schema = spark_schema([(n, t) for n, t, _ in cols])
        rows = [tuple(o.get(n, v) for n, _, v in cols) for o in (overrides or ({},))]
        return spark.createDataFrame(rows, schema)

    return build


@pytest.fixture
def canonical_df(spark):
    """canonical_df(*overrides) -> canonical trips (contracts.CANONICAL_COLUMNS), one per overrides dict."""
    from spark_jobs.schemas.contracts import CANONICAL_COLUMNS, spark_schema

    def build(*overrides):
        rows = [tuple({**CANONICAL_TRIP, **o}[n] for n, _ in CANONICAL_COLUMNS) for o in (overrides or ({},))]
        return spark.createDataFrame(rows, spark_schema(CANONICAL_COLUMNS))

    return build


@pytest.fixture
def zones_df(spark):
    """The zone lookup subset ZONE_ROWS as enrich expects it (LocationID int, three strings)."""
    return spark.createDataFrame(
        ZONE_ROWS, "LocationID int, Borough string, Zone string, service_zone string"
    )


@pytest.fixture
def session_time_zone(spark):
    """Context manager: run a block under another spark.sql.session.timeZone, then restore UTC."""

    @contextlib.contextmanager
    def use(tz: str):
        before = spark.conf.get("spark.sql.session.timeZone")
        spark.conf.set("spark.sql.session.timeZone", tz)
        try:
            yield
        finally:
            spark.conf.set("spark.sql.session.timeZone", before)

    return use


@pytest.fixture
def stubbed():
    """A redshift-data client with botocore's Stubber: the tests check what the aws path sends."""
    import boto3
    from botocore.stub import Stubber

    client = boto3.client(
        "redshift-data", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="y"
    )
    with Stubber(client) as stub:
        yield client, stub
        stub.assert_no_pending_responses()
