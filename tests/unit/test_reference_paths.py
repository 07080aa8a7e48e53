"""The DuckDB reference binds file paths as parameters: a path with a quote, a semicolon or SQL in its
name is read and written as a path, never parsed as SQL."""

from __future__ import annotations

from datetime import datetime

import pyarrow as pa
import pyarrow.parquet as pq

from taxilab.reference import run_reference


def _inputs(folder):
    folder.mkdir(parents=True)
    trips = folder / "trips.parquet"
    pq.write_table(
        pa.table(
            {
                "VendorID": pa.array([1, 2], pa.int32()),
                "tpep_pickup_datetime": [datetime(2024, 2, 1, 8), datetime(2024, 2, 2, 9)],
                "tpep_dropoff_datetime": [datetime(2024, 2, 1, 8, 20), datetime(2024, 2, 2, 9, 10)],
                "trip_distance": [2.5, 1.0],
                "PULocationID": pa.array([1, 2], pa.int32()),
                "DOLocationID": pa.array([2, 1], pa.int32()),
                "payment_type": pa.array([1, 2], pa.int64()),
                "fare_amount": [10.0, 5.5],
                "total_amount": [12.5, 7.0],
            }
        ),
        trips,
    )
    zones = folder / "zones.csv"
    zones.write_text(
        "LocationID,Borough,Zone,service_zone\n1,EWR,Newark Airport,EWR\n2,Queens,Jamaica Bay,Boro Zone\n"
    )
    return trips, zones


def test_paths_with_quotes_and_sql_in_their_names_are_bound_not_parsed(tmp_path):
    hostile = tmp_path / "o'hare; DROP TABLE accepted; --"
    trips, zones = _inputs(hostile / "in")
    result = run_reference(trips, zones, "2024-02", out_dir=hostile / "out'put")
    assert (result["raw_rows"], result["accepted"], result["rejected"]) == (2, 2, 0)
    assert (hostile / "out'put" / "quarantine.parquet").exists()
    written = pq.read_table(hostile / "out'put" / "daily_summary.parquet")
    assert written.num_rows == result["tables"]["daily_summary"] == 2
