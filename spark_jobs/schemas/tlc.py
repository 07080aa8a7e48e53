"""TLC yellow taxi source schemas as delivered (see shared/docs/TLC_REFERENCE.md).
Why: docs/adr/0017-crawler-schema-change-policy-and-eras.md.
"""

from __future__ import annotations

from dataclasses import dataclass

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


# ---------------------------------------------------------------------------------------------------
# Eras: the explicit, documented mapping of every TLC yellow schema to the canonical one (docs/ERAS.md).
# conform.conform() applies the mapping (names via SOURCE_TO_CANONICAL, case-insensitively; types by
# the converters); this table says which physical schema each era delivers, what conform() does with
# it, and which eras the lab refuses at ingest (check_source_schema()).
# ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Era:
    name: str
    first_month: str
    last_month: str | None  # None: still current
    supported: bool
    # (source column, Arrow types delivered) where the era differs from 2024; the rest as SOURCE_2024.
    differences: tuple[tuple[str, str], ...]
    mapping: str  # what conform() does with the differences (or why the era is refused)


ERAS: tuple[Era, ...] = (
    Era(
        "2009-2010",
        "2009-01",
        "2010-12",
        False,
        (
            ("vendor_name / vendor_id", "string"),
            ("Trip_Pickup_DateTime / pickup_datetime", "string"),
            ("Start_Lon, Start_Lat, End_Lon, End_Lat", "double"),
            ("payment_type / Payment_Type", "string"),
        ),
        "refused at ingest: trips are located by latitude/longitude, not by TLC zone "
        "(no PULocationID/DOLocationID), so they cannot be conformed to zone-based trips without a "
        "spatial join the lab does not do",
    ),
    Era(
        "2011-2023-01",
        "2011-01",
        "2023-01",
        True,
        (
            ("VendorID, PULocationID, DOLocationID", "int64"),
            ("passenger_count, RatecodeID", "double"),
            ("airport_fee (lower case)", "double, or null-typed (2019-01..2020-07, 2020-10)"),
            ("store_and_fwd_flag", "string"),
            ("fee columns", "double or null-typed"),
            ("tpep_*_datetime", "timestamp[us] or timestamp[ns]"),
        ),
        "int64 IDs narrowed to int (out-of-range -> quarantined under the column's domain rule); "
        "integral doubles to int (fractional/NaN -> quarantined); airport_fee matched case-insensitively; "
        "null-typed columns become typed nulls; timestamp[ns] read as epoch nanoseconds "
        "(spark.sql.legacy.parquet.nanosAsLong) and floored to microseconds",
    ),
    Era(
        "2023-02-2024",
        "2023-02",
        "2024-12",
        True,
        (("Airport_fee (capital A)", "double"),),
        "the reference schema (SOURCE_2024): Airport_fee -> airport_fee; cbd_congestion_fee is null",
    ),
    Era(
        "2025-",
        "2025-01",
        None,
        True,
        (("cbd_congestion_fee", "double"),),
        "as 2023-02 onward; cbd_congestion_fee is kept (canonical column cbd_congestion_fee)",
    ),
)

# Columns only the 2009-2010 schema has (lower-cased): their presence without zone IDs names that era.
PRE_2011_MARKERS = frozenset(
    {
        "vendor_name",
        "vendor_id",
        "trip_pickup_datetime",
        "trip_dropoff_datetime",
        "pickup_datetime",
        "start_lon",
        "start_lat",
        "end_lon",
        "end_lat",
        "pickup_longitude",
        "pickup_latitude",
    }
)
# Green taxi files (lpep_ timestamps, trip_type, ehail_fee) are another dataset, not a yellow era.
GREEN_MARKERS = frozenset({"lpep_pickup_datetime", "lpep_dropoff_datetime", "ehail_fee", "trip_type"})

