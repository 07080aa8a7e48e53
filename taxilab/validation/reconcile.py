"""Exact reconciliation of one month across the layers, month totals and day by day, lake figures from
pyarrow and DuckDB against the warehouse's own SQL. What is compared at each layer and what it cannot
catch: docs/adr/0019-per-day-reconciliation-fingerprints.md (money: docs/adr/0003).
"""

from __future__ import annotations

from decimal import Decimal

from spark_jobs.schemas.contracts import CURATED
from taxilab.core.settings import Settings
from taxilab.report import Check
from taxilab.validation import fingerprint as fp
from taxilab.validation import lakestats

# sql/validation queries that return figures for reconcile to compare (not checks themselves); every other
# query in the directory is a check: no rows = consistent, each row returned fails validation.
FIGURE_QUERIES = ("fct_trips_daily_fingerprint", "curated_tables_daily")
MAX_DAYS_LISTED = 20  # per comparison: further differing days are summed up in one check


class ReconciliationError(RuntimeError):
    """One or more reconciliation checks failed."""


def _money(cents: int) -> str:
    sign = "-" if cents < 0 else ""
    return f"{sign}{abs(cents) // 100}.{abs(cents) % 100:02d}"


def compare_days(
    layer: str, left: dict[str, fp.Day], right: dict[str, fp.Day], fingerprint: bool = True
) -> list[Check]:
    """One failing Check per day whose figures differ, named with the layer, the day and the difference
    ("staging vs fct_trips 2021-03-14: rows 1204 vs 1203 (-1), fingerprint differs"); one passing Check
    for the layer pair when every day agrees."""
    failing: list[Check] = []
    for day in sorted(set(left) | set(right)):
        a, b = left.get(day, fp.Day()), right.get(day, fp.Day())
        diffs = []
        if a.rows != b.rows:
            diffs.append(f"rows {a.rows} vs {b.rows} ({b.rows - a.rows:+d})")
        for k in sorted(set(a.sums) | set(b.sums)):
            x, y = a.sums.get(k, 0), b.sums.get(k, 0)
            if x != y:
                f = _money if k.endswith("_cents") else str
                diffs.append(
                    f"{k.removesuffix('_cents')} {f(x)} vs {f(y)} ({'+' if y > x else ''}{f(y - x)})"
                )
        if fingerprint and a.fingerprint != b.fingerprint:
            diffs.append("fingerprint differs")
        if diffs:
            failing.append(
                Check(
                    f"{layer} {day}: " + ", ".join(diffs),
                    _figures(a, fingerprint),
                    _figures(b, fingerprint),
                    False,
                )
            )
    if len(failing) > MAX_DAYS_LISTED:
        rest = failing[MAX_DAYS_LISTED:]
        failing = failing[:MAX_DAYS_LISTED] + [
            Check(
                f"{layer}: {len(rest)} more day(s) differ ({rest[0].name.split(':')[0]} ...)",
                0,
                len(rest),
                False,
            )
        ]
    if failing:
        return failing
    what = (
        "rows"
        + (", money" if any(d.sums for d in left.values()) else "")
        + (", fingerprint" if fingerprint else "")
    )
    rows = sum(d.rows for d in left.values())
    return [Check(f"{layer}: {len(left)} day(s) equal ({what} per pickup date)", rows, rows, True)]


def _figures(d: fp.Day, fingerprint: bool) -> dict:
    out: dict = {"rows": d.rows}
    out.update({k: _money(v) if k.endswith("_cents") else v for k, v in sorted(d.sums.items())})
    if fingerprint:
        out["fingerprint"] = d.fingerprint
    return out


def _file_id(url: str) -> str:
    """bucket/key of an s3:// or s3a:// URL (the etl tags rows with the URL it read)."""
    return url.split("://", 1)[-1]


def raw_checks(settings: Settings, month: str, staging_raw: dict, staging_files: dict) -> list[Check]:
    """Every object under the raw prefix read by the etl (or refused at ingest: then it is not there);
    raw = staging + quarantine per pickup date (rows, fingerprint on the fields conform keeps) and per file."""
    checks: list[Check] = []
    objects = lakestats.raw_objects(settings, month)
    data = [o.key for o in objects if o.problem is None and not o.key.endswith("/_manifest.json")]
    for o in objects:
        if o.problem:
            checks.append(
                Check(
                    f"raw {month} {o.key}: not read by the etl: {o.problem}",
                    "read or refused",
                    "left in raw",
                    False,
                )
            )
    if not data:
        prefix = lakestats.paths.raw_month_prefix(settings.dataset, month)
        checks.append(Check(f"raw {month}: no data object under {prefix}", ">= 1 object", 0, False))
    raw_days, raw_files = lakestats.raw_daily(settings, month, data)
    quarantine_days, quarantine_files = lakestats.quarantine_daily(settings, month)
    lake = {d: fp.Day() for d in set(staging_raw) | set(quarantine_days)}
    for src in (staging_raw, quarantine_days):
        for d, figures in src.items():
            lake[d].add(figures)
    checks += compare_days("raw vs staging + quarantine", raw_days, lake)
    read: dict[str, int] = {}
    for per in (staging_files, quarantine_files):
        for url, n in per.items():
            read[_file_id(url)] = read.get(_file_id(url), 0) + n
    for url, n in sorted(raw_files.items()):
        got = read.get(_file_id(url), 0)
        if got != n:
            what = "not read by the etl" if got == 0 and n else f"rows {n} vs {got} ({got - n:+d})"
            checks.append(Check(f"raw vs staging + quarantine, file {url}: {what}", n, got, False))
    return checks


