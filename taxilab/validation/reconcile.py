"""Exact reconciliation of one month across the layers: raw = staging + quarantine; curated = staging;
warehouse = lake. Every figure is read independently of what the jobs reported (pyarrow over the lake,
SQL over the warehouse); money compared exactly in cents (docs/adr/0003-exact-money-and-reconciliation.md).
"""

from __future__ import annotations

from spark_jobs.schemas.contracts import CURATED
from taxilab.core.settings import Settings
from taxilab.report import Check
from taxilab.validation import lakestats


class ReconciliationError(RuntimeError):
    """One or more reconciliation checks failed."""


def reconcile(settings: Settings, month: str) -> list[Check]:
    """Exact reconciliation across layers; every check independent of what the jobs reported."""
    from taxilab import resources

    checks: list[Check] = []

    def check(name, expected, actual):
        checks.append(Check(name, expected, actual, expected == actual))

    raw = lakestats.raw_stats(settings, month)
    staging = lakestats.staging_stats(settings, month)
    quarantine, _ = lakestats.quarantine_stats(settings, month)
    check("raw rows = staging + quarantine rows", raw.rows, staging.rows + quarantine.rows)
    # Non-finite raw amounts are quarantined with a null amount, so they drop out on both sides.
    check(
        "raw total_amount = staging + quarantine",
        raw.total_amount,
        staging.total_amount + quarantine.total_amount,
    )
    curated = {t: lakestats.curated_stats(settings, month, t) for t in CURATED}
    for t, c in curated.items():
        check(f"curated {t}: trips = staging rows", staging.rows, c["trip_count"])
        check(f"curated {t}: revenue = staging total_amount", staging.total_amount, c["total_revenue"])
    wh = resources.warehouse(settings).stats(month)
    check("warehouse fct_trips rows = staging rows", staging.rows, wh["fct_trips"]["rows"])
    check("warehouse fct_trips total_amount = staging", staging.total_amount, wh["fct_trips"]["total_amount"])
    for t, c in curated.items():
        w = wh[t]
        check(f"warehouse {t} rows = curated rows", c["rows"], w["rows"])
        check(f"warehouse {t} trips = curated trips", c["trip_count"], w["trip_count"])
        check(f"warehouse {t} revenue = curated revenue", c["total_revenue"], w["total_revenue"])
    return checks
