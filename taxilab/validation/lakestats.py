"""Counts, exact money sums (cents) and per-day figures read straight from the lake's files with pyarrow,
independently of Spark. Why: docs/adr/0003-exact-money-and-reconciliation.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from spark_jobs.io import paths
from spark_jobs.month import Month
from taxilab.core import clients as aws
from taxilab.core.settings import Settings


@dataclass(frozen=True)
class Stats:
    rows: int
    total_amount: Decimal  # exact, cents

    def as_dict(self) -> dict:
        return {"rows": self.rows, "total_amount": self.total_amount}


def cents(values: pa.ChunkedArray | pa.Array) -> int:
    """Sum of double amounts in cents, rounded as the ETL's conform rounds them; nulls, NaN, inf excluded.

    Spark casts double -> decimal(12,2) by rounding the double's shortest decimal form half-up
    (2.675 -> 2.68). Values already on whole cents (nearly all) are exact with rint(x * 100); the
    rare others are rounded through Python's Decimal of repr(x), which is that same shortest form.
    """
    arr = values.to_numpy(zero_copy_only=False) if hasattr(values, "to_numpy") else np.asarray(values)
    arr = np.asarray(arr, dtype="float64")
    # conform() nulls amounts beyond decimal(12,2) as well as NaN/inf (quarantined as NONFINITE_AMOUNT
    # with a null amount), so they drop out here too; abs(NaN) <= x is False.
    arr = arr[np.abs(arr) <= 9_999_999_999.99]
    scaled = arr * 100.0
    whole = np.rint(scaled)
    off = np.abs(scaled - whole) > 1e-6
    total = int(whole[~off].astype(np.int64).sum())
    for v in arr[off]:
        total += int((Decimal(repr(float(v))) * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))
    return total


def _decimal_sum(table: pa.Table, column: str) -> Decimal:
    s = pc.sum(table[column]).as_py()
    return Decimal(s if s is not None else 0).quantize(Decimal("0.01"))


def raw_files(settings: Settings, month: str) -> list[str]:
    s3 = aws.client("s3", settings)
    prefix = paths.raw_month_prefix(settings.dataset, month)
    keys = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=settings.bucket, Prefix=prefix):
        for obj in page.get("Contents", []):
            name = obj["Key"].rsplit("/", 1)[-1]
            if (
                name.endswith(".parquet")
                and not name.startswith(("_", "."))
                and "/" not in obj["Key"][len(prefix) :]
            ):
                keys.append(obj["Key"])
    return sorted(keys)


def raw_stats(settings: Settings, month: str) -> Stats:
    fs = aws.arrow_s3_filesystem(settings)
    rows, total = 0, 0
    for key in raw_files(settings, month):
        with fs.open_input_file(f"{settings.bucket}/{key}") as f:
            pf = pq.ParquetFile(f)
            rows += pf.metadata.num_rows
            col = next((n for n in pf.schema_arrow.names if n.lower() == "total_amount"), None)
            if col:
                total += cents(pf.read(columns=[col])[col])
    return Stats(rows, Decimal(total) / 100)


def _dataset(settings: Settings, key_prefix: str) -> ds.Dataset | None:
    fs = aws.arrow_s3_filesystem(settings)
    base = f"{settings.bucket}/{key_prefix.rstrip('/')}"
    info = fs.get_file_info(base)
    from pyarrow.fs import FileType

    if info.type == FileType.NotFound:
        return None
    d = ds.dataset(
        base,
        format="parquet",
        filesystem=fs,
        partitioning="hive",
        exclude_invalid_files=False,
        ignore_prefixes=["_", "."],
    )
    # A prefix holding only a folder marker (S3A leaves one when a first write is killed) has no files
    # and no partition fields to filter on: it is an empty zone, not an error.
    return d if d.files else None


def staging_dataset(settings: Settings, month: str) -> tuple[ds.Dataset | None, ds.Expression]:
    start, end = Month.parse(month).bounds()
    d = _dataset(settings, paths.staging_prefix(settings.dataset))
    f = (ds.field("pickup_date") >= start.isoformat()) & (ds.field("pickup_date") < end.isoformat())
    return d, f


def staging_stats(settings: Settings, month: str) -> Stats:
    d, f = staging_dataset(settings, month)
    if d is None:
        return Stats(0, Decimal("0.00"))
    t = d.to_table(columns=["total_amount"], filter=f)
    return Stats(t.num_rows, _decimal_sum(t, "total_amount"))


def quarantine_stats(settings: Settings, month: str) -> tuple[Stats, dict[str, int]]:
    m = Month.parse(month)
    year, mon = m.year, m.month
    d = _dataset(settings, paths.quarantine_prefix(settings.dataset))
    if d is None:
        return Stats(0, Decimal("0.00")), {}
    t = d.to_table(
        columns=["total_amount", "primary_reason"],
        filter=(ds.field("year") == year) & (ds.field("month") == mon),
    )
    by_primary = (
        {r["values"]: r["counts"] for r in pc.value_counts(t["primary_reason"]).to_pylist()}
        if t.num_rows
        else {}
    )
    return Stats(t.num_rows, _decimal_sum(t, "total_amount")), by_primary


def curated_stats(settings: Settings, month: str, table: str) -> dict:
    d = _dataset(settings, paths.curated_prefix(table))
    if d is None:
        return {"rows": 0, "trip_count": 0, "total_revenue": Decimal("0.00")}
    t = d.to_table(columns=["trip_count", "total_revenue"], filter=ds.field("pickup_month") == month)
    return {
        "rows": t.num_rows,
        "trip_count": int(pc.sum(t["trip_count"]).as_py() or 0),
        "total_revenue": _decimal_sum(t, "total_revenue"),
    }


# ---- per-day figures and the raw prefix's objects (docs/adr/0019-per-day-reconciliation-fingerprints.md) ----


@dataclass(frozen=True)
class RawObject:
    key: str
    size: int
    problem: str | None  # why the etl does not read it (None: it does)


def raw_objects(settings: Settings, month: str) -> list[RawObject]:
    """Every object under the month's raw prefix (nested ones too), each with why the etl would not read
    it (spark_jobs.io.paths.raw_object_problem: the rule the etl's listing follows), sorted by key. The
    ingest's own manifest is listed as read (it is the ingest's record, not data)."""
    s3 = aws.client("s3", settings)
    prefix = paths.raw_month_prefix(settings.dataset, month)
    manifest = paths.manifest_key(settings.dataset, month)
    out = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=settings.bucket, Prefix=prefix):
        for obj in page.get("Contents", []):
            key = obj["Key"]
            problem = None if key == manifest else paths.raw_object_problem(key[len(prefix) :])
            out.append(RawObject(key, int(obj.get("Size", 0)), problem))
    return sorted(out, key=lambda o: o.key)


def _canonical_columns(schema: pa.Schema, wanted: set[str]) -> dict[str, str]:
    """canonical name -> source column of a raw file (case-insensitive, as conform matches them)."""
    from spark_jobs.schemas.tlc import SOURCE_TO_CANONICAL

    out = {}
    for name in schema.names:
        c = SOURCE_TO_CANONICAL.get(name.lower())
        if c in wanted and c not in out:
            out[c] = name
    return out


def raw_daily(settings: Settings, month: str, keys: list[str]) -> tuple[dict, dict[str, int]]:
    """Per pickup date (NO_DATE for none) of the raw files `keys`: rows and fingerprint over the columns
    conform keeps unchanged; and rows per file, keyed by the s3:// URL the etl tags its rows with."""
    from taxilab.validation import fingerprint as fp

    fs = aws.arrow_s3_filesystem(settings)
    wanted = {fp.SOURCE_COLUMN[f] for f in fp.RAW_FIELDS}
    tables, per_file = [], {}
    for key in keys:
        with fs.open_input_file(f"{settings.bucket}/{key}") as f:
            pf = pq.ParquetFile(f)
            cols = _canonical_columns(pf.schema_arrow, wanted)
            t = pf.read(columns=list(cols.values()))
        t = t.rename_columns([next(c for c, s in cols.items() if s == n) for n in t.column_names])
        per_file[paths.s3_url(settings.bucket, key)] = t.num_rows
        tables.append(fp.normalize(t, fp.RAW_FIELDS))
    return fp.per_day(tables, fp.RAW_FIELDS), per_file


