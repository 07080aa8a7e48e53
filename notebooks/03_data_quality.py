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
# # 03 · Data quality
# The quarantine zone (every rejected row, with its reason codes and source file) by reason and by TLC
# schema era, and the exact reconciliation between the layers (raw = staging + quarantine, curated =
# staging, warehouse = lake), recomputed here from the lake's files and the warehouse.

# %% tags=["parameters"]
MONTH = None  # 'YYYY-MM'; None = the newest month with a run report

# %%
import json

import duckdb
import matplotlib

matplotlib.use("module://matplotlib_inline.backend_inline")
import matplotlib.pyplot as plt
import pandas as pd
import pyarrow.dataset as ds

from spark_jobs.io import paths
from spark_jobs.schemas.tlc import era_of_month
from taxilab.core import clients as aws
from taxilab.core.settings import load_settings

try:  # the reconciliation's home after the layout refactor (docs/adr/0012)
    from taxilab.validation.reconcile import reconcile
except ImportError:
    from taxilab.validation.reconcile import reconcile

settings = load_settings()
reports = sorted(settings.runs_dir.glob("2*.json"), reverse=True)
assert reports, f"no run report in {settings.runs_dir}: run `make pipeline` first"
latest = json.loads((settings.runs_dir / "latest.json").read_text())
month = MONTH or latest["month"]
print("month:", month, "| era:", era_of_month(month).name)

# %% [markdown]
# ## Quarantine by reason and era
# All quarantined rows in the lake, by primary reason and by the TLC schema era of their month.

# %%
fs = aws.arrow_s3_filesystem(settings)
quarantine = ds.dataset(
    f"{settings.bucket}/{paths.quarantine_prefix(settings.dataset).rstrip('/')}",
    format="parquet",
    filesystem=fs,
    partitioning="hive",
    ignore_prefixes=["_", "."],
)
q = quarantine.to_table(
    columns=["year", "month", "primary_reason", "reason_codes", "total_amount", "source_file"]
)
print(f"{q.num_rows:,} quarantined rows in the lake")
by_reason = duckdb.sql("""
    SELECT printf('%04d-%02d', year, month) AS month, primary_reason, count(*) AS rows
    FROM q GROUP BY ALL ORDER BY month, rows DESC
""").df()
by_reason["era"] = by_reason["month"].map(lambda m: era_of_month(m).name)
pivot = (
    by_reason.pivot_table(index="primary_reason", columns="era", values="rows", aggfunc="sum")
    .fillna(0)
    .astype(int)
)
pivot

# %%
this_month = by_reason[by_reason["month"] == month].set_index("primary_reason")["rows"]
fig, ax = plt.subplots(figsize=(7, 3))
this_month.sort_values().plot.barh(ax=ax)
ax.set_title(f"Quarantined rows by primary reason, {month}")
plt.show()

# %% [markdown]
# Rows carry every reason that applies (`reason_codes`); the run report counts every code.

# %%
codes = duckdb.sql(f"""
    SELECT code, count(*) AS rows FROM (
        SELECT unnest(string_split(reason_codes, ',')) AS code FROM q
        WHERE year = {int(month[:4])} AND month = {int(month[5:])})
    GROUP BY code ORDER BY rows DESC
""").df()
run_report = next(json.loads(p.read_text()) for p in reports if json.loads(p.read_text())["month"] == month)
etl = next(s for s in run_report["stages"] if s["name"] == "etl")
pd.DataFrame(
    {
        "in the lake": codes.set_index("code")["rows"],
        "in the run report": pd.Series(etl["quarantined_by_reason"]),
    }
).fillna(0).astype(int)

# %% [markdown]
# ## Reconciliation
# Recomputed now from the files in S3 and the warehouse tables (not copied from the run report).

# %%
checks = reconcile(settings, month)
result = pd.DataFrame(
    [{"check": c.name, "expected": str(c.expected), "actual": str(c.actual), "ok": c.ok} for c in checks]
)
print(f"{int(result['ok'].sum())} of {len(result)} checks match")
result

# %%
stages = pd.DataFrame(
    [
        {k: s[k] for k in ("name", "rows_in", "rows_out", "quarantined", "seconds")}
        for s in run_report["stages"]
    ]
)
stages
