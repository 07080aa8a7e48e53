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
# # 02 · Warehouse analytics
# The named analytics queries (`sql/analytics/*.sql`, Redshift SQL) run by name against the warehouse —
# the lab's PostgreSQL locally (translated by sqlglot), Redshift through the Data API on the aws
# profile — the same queries the dashboard and `taxilab sql run` use. Plots with matplotlib.

# %% tags=["parameters"]
MONTH = None  # 'YYYY-MM'; None = the newest loaded month

# %%
from decimal import Decimal

import matplotlib

matplotlib.use("module://matplotlib_inline.backend_inline")
import matplotlib.pyplot as plt
import pandas as pd

from taxilab.core.settings import load_settings
from taxilab.warehouse import queries

settings = load_settings()


def run(name: str, **params) -> pd.DataFrame:
    """A named query's result as a DataFrame (DECIMAL as float for plotting)."""
    q = queries.load_query(name)
    values = {k: str(v) for k, v in params.items()}
    if settings.profile == "aws":
        from taxilab.warehouse.data_api import DataApiClient

        res = DataApiClient(settings).run_named(q, values)
        df = pd.DataFrame(res.rows, columns=res.columns)
        for c in df.columns:  # the Data API returns DECIMAL as strings
            numbers = pd.to_numeric(df[c], errors="coerce")
            if df[c].dtype == object and df[c].notna().any() and numbers.notna().sum() == df[c].notna().sum():
                df[c] = numbers
        return df
    from taxilab.warehouse.loader import connect

    with connect(settings) as conn:
        res = queries.run(conn, q, values, schema=settings.warehouse_schema)
    df = pd.DataFrame(res.rows, columns=res.columns)
    return df.apply(lambda c: c.map(lambda v: float(v) if isinstance(v, Decimal) else v))


pd.DataFrame(
    [(q.name, " ".join(f":{p}" for p in q.params), q.description) for q in queries.all_queries()],
    columns=["query", "parameters", "description"],
)

# %%
months = run("loaded_months")
assert not months.empty, "no month in the warehouse: run `make pipeline` first"
month = MONTH or months["pickup_month"].iloc[0]
print("month:", month)
months

# %%
summary = run("executive_summary", month=month)
summary.T

# %% [markdown]
# ## Daily trips: weekdays against weekends

# %%
daily = run("daily_trips_by_borough", month=month, borough="All")
assert daily["trip_count"].sum() == summary["trip_count"].iloc[0]
fig, ax = plt.subplots(figsize=(10, 3.5))
ax.bar(
    pd.to_datetime(daily["pickup_date"]),
    daily["trip_count"],
    color=["#e45756" if w else "#4c78a8" for w in daily["is_weekend"]],
)
ax.set_title(f"Trips per day, {month} (red: weekend)")
ax.set_ylabel("trips")
plt.show()
run("weekday_vs_weekend", month=month)

# %% [markdown]
# ## Demand by hour and weekday

# %%
heat = (
    run("peak_hour_heatmap", month=month)
    .pivot_table(index="pickup_weekday", columns="pickup_hour", values="trip_count", aggfunc="sum")
    .reindex(index=range(1, 8), columns=range(24))
    .fillna(0)
)
fig, ax = plt.subplots(figsize=(10, 3))
im = ax.imshow(heat.values, aspect="auto", cmap="Blues")
ax.set_yticks(range(7), ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"])
ax.set_xticks(range(0, 24, 2), [f"{h:02d}" for h in range(0, 24, 2)])
ax.set_xlabel("pickup hour")
fig.colorbar(im, ax=ax, label="trips")
plt.show()

# %% [markdown]
# ## Zones, airports, payments, distance

# %%
run("top_pickup_zones_by_borough", month=month, borough="All", top_n=10)

# %%
airports = run("airport_share", month=month)
airports

# %%
pay = run("payment_mix", month=month)
tips = run("tipping_by_payment", month=month)
fig, ax = plt.subplots(figsize=(6, 2.5))
ax.barh(pay["payment_type_name"], pay["trip_count"])
ax.set_title("Trips by payment type")
plt.show()
# Cash tips are not recorded in the TLC data: tip % is meaningful for card payments only.
tips[tips["payment_type_name"] == "Credit card"]

# %%
dist = run("distance_category_speed", month=month)
fig, axes = plt.subplots(1, 2, figsize=(10, 3))
axes[0].bar(dist["distance_category"], dist["fare_per_mile"])
axes[0].set_title("Fare per mile ($)")
axes[1].bar(dist["distance_category"], dist["avg_speed_mph"], color="#e45756")
axes[1].set_title("Average speed (mph)")
plt.show()
dist

# %%
run("congestion_fee", month=month)
