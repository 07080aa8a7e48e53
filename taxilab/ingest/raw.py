"""Ingest: get a month's source file (synthetic, TLC download or a local file) and land it, same bytes, in
the versioned raw zone with a manifest of every version; a name the etl would not read is refused.
Why: docs/adr/0007-nothing-lost.md and docs/adr/0019-per-day-reconciliation-fingerprints.md.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from spark_jobs.io import paths
from spark_jobs.month import Month
from taxilab.core import clients as aws
from taxilab.core.runs import timed
from taxilab.core.settings import Settings
from taxilab.core.state import write_bytes, write_text
from taxilab.ingest.manifest import describe_parquet, sha256_file

log = logging.getLogger(__name__)


class IngestError(RuntimeError):
    pass


@dataclass(frozen=True)
class SourceFile:
    path: Path
    source: str  # 'synthetic:rows=...,seed=...', a URL, or the local path given
    seconds: float = 0.0
    cached: bool = False


@dataclass(frozen=True)
class Landed:
    bucket: str
    key: str
    sha256: str
    rows: int
    bytes: int
    version_id: str | None
    action: str  # 'uploaded' | 'unchanged' | 'new-version'
    previous_sha256: str | None
    seconds: float = 0.0


def obtain_source(
    settings: Settings, month: str, source: str, rows: int, seed: int = 42, progress=None
) -> SourceFile:
    """Resolve SOURCE (synthetic | tlc | a Parquet path) to a local file, using the input cache; `seconds`
    is the time that took (about 0 for a cached file or a local path)."""
    Month.parse(month)
    with timed() as clock:
        found = _resolve_source(settings, month, source, rows, seed, progress)
    return replace(found, seconds=clock.seconds)


def _resolve_source(
    settings: Settings, month: str, source: str, rows: int, seed: int, progress
) -> SourceFile:
    if source == "synthetic":
        from taxilab.ingest.synthetic import generate_month

        dest = (
            settings.cache_dir
            / "inputs"
            / "synthetic"
            / f"yellow_tripdata_{month}_rows{rows}_seed{seed}.parquet"
        )
        label = f"synthetic:month={month},rows={rows},seed={seed}"
        if dest.exists() and dest.with_suffix(".sha256").exists():
            return SourceFile(dest, label, cached=True)
        gen = generate_month(month, rows, dest, seed=seed, progress=progress)  # appears whole or not at all
        write_text(dest.with_suffix(".sha256"), gen.sha256)  # last: it marks the cache entry valid
        return SourceFile(dest, label)
    if source == "tlc":
        from spark_jobs.schemas.tlc import SOURCE_URL
        from taxilab.ingest.download import download

        url = SOURCE_URL.format(month=month)
        dest = settings.cache_dir / "inputs" / "tlc" / paths.raw_file_name(month)
        dest.parent.mkdir(parents=True, exist_ok=True)
        got = download(url, dest, progress=progress)
        return SourceFile(got.path, url, cached=got.attempts == 0)
    path = Path(source).expanduser()
    if not path.exists():
        raise IngestError(
            f"SOURCE={source}: no such file (give synthetic, tlc, or the path of a Parquet file)"
        )
    if not path.is_file():
        raise IngestError(f"SOURCE={source}: is a directory, expected a Parquet file")
    return SourceFile(path.resolve(), str(path.resolve()), cached=True)


def ensure_bucket(settings: Settings) -> None:
    s3 = aws.client("s3", settings)
    try:
        s3.head_bucket(Bucket=settings.bucket)
    except ClientError as e:
        if e.response.get("Error", {}).get("Code") not in ("404", "NoSuchBucket", "NotFound"):
            raise
        kwargs: dict[str, Any] = {"Bucket": settings.bucket}
        if settings.region != "us-east-1":
            kwargs["CreateBucketConfiguration"] = {"LocationConstraint": settings.region}
        s3.create_bucket(**kwargs)
    # Versioning keeps every delivered version of a month (never overwritten silently).
    s3.put_bucket_versioning(Bucket=settings.bucket, VersioningConfiguration={"Status": "Enabled"})


def _head(s3, bucket: str, key: str) -> dict | None:
    try:
        return s3.head_object(Bucket=bucket, Key=key)
    except ClientError as e:
        if e.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
            return None
        raise


def _verify_landed(s3, bucket: str, key: str, version_id: str | None, expected_sha256: str) -> None:
    """Read the object back and compare SHA-256: the emulator does not check Content-MD5, so we do."""
    import hashlib

    kwargs = {"Bucket": bucket, "Key": key}
    if version_id:
        kwargs["VersionId"] = version_id
    from botocore.exceptions import FlexibleChecksumError

    body = s3.get_object(**kwargs)["Body"]
    h = hashlib.sha256()
    try:
        for chunk in iter(lambda: body.read(1 << 20), b""):
            h.update(chunk)
    except FlexibleChecksumError as e:  # boto3 checked the stored CRC before our SHA-256 could
        raise IngestError(
            f"s3://{bucket}/{key}: landed bytes fail their SHA-256/CRC check ({e}); "
            "the upload was corrupted in transit: rerun the ingest"
        ) from None
    if h.hexdigest() != expected_sha256:
        raise IngestError(
            f"s3://{bucket}/{key}: landed bytes have SHA-256 {h.hexdigest()}, expected {expected_sha256}; "
            "the upload was corrupted in transit: rerun the ingest"
        )


def raw_key(settings: Settings, month: str, name: str) -> str:
    """The raw key a file named `name` lands at for `month`; IngestError naming the key and why if the etl
    would not read an object there (spark_jobs.io.paths.raw_object_problem): every object under a month's
    raw prefix is either read by the etl or refused here, none silently skipped (docs/adr/0019)."""
    prefix = paths.raw_month_prefix(settings.dataset, month)
    key = prefix + name
    problem = paths.raw_object_problem(name)
    if problem:
        raise IngestError(f"raw key {key}: refused: {problem}; rename the file to end in '.parquet'")
    return key


def refuse_unusable(src: SourceFile) -> None:
    """Raise IngestError naming the file and the problem if the lab cannot process it (docs/ERAS.md).

    Checked before upload, so a refused file is never landed: the footer schema (era, dataset, required
    columns and their types, rows: spark_jobs.schemas.tlc.check_source_schema) and then every data page,
    read once with string columns validated as UTF-8 (a page that does not decompress, or bytes that
    are not UTF-8, would otherwise fail the Spark job or the warehouse COPY half-way through).
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    from spark_jobs.schemas.tlc import check_source_schema

    where = f"SOURCE {src.source}"
    try:
        with pq.ParquetFile(src.path) as pf:
            problems = check_source_schema(pf.schema_arrow, pf.metadata.num_rows)
            if problems:
                raise IngestError(f"{where}: refused: " + "; ".join(problems))
            for i in range(pf.num_row_groups):
                group = pf.read_row_group(i)
                for name, column in zip(group.column_names, group.columns, strict=True):
                    if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
                        try:
                            column.validate(full=True)
                        except pa.ArrowInvalid:
                            raise IngestError(
                                f"{where}: refused: column {name!r} in row group {i} holds bytes that are "
                                "not valid UTF-8 (TLC files are UTF-8; the file was damaged or mis-encoded)"
                            ) from None
                        # store_and_fwd_flag values other than Y/N are a row-level problem, not a file-level
                        # one: the ETL quarantines those rows (INVALID_STORE_AND_FWD_FLAG), ADR 0007.
    except IngestError:
        raise
    except (
        OSError,
        ValueError,
        NotImplementedError,
    ) as e:  # ArrowInvalid/IOError/NotImplemented: undecodable
        raise IngestError(f"{where}: refused: the Parquet data is unreadable: {e}") from None


