"""The program behind the Spectrum emulation's scan function (see spectrum.py).
Why: docs/adr/0018-postgres-roles-auth-and-spectrum-scan.md.
"""

from __future__ import annotations

import json
import os
import sys


def _hidden(rel: str) -> bool:
    return any(seg.startswith((".", "_", "#")) or seg.endswith("~") for seg in rel.split("/") if seg)


def _filesystem():
    from pyarrow import fs

    endpoint = os.environ.get("TAXILAB_SPECTRUM_ENDPOINT", "")
    kwargs = {
        "region": os.environ.get("AWS_DEFAULT_REGION", "us-east-1"),
        "connect_timeout": 5,
        "request_timeout": 60,
        "retry_strategy": fs.AwsStandardS3RetryStrategy(max_attempts=3),
    }
    if endpoint:
        scheme, _, host = endpoint.partition("://")
        kwargs.update(endpoint_override=host, scheme=scheme)
    if os.environ.get("AWS_ACCESS_KEY_ID"):
        kwargs.update(
            access_key=os.environ["AWS_ACCESS_KEY_ID"], secret_key=os.environ["AWS_SECRET_ACCESS_KEY"]
        )
    return fs.S3FileSystem(**kwargs)


def data_files(filesystem, location: str) -> list[str]:
    """'bucket/key' paths of the data files under an s3:// location, sorted."""
    from pyarrow import fs

    if not location.startswith("s3://"):
        raise ValueError(f"location {location!r} is not an s3:// URL")
    base = location[len("s3://") :].rstrip("/")
    infos = filesystem.get_file_info(fs.FileSelector(base, recursive=True, allow_not_found=True))
    if not infos:  # an empty prefix is an empty table, a missing bucket is an error (as on Spectrum)
        bucket = base.split("/", 1)[0]
        if filesystem.get_file_info(bucket).type == fs.FileType.NotFound:
            raise FileNotFoundError(f"bucket {bucket} does not exist")
    return sorted(
        i.path for i in infos if i.type == fs.FileType.File and i.size and not _hidden(i.path[len(base) :])
    )


def scan(location: str, columns: list[str], out) -> int:
    """Write the rows under `location` as CSV (error field first) to the binary stream `out`."""
    import pyarrow as pa
    import pyarrow.csv as pcsv
    import pyarrow.parquet as pq

    filesystem = _filesystem()
    names = ["lab_scan_error", *columns]
    options = pcsv.WriteOptions(include_header=False, quoting_style="all_valid")
    rows = 0
    for path in data_files(filesystem, location):
        try:
            pf = pq.ParquetFile(path, filesystem=filesystem)
        except (OSError, pa.ArrowException) as e:
            raise RuntimeError(f"s3://{path}: cannot read it as Parquet ({e})") from e
        by_lower = {name.lower(): name for name in pf.schema_arrow.names}
        present = [by_lower[c.lower()] for c in columns if c.lower() in by_lower]
        for batch in pf.iter_batches(batch_size=65536, columns=present):
            arrays = [pa.nulls(batch.num_rows, pa.string())]
            for c in columns:
                name = by_lower.get(c.lower())
                arrays.append(batch.column(name) if name is not None else pa.nulls(batch.num_rows))
            table = pa.Table.from_arrays(arrays, names=names)
            pcsv.write_csv(table, out, write_options=options)
            rows += batch.num_rows
    return rows


def _error_row(message: str) -> bytes:
    return ('"' + message.replace('"', '""').replace("\r", " ") + '"\n').encode()


def main(argv: list[str]) -> int:
    out = sys.stdout.buffer
    location = "?"
    try:
        # The scan function only ever passes lower-case hex (it refuses anything else); checked again here.
        if len(argv) != 2 or not argv[1] or len(argv[1]) % 2 or argv[1].strip("0123456789abcdef"):
            raise ValueError("expected exactly one argument: the lower-case hex of the scan spec")
        spec = json.loads(bytes.fromhex(argv[1]).decode())
        location = spec["location"]
        if not isinstance(location, str) or not location.startswith("s3://"):
            raise ValueError(f"location {location!r} is not an s3:// URL")
        # COPY's CSV needs every field: an error row is the message, then empty (null) columns.
        width = len(spec["columns"])
        try:
            scan(location, spec["columns"], out)
        except Exception as e:  # noqa: BLE001 - every failure must reach the SQL client as one row
            out.write(_error_row(f"{e}")[:-1] + b"," * width + b"\n")
    except Exception as e:  # noqa: BLE001 - a malformed spec
        sys.stderr.write(f"spectrum_scan: bad arguments for {location}: {e}\n")
        return 2
    out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
