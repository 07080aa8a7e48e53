#!/usr/bin/env bash
# GitHub Actions only: the lab machines have ../shared/data read-only; a runner fetches the same kind of
# files from the TLC's public CDN: the zone lookup, and a 50,000-row Feb 2024 sample (the first 50,000
# trips of the TLC file; the lab machines' sample may be another subset: the tests compute their
# expectations from whichever file is there).
set -euo pipefail
shared="$(cd "$(dirname "$0")/../.." && pwd)/shared/data"
mkdir -p "$shared/samples"
cdn="https://d37ci6vzurychx.cloudfront.net"
curl -fsSL --retry 5 -o "$shared/taxi_zone_lookup.csv" "$cdn/misc/taxi_zone_lookup.csv"
tmp="$(mktemp --suffix=.parquet)"
curl -fsSL --retry 5 -o "$tmp" "$cdn/trip-data/yellow_tripdata_2024-02.parquet"
python3 -m pip install --quiet "pyarrow==21.0.0"
python3 - "$tmp" "$shared/samples/yellow_tripdata_2024-02_sample50k.parquet" <<'PY'
import sys
import pyarrow.parquet as pq
pq.write_table(pq.ParquetFile(sys.argv[1]).read().slice(0, 50_000), sys.argv[2])
PY
rm -f "$tmp"