# Canonical kind of each required column: the Arrow types a TLC file of a supported era delivers.
_REQUIRED_KINDS = {
    "vendorid": "integer",
    "pulocationid": "integer",
    "dolocationid": "integer",
    "payment_type": "integer",
    "tpep_pickup_datetime": "timestamp",
    "tpep_dropoff_datetime": "timestamp",
    "trip_distance": "number",
    "fare_amount": "number",
    "total_amount": "number",
}
_OPTIONAL_KINDS = {
    "passenger_count": "integer",
    "ratecodeid": "integer",
    "store_and_fwd_flag": "text",
    "extra": "number",
    "mta_tax": "number",
    "tip_amount": "number",
    "tolls_amount": "number",
    "improvement_surcharge": "number",
    "congestion_surcharge": "number",
    "airport_fee": "number",
    "cbd_congestion_fee": "number",
}


def era_of_month(month: str) -> Era:
    """The era whose months include `month` ('YYYY-MM')."""
    for era in ERAS:
        if era.first_month <= month and (era.last_month is None or month <= era.last_month):
            return era
    raise ValueError(f"no TLC yellow data before {ERAS[0].first_month}: got {month!r}")


def detect_era(columns: list[str]) -> Era | None:
    """The era a file's column names belong to (None: not a TLC yellow schema of any era)."""
    names = {c.lower() for c in columns}
    exact = set(columns)
    if "pulocationid" not in names and names & PRE_2011_MARKERS:
        return ERAS[0]
    if not set(REQUIRED_SOURCE_COLUMNS) <= names:
        return None
    if "cbd_congestion_fee" in names:
        return ERAS[3]
    if "Airport_fee" in exact:
        return ERAS[2]
    return ERAS[1]  # lower-case airport_fee (or none at all): the 2011-2023-01 layout


def _kind_ok(kind: str, dtype) -> bool:
    import pyarrow.types as t

    if kind == "integer":
        return t.is_integer(dtype) or t.is_floating(dtype) or t.is_decimal(dtype)
    if kind == "number":
        return t.is_integer(dtype) or t.is_floating(dtype) or t.is_decimal(dtype)
    if kind == "timestamp":
        return t.is_timestamp(dtype) or t.is_date(dtype)
    # text: strings only (the warehouse column is VARCHAR(1); a bool or int cast to text would not fit).
    return t.is_string(dtype) or t.is_large_string(dtype)


def check_source_schema(schema, rows: int) -> list[str]:
    """Why a file cannot be a TLC yellow month the lab conforms (empty list: it can).

    `schema` is the pyarrow schema from the Parquet footer. Checked: the era (2009-2010 refused, green
    taxi refused), required columns present, no two columns that differ only in case, every known column
    of a type some era delivers (e.g. strings in fare_amount: the file was mangled, e.g. through CSV),
    no required column null-typed, and at least one row.
    """
    import pyarrow.types as t

    names = list(schema.names)
    lower = [n.lower() for n in names]
    era = detect_era(names)
    if era is not None and not era.supported:
        return [
            f"looks like a {era.name} TLC file (columns {sorted(set(lower) & PRE_2011_MARKERS)}); "
            f"that era is not supported: {era.mapping}"
        ]
    if set(lower) & GREEN_MARKERS:
        return [
            f"looks like a green taxi file (columns {sorted(set(lower) & GREEN_MARKERS)}), not yellow; "
            "this lab ingests yellow taxi trips only"
        ]
    problems = []
    missing = [c for c in REQUIRED_SOURCE_COLUMNS if c not in lower]
    if missing:
        problems.append(f"missing required TLC yellow columns {missing}")
    dupes = sorted({n for n in lower if lower.count(n) > 1})
    if dupes:
        problems.append(f"columns that differ only in case: {dupes} (names are matched case-insensitively)")
    for field in schema:
        key = field.name.lower()
        kind = _REQUIRED_KINDS.get(key) or _OPTIONAL_KINDS.get(key)
        if kind is None:
            continue  # unknown extra columns are dropped by conform() and reported by the job
        if t.is_null(field.type):
            if key in _REQUIRED_KINDS:
                problems.append(f"required column {field.name!r} is null-typed (holds no values)")
            continue
        if not _kind_ok(kind, field.type):
            problems.append(
                f"column {field.name!r} has type {field.type}, no TLC era delivers it as such "
                f"(expected a {kind} type)"
            )
    if rows == 0 and not problems:
        problems.append("the file has no rows (a TLC month is never empty)")
    return problems
