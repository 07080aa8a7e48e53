# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 01 · The lake
# What the pipeline wrote to S3, zone by zone: object listing with boto3, the partition layout, and the
# Parquet data read with pyarrow and queried with DuckDB. The services are found through the lab's
# settings (`load_settings()`: the local lab's `.lab/services.json`, the compose ports, or AWS).

# %% tags=["parameters"]
MONTH = None  # 'YYYY-MM'; None = the newest month in the raw zone

# %%
import re
from collections import Counter, defaultdict

import duckdb
import pandas as pd
import pyarrow.dataset as ds

from spark_jobs.io import paths
from taxilab.core import clients as aws
from taxilab.core.settings import load_settings

settings = load_settings()
s3 = aws.client("s3", settings)
print(
    f"profile {settings.profile}, bucket s3://{settings.bucket}, S3 endpoint {settings.endpoint('s3') or 'AWS'}"
)

# %% [markdown]
# ## Objects per zone
# Every object of the bucket, grouped by its zone (the first key segment).

# %%
objects = [
    o
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=settings.bucket)
    for o in page.get("Contents", [])
]
zones = pd.DataFrame(
    [{"zone": o["Key"].split("/", 1)[0], "key": o["Key"], "bytes": o["Size"]} for o in objects]
)
assert not zones.empty, f"s3://{settings.bucket} is empty: run `make pipeline` first"
per_zone = zones.groupby("zone").agg(
    objects=("key", "count"), mb=("bytes", lambda b: round(b.sum() / 1e6, 2))
)
per_zone

# %% [markdown]
# ## Partition layout
# Hive-style `key=value` folders: which partition keys each zone uses, and how many partitions.

# %%
KV = re.compile(r"([A-Za-z_]+)=([^/]+)/")
layout = defaultdict(Counter)
for key in zones["key"]:
    parts = KV.findall(key)
    if parts:
        prefix = key.split("/")[0] + ("/" + key.split("/")[1] if key.startswith("curated/") else "")
        layout[prefix][" / ".join(k for k, _ in parts)] += 1
pd.DataFrame(
    [{"prefix": p, "partition keys": k, "files": n} for p, c in sorted(layout.items()) for k, n in c.items()]
)

# %%
raw_months = sorted(
    {
        f"{y}-{m}"
        for y, m in re.findall(r"raw/dataset=[^/]+/year=(\d{4})/month=(\d{2})/", "\n".join(zones["key"]))
    }
)
print("months in raw:", raw_months)
month = MONTH or raw_months[-1]
print("exploring", month)
[k for k in zones["key"] if k.startswith(paths.raw_month_prefix(settings.dataset, month))]

# %% [markdown]
# ## Staging with pyarrow
# The accepted, enriched trips of the month, partitioned by pickup date and time of day.

# %%
fs = aws.arrow_s3_filesystem(settings)
staging = ds.dataset(
    f"{settings.bucket}/{paths.staging_prefix(settings.dataset).rstrip('/')}",
    format="parquet",
    filesystem=fs,
    partitioning="hive",
    ignore_prefixes=["_", "."],
)
start = pd.Timestamp(f"{month}-01").date()
end = (pd.Timestamp(f"{month}-01") + pd.offsets.MonthBegin(1)).date()
in_month = (ds.field("pickup_date") >= start.isoformat()) & (ds.field("pickup_date") < end.isoformat())
trips = staging.to_table(
    filter=in_month,
    columns=["pickup_date", "time_of_day_category", "total_amount", "trip_distance", "pu_borough"],
)
print(f"{trips.num_rows:,} staging rows in {month}; schema has {len(staging.schema)} columns")
staging.schema.to_string(show_schema_metadata=False).splitlines()[:12]

# %% [markdown]
# ## DuckDB over the same Arrow data
# DuckDB scans the Arrow table in place (no copy, no server).

# %%
duckdb.sql("""
    SELECT time_of_day_category, count(*) AS trips, round(sum(total_amount), 2) AS revenue,
           round(avg(trip_distance), 2) AS avg_miles
    FROM trips GROUP BY 1 ORDER BY trips DESC
""").df()

# %%
by_borough = duckdb.sql("SELECT pu_borough, count(*) AS trips FROM trips GROUP BY 1 ORDER BY 2 DESC").df()
assert by_borough["trips"].sum() == trips.num_rows
by_borough

# %% [markdown]
# ## Curated tables
# One folder per table, partitioned by `pickup_month`.

# %%
curated = {}
for table in sorted({k.split("/")[1] for k in zones["key"] if k.startswith("curated/")}):
    d = ds.dataset(
        f"{settings.bucket}/{paths.curated_prefix(table).rstrip('/')}",
        format="parquet",
        filesystem=fs,
        partitioning="hive",
        ignore_prefixes=["_", "."],
    )
    curated[table] = d.count_rows(filter=ds.field("pickup_month") == month)
pd.Series(curated, name=f"rows in {month}")