def land_month(settings: Settings, month: str, src: SourceFile, progress=None) -> Landed:
    """Upload the month's file to raw (idempotent by content) and update the manifest; `seconds` is the
    time that took."""
    with timed() as clock:
        landed = _land(settings, month, src, progress)
    return replace(landed, seconds=clock.seconds)


def _land(settings: Settings, month: str, src: SourceFile, progress) -> Landed:
    try:
        entry = describe_parquet(src.path, src.source)
    except ValueError as e:
        raise IngestError(f"SOURCE {src.source}: {e}") from None
    refuse_unusable(src)  # before anything is uploaded: a refused file leaves nothing downstream
    s3 = aws.client("s3", settings)
    bucket = settings.bucket
    key = raw_key(settings, month, paths.raw_file_name(month))
    head = _head(s3, bucket, key)
    previous = head.get("Metadata", {}).get("sha256") if head else None
    if previous == entry["sha256"]:
        return Landed(
            bucket,
            key,
            entry["sha256"],
            entry["rows"],
            entry["bytes"],
            (head or {}).get("VersionId"),
            "unchanged",
            previous,
        )
    from boto3.s3.transfer import TransferConfig

    extra = {"Metadata": {"sha256": entry["sha256"], "rows": str(entry["rows"]), "source": src.source[:1000]}}
    s3.upload_file(
        str(src.path),
        bucket,
        key,
        ExtraArgs=extra,
        Callback=progress,
        Config=TransferConfig(multipart_threshold=64 << 20, multipart_chunksize=32 << 20, max_concurrency=4),
    )
    version_id = s3.head_object(Bucket=bucket, Key=key).get("VersionId")
    _verify_landed(s3, bucket, key, version_id, entry["sha256"])
    action = "new-version" if head else "uploaded"
    manifest = read_manifest(settings, month)
    manifest.append({**entry, "key": key, "version_id": version_id, "action": action})
    body = json.dumps({"month": month, "entries": manifest}, indent=2).encode()
    s3.put_object(Bucket=bucket, Key=paths.manifest_key(settings.dataset, month), Body=body)
    write_bytes(settings.cache_dir / "manifests" / f"{settings.dataset}_{month}.json", body)
    if action == "new-version":
        log.warning(
            "%s: different bytes than the current raw object (sha256 %s -> %s); kept as a new version",
            month,
            previous,
            entry["sha256"],
        )
    return Landed(
        bucket,
        key,
        entry["sha256"],
        entry["rows"],
        entry["bytes"],
        version_id,
        action,
        previous,
    )


def read_manifest(settings: Settings, month: str) -> list[dict]:
    s3 = aws.client("s3", settings)
    try:
        obj = s3.get_object(Bucket=settings.bucket, Key=paths.manifest_key(settings.dataset, month))
    except ClientError as e:
        if e.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
            return []
        raise
    return json.loads(obj["Body"].read()).get("entries", [])


def land_zone_lookup(settings: Settings) -> str:
    """Upload the zone lookup CSV to the reference zone (idempotent). Returns its s3:// URL."""
    path = settings.zone_lookup_path
    if not path.exists():
        raise IngestError(
            f"zone lookup {path} not found: expected ../shared/data/taxi_zone_lookup.csv "
            "(set TAXILAB_ZONE_LOOKUP to its path)"
        )
    s3 = aws.client("s3", settings)
    key = paths.zone_lookup_key()
    digest = sha256_file(path)
    head = _head(s3, settings.bucket, key)
    if not head or head.get("Metadata", {}).get("sha256") != digest:
        s3.upload_file(str(path), settings.bucket, key, ExtraArgs={"Metadata": {"sha256": digest}})
    return paths.s3_url(settings.bucket, key)