def warehouse_figures(settings: Settings, month: str, part: int) -> dict:
    """What validation asks the warehouse, in its own SQL, in two parts run on two threads beside the
    lake's work (each query on its own connection/statement): part 0 the month stats and the figures per
    day, part 1 the sql/validation checks."""
    from taxilab import resources
    from taxilab.warehouse import queries

    wh = resources.warehouse(settings)
    values = {"month": month}
    if part == 0:
        q = queries.load_query("fct_trips_daily_fingerprint", queries.VALIDATION_DIR)
        fct = fp.from_rows(wh.run_named(q, values).rows, ("total_cents", "fare_cents", "tip_cents"))
        q = queries.load_query("curated_tables_daily", queries.VALIDATION_DIR)
        return {"stats": wh.stats(month), "fct": fct, "curated": list(wh.run_named(q, values).rows)}
    checks = []
    for name in queries.list_names(queries.VALIDATION_DIR):
        if name not in FIGURE_QUERIES:
            res = wh.run_named(queries.load_query(name, queries.VALIDATION_DIR), values)
            checks.append((name, list(res.columns), list(res.rows)))
    return {"checks": checks}


def warehouse_checks(settings: Settings, month: str, staging_trips: dict, figures: dict) -> list[Check]:
    """staging = fct_trips and lake curated = warehouse curated per pickup date, then every check query of
    sql/validation (figures: warehouse_figures())."""
    checks = compare_days("staging vs fct_trips", staging_trips, figures["fct"])

    warehouse_curated: dict[str, dict[str, fp.Day]] = {t: {} for t in CURATED}
    for table, day, grain_rows, trips, cents in figures["curated"]:
        warehouse_curated.setdefault(str(table), {})[str(day)] = _curated_day(grain_rows, trips, cents)
    for t in CURATED:
        lake = {d: _curated_day(*v) for d, v in lakestats.curated_daily(settings, month, t).items()}
        checks += compare_days(
            f"curated {t} vs warehouse {t}", lake, warehouse_curated.get(t, {}), fingerprint=False
        )

    for name, columns, rows in figures["checks"]:
        if not rows:
            checks.append(Check(f"sql/validation/{name}.sql: no rows (consistent)", 0, 0, True))
        for row in rows[:MAX_DAYS_LISTED]:
            detail = ", ".join(f"{c}={v}" for c, v in zip(columns, row, strict=False))
            checks.append(
                Check(f"sql/validation/{name}.sql (warehouse {month}): {detail}", "no rows", "row", False)
            )
        if len(rows) > MAX_DAYS_LISTED:
            checks.append(
                Check(
                    f"sql/validation/{name}.sql: {len(rows) - MAX_DAYS_LISTED} more rows",
                    0,
                    len(rows),
                    False,
                )
            )
    return checks


def _curated_day(grain_rows, trips, cents) -> fp.Day:
    """A curated table's day as figures: its grain rows as rows, trips and revenue (cents) as sums."""
    return fp.Day(int(grain_rows), 0, {"trips": int(trips or 0), "revenue_cents": int(cents or 0)})


def reconcile(settings: Settings, month: str) -> list[Check]:
    """Exact reconciliation across layers; every check independent of what the jobs reported. The
    warehouse's SQL runs on two background threads while the lake's figures are computed."""
    from concurrent.futures import ThreadPoolExecutor

    checks: list[Check] = []

    def check(name, expected, actual):
        checks.append(Check(name, expected, actual, expected == actual))

    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="validate-warehouse") as pool:
        warehouse = [pool.submit(warehouse_figures, settings, month, part) for part in (0, 1)]
        raw = lakestats.raw_stats(settings, month)
        # staging per day (docs/adr/0019); its month totals are the sums of its days
        staging_trips, staging_raw, staging_files = lakestats.staging_daily(settings, month)
        staging = lakestats.Stats(
            sum(d.rows for d in staging_trips.values()),
            Decimal(sum(d.sums.get("total_cents", 0) for d in staging_trips.values())) / 100,
        )
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
        # Day by day: a lost row offset by a duplicate, or a row moved between days, fails here.
        day_checks = raw_checks(settings, month, staging_raw, staging_files)
        figures = {**warehouse[0].result(), **warehouse[1].result()}
    wh = figures["stats"]
    check("warehouse fct_trips rows = staging rows", staging.rows, wh["fct_trips"]["rows"])
    check("warehouse fct_trips total_amount = staging", staging.total_amount, wh["fct_trips"]["total_amount"])
    for t, c in curated.items():
        w = wh[t]
        check(f"warehouse {t} rows = curated rows", c["rows"], w["rows"])
        check(f"warehouse {t} trips = curated trips", c["trip_count"], w["trip_count"])
        check(f"warehouse {t} revenue = curated revenue", c["total_revenue"], w["total_revenue"])
    checks += day_checks
    checks += warehouse_checks(settings, month, staging_trips, figures)
    return checks
