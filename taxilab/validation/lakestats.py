"""Counts and sums read straight from the lake's files with pyarrow, independently of Spark.

Used by reconciliation: what Spark reports is checked against what is actually in S3.
Money is compared exactly, in cents: raw doubles are rounded the way the ETL's conform step rounds
them (half-up on the double's shortest decimal form), non-finite values excluded.
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