def _by_source_file(t: pa.Table) -> dict[str, int]:
    if t.num_rows == 0:
        return {}
    return {r["values"]: r["counts"] for r in pc.value_counts(t["source_file"]).to_pylist()}


def staging_daily(settings: Settings, month: str) -> tuple[dict, dict, dict[str, int]]:
    """Per pickup date (the partition) of the month's staging rows: rows, money sums (cents) and the
    fingerprint over TRIP_FIELDS (for fct_trips); the same over RAW_FIELDS (for raw); rows per source_file."""
    from taxilab.validation import fingerprint as fp

    d, f = staging_dataset(settings, month)
    if d is None:
        return {}, {}, {}
    columns = sorted({fp.SOURCE_COLUMN[x] for x in fp.TRIP_FIELDS}) + ["pickup_date", "source_file"]
    trips: dict[str, fp.Day] = {}
    raw: dict[str, fp.Day] = {}
    per_file: dict[str, int] = {}

    def add(batches: list[pa.RecordBatch]) -> None:
        t = pa.Table.from_batches(batches)
        for k, v in _by_source_file(t).items():
            per_file[k] = per_file.get(k, 0) + v
        n = fp.normalize(t, fp.TRIP_FIELDS, day=t["pickup_date"])
        for out, fields, sums in ((trips, fp.TRIP_FIELDS, fp.SUMMED), (raw, fp.RAW_FIELDS, ())):
            for day, figures in fp.per_day([n], fields, sums).items():
                out.setdefault(day, fp.Day()).add(figures)

    # a batch per partition file: processed in chunks of about a million rows (per-call costs stay few,
    # memory stays bounded)
    buffered: list[pa.RecordBatch] = []
    for batch in d.to_batches(columns=columns, filter=f, batch_size=1 << 20):
        buffered.append(batch)
        if sum(b.num_rows for b in buffered) >= 1 << 20:
            add(buffered)
            buffered = []
    if buffered:
        add(buffered)
    return trips, raw, per_file


def quarantine_daily(settings: Settings, month: str) -> tuple[dict, dict[str, int]]:
    """Per pickup date (of its conformed pickup time; NO_DATE if none) of the month's quarantined rows:
    rows and fingerprint over the raw fields; and rows per source_file."""
    from taxilab.validation import fingerprint as fp

    m = Month.parse(month)
    d = _dataset(settings, paths.quarantine_prefix(settings.dataset))
    if d is None:
        return {}, {}
    columns = sorted({fp.SOURCE_COLUMN[x] for x in fp.RAW_FIELDS}) + ["source_file"]
    t = d.to_table(columns=columns, filter=(ds.field("year") == m.year) & (ds.field("month") == m.month))
    return fp.per_day([fp.normalize(t, fp.RAW_FIELDS)], fp.RAW_FIELDS), _by_source_file(t)


def curated_daily(settings: Settings, month: str, table: str) -> dict[str, tuple[int, int, int]]:
    """A curated table's month per pickup date: (grain rows, trips, revenue in cents)."""
    from taxilab.validation import fingerprint as fp

    d = _dataset(settings, paths.curated_prefix(table))
    if d is None:
        return {}
    t = d.to_table(
        columns=["pickup_date", "trip_count", "total_revenue"], filter=ds.field("pickup_month") == month
    )
    if t.num_rows == 0:
        return {}
    import duckdb

    rev = fp.exact_cents(t["total_revenue"].cast(pa.decimal128(18, 2)))
    small = pa.table({"day": t["pickup_date"].cast(pa.string()), "trips": t["trip_count"], "rev": rev})
    con = duckdb.connect()
    try:
        con.register("c", small)
        rows = con.execute("SELECT day, COUNT(*), SUM(trips), SUM(rev) FROM c GROUP BY day").fetchall()
    finally:
        con.close()
    return {str(r[0]): (int(r[1]), int(r[2] or 0), int(r[3] or 0)) for r in rows}
