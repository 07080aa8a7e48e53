"""COPY and UNLOAD with Redshift's semantics, run against the S3 emulator (moto over HTTP) and the lab's
PostgreSQL (a scratch database): tiny inline data, written to and read back from the emulator with
pyarrow and boto3."""

from __future__ import annotations

import gzip
import io
import json
import uuid
from datetime import date, datetime
from decimal import Decimal

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.dataset as pads
import pyarrow.parquet as pq
import pytest

from emulation.redshift import engine as redshift
from emulation.redshift.copy import CopyError
from emulation.redshift.dialect import to_postgres
from emulation.redshift.guard import RedshiftDialectError
from emulation.redshift.statements import RedshiftStatementError
from emulation.redshift.unload import UnloadError
from taxilab.core import clients as aws
from taxilab.core.settings import PROJECT_ROOT

BUCKET = "taxilab-it-redshift"
ROLE = "arn:aws:iam::123456789012:role/taxilab-redshift"
# Redshift DDL, created through redshift.execute (the "everything else" path: guard + translation).
TRIPS_DDL = """
CREATE TABLE rs_lab.trips (
    trip_id     INTEGER       NOT NULL ENCODE az64,
    vendor      VARCHAR(8)    ENCODE zstd,
    fare        DECIMAL(10,2) ENCODE az64,
    pickup_date DATE,
    pickup_at   TIMESTAMP,
    paid        BOOLEAN,
    distance    DOUBLE PRECISION
)
DISTSTYLE AUTO SORTKEY (pickup_date)
"""
ROWS = [
    (1, "CMT", Decimal("12.50"), date(2023, 7, 1), datetime(2023, 7, 1, 8, 15), True, 1.5),
    (2, "VTS", Decimal("7.00"), date(2023, 7, 1), datetime(2023, 7, 1, 9, 0), False, 0.8),
    (3, None, None, date(2023, 7, 2), None, None, None),
]


@pytest.fixture
def wh(pg_conn_factory, lab_settings):
    with pg_conn_factory() as conn:
        conn.execute("DROP SCHEMA IF EXISTS rs_lab CASCADE")
        conn.execute("CREATE SCHEMA rs_lab")
        for s in to_postgres((PROJECT_ROOT / "sql" / "ddl" / "095_load_errors.sql").read_text()):
            conn.execute(s)
        conn.execute("DELETE FROM lab_meta.sys_load_error_detail WHERE table_name LIKE 'rs_lab.%'")
        conn.commit()
        redshift.execute(conn, lab_settings, TRIPS_DDL)
        conn.commit()
        yield conn


@pytest.fixture(scope="module")
def s3(lab_settings):
    client = aws.client("s3", lab_settings)
    try:
        client.create_bucket(Bucket=BUCKET)
    except client.exceptions.BucketAlreadyOwnedByYou:
        pass
    return client


@pytest.fixture
def prefix():
    return f"t/{uuid.uuid4().hex[:10]}/"


def put(s3, key: str, body: bytes) -> str:
    s3.put_object(Bucket=BUCKET, Key=key, Body=body)
    return f"s3://{BUCKET}/{key}"


def parquet_bytes(table: pa.Table) -> bytes:
    buf = io.BytesIO()
    pq.write_table(table, buf)
    return buf.getvalue()


def trips_arrow(rows, names=("c1", "c2", "c3", "c4", "c5", "c6", "c7")) -> pa.Table:
    types = [
        pa.int32(),
        pa.string(),
        pa.decimal128(10, 2),
        pa.date32(),
        pa.timestamp("us"),
        pa.bool_(),
        pa.float64(),
    ]
    cols = list(zip(*rows, strict=True)) if rows else [[] for _ in types]
    return pa.table([pa.array(list(c), t) for c, t in zip(cols, types, strict=True)], names=list(names))


def table_rows(conn, order="trip_id"):
    return conn.execute(f"SELECT * FROM rs_lab.trips ORDER BY {order}").fetchall()


def load_errors(conn):
    return conn.execute(
        "SELECT file_name, line_number, column_name, error_code, error_message, raw_field_value"
        " FROM lab_meta.sys_load_error_detail WHERE table_name = 'rs_lab.trips' ORDER BY file_name, line_number"
    ).fetchall()


# ---------------------------------------------------------------------------------- COPY Parquet


def test_copy_parquet_maps_columns_by_position_not_by_name(wh, s3, prefix, lab_settings):
    # File column names are unrelated to (and in one file the reverse of) the table's: position wins.
    put(s3, f"{prefix}part-0.parquet", parquet_bytes(trips_arrow(ROWS[:2])))
    put(
        s3,
        f"{prefix}part-1.parquet",
        parquet_bytes(
            trips_arrow(
                ROWS[2:], names=("distance", "paid", "pickup_at", "pickup_date", "fare", "vendor", "trip_id")
            )
        ),
    )
    put(s3, f"{prefix}_SUCCESS", b"")
    res = redshift.execute(
        wh,
        lab_settings,
        f"COPY rs_lab.trips FROM 's3://{BUCKET}/{prefix}' IAM_ROLE '{ROLE}' FORMAT AS PARQUET;",
    )
    assert res.rowcount == 3
    assert table_rows(wh) == ROWS


def test_copy_parquet_with_a_column_list_fills_the_rest_with_defaults(wh, s3, prefix, lab_settings):
    put(s3, f"{prefix}a.parquet", parquet_bytes(pa.table({"x": pa.array([7], pa.int32()), "y": ["DDS"]})))
    redshift.execute(
        wh,
        lab_settings,
        f"COPY rs_lab.trips (trip_id, vendor) FROM 's3://{BUCKET}/{prefix}a' "
        f"IAM_ROLE '{ROLE}' FORMAT AS PARQUET",
    )
    assert table_rows(wh) == [(7, "DDS", None, None, None, None, None)]


def test_copy_parquet_column_count_mismatch_names_file_and_counts_and_loads_nothing(
    wh, s3, prefix, lab_settings
):
    put(s3, f"{prefix}a.parquet", parquet_bytes(trips_arrow(ROWS[:1])))
    bad = put(s3, f"{prefix}b.parquet", parquet_bytes(trips_arrow(ROWS[1:2]).drop_columns(["c7"])))
    with pytest.raises(CopyError, match=rf"{bad} has 6 columns, the target has 7"):
        redshift.execute(
            wh,
            lab_settings,
            f"COPY rs_lab.trips FROM 's3://{BUCKET}/{prefix}' IAM_ROLE '{ROLE}' FORMAT AS PARQUET",
        )
    assert table_rows(wh) == []


def test_copy_is_atomic_when_a_later_file_fails_to_load(wh, s3, prefix, lab_settings):
    wh.execute("INSERT INTO rs_lab.trips (trip_id) VALUES (99)")
    wh.commit()
    put(s3, f"{prefix}a.parquet", parquet_bytes(trips_arrow(ROWS)))
    # Same column count, but a null in the NOT NULL trip_id: PostgreSQL rejects it mid-COPY.
    put(s3, f"{prefix}b.parquet", parquet_bytes(trips_arrow([(None, "X", None, None, None, None, None)])))
    with pytest.raises(CopyError, match="rs_lab.trips"):
        redshift.execute(
            wh,
            lab_settings,
            f"COPY rs_lab.trips FROM 's3://{BUCKET}/{prefix}' IAM_ROLE '{ROLE}' FORMAT AS PARQUET",
        )
    assert table_rows(wh) == [(99, None, None, None, None, None, None)]


def test_copy_manifest_loads_its_entries_and_skips_a_missing_optional_one(wh, s3, prefix, lab_settings):
    a = put(s3, f"{prefix}data/a.parquet", parquet_bytes(trips_arrow(ROWS[:1])))
    put(s3, f"{prefix}data/not-listed.parquet", parquet_bytes(trips_arrow(ROWS[1:2])))
    manifest = {
        "entries": [
            {"url": a, "mandatory": True},
            {"url": f"s3://{BUCKET}/{prefix}data/gone.parquet", "mandatory": False},
        ]
    }
    m = put(s3, f"{prefix}load.manifest", json.dumps(manifest).encode())
    redshift.execute(
        wh, lab_settings, f"COPY rs_lab.trips FROM '{m}' IAM_ROLE '{ROLE}' FORMAT AS PARQUET MANIFEST"
    )
    assert table_rows(wh) == ROWS[:1]


def test_copy_manifest_with_a_missing_mandatory_entry_fails_naming_it(wh, s3, prefix, lab_settings):
    a = put(s3, f"{prefix}a.parquet", parquet_bytes(trips_arrow(ROWS[:1])))
    missing = f"s3://{BUCKET}/{prefix}missing.parquet"
    m = put(
        s3,
        f"{prefix}load.manifest",
        json.dumps(
            {"entries": [{"url": a, "mandatory": True}, {"url": missing, "mandatory": True}]}
        ).encode(),
    )
    with pytest.raises(CopyError, match=f"mandatory file {missing} does not exist"):
        redshift.execute(
            wh, lab_settings, f"COPY rs_lab.trips FROM '{m}' IAM_ROLE '{ROLE}' FORMAT PARQUET MANIFEST"
        )
    assert table_rows(wh) == []


# ---------------------------------------------------------------------------------- COPY CSV / text

CSV_WITH_BAD_LINES = (
    "trip_id,vendor,fare,pickup_date,pickup_at,paid,distance\n"  # line 1: header
    "1,CMT,12.50,2023-07-01,2023-07-01 08:15:00,t,1.5\n"  # 2
    "x2,VTS,7.00,2023-07-01,2023-07-01 09:00:00,f,0.8\n"  # 3: bad integer
    "3,NA,NA,2023-07-02,NA,NA,NA\n"  # 4: NULL AS 'NA'
    "4,CMT,1.00,2023-02-30,2023-07-01 09:00:00,f,0.8\n"  # 5: no such date
    '5,"A,B",2.345,2023-07-03,2023-07-03 10:00:00,true,2\n'  # 6: quoted delimiter, fare rounds
)


def test_copy_csv_skips_bad_lines_within_maxerror_and_records_them(wh, s3, prefix, lab_settings):
    url = put(s3, f"{prefix}trips.csv", CSV_WITH_BAD_LINES.encode())
    res = redshift.execute(
        wh,
        lab_settings,
        f"COPY rs_lab.trips FROM '{url}' IAM_ROLE '{ROLE}' FORMAT AS CSV "
        "IGNOREHEADER 1 NULL AS 'NA' MAXERROR 2",
    )
    assert res.rowcount == 3
    assert table_rows(wh) == [
        ROWS[0],
        ROWS[2],
        (5, "A,B", Decimal("2.35"), date(2023, 7, 3), datetime(2023, 7, 3, 10), True, 2.0),
    ]
    errors = load_errors(wh)
    assert [(f, ln, col, code, raw) for f, ln, col, code, _, raw in errors] == [
        (url, 3, "trip_id", 1207, "x2"),
        (url, 5, "pickup_date", 1205, "2023-02-30"),
    ]
    assert "Invalid digit" in errors[0][4]


def test_copy_csv_beyond_maxerror_loads_nothing_but_keeps_the_error_rows(wh, s3, prefix, lab_settings):
    url = put(s3, f"{prefix}trips.csv", CSV_WITH_BAD_LINES.encode())
    with pytest.raises(CopyError, match=rf"2 rows rejected, MAXERROR is 1.*{url} line 3 column trip_id"):
        redshift.execute(
            wh,
            lab_settings,
            f"COPY rs_lab.trips FROM '{url}' IAM_ROLE '{ROLE}' CSV IGNOREHEADER 1 NULL AS 'NA' MAXERROR 1",
        )
    assert table_rows(wh) == []
    assert [(ln, col) for _, ln, col, *_ in load_errors(wh)] == [(3, "trip_id"), (5, "pickup_date")]


def test_copy_gzip_pipe_delimited_text_with_default_null_and_wrong_field_counts(wh, s3, prefix, lab_settings):
    text = (
        "1|CMT|12.50|2023-07-01|2023-07-01 08:15:00|t|1.5\n"
        "2|VTS|7.00|2023-07-01|2023-07-01 09:00:00|f|0.8|extra\n"  # line 2: one field too many
        "3|\\N|\\N|2023-07-02|\\N|\\N|\\N\n"
        "4|TOOLONGVENDOR|1|2023-07-02|\\N|\\N|\\N\n"  # line 4: VARCHAR(8) overflow
        "\\N|CMT|1|2023-07-02|\\N|\\N|\\N\n"  # line 5: null in NOT NULL
    )
    url = put(s3, f"{prefix}trips.txt.gz", gzip.compress(text.encode()))
    redshift.execute(
        wh, lab_settings, f"COPY rs_lab.trips FROM '{url}' IAM_ROLE '{ROLE}' DELIMITER '|' GZIP MAXERROR 3"
    )
    assert table_rows(wh) == [ROWS[0], ROWS[2]]
    assert [(ln, col, code) for _, ln, col, code, *_ in load_errors(wh)] == [
        (2, None, 1202),
        (4, "vendor", 1204),
        (5, "trip_id", 1213),
    ]


def test_copy_gzip_on_plain_data_fails_naming_the_file(wh, s3, prefix, lab_settings):
    url = put(s3, f"{prefix}plain.txt", b"1|CMT|1|2023-07-01|\\N|\\N|\\N\n")
    with pytest.raises(CopyError, match=f"{url} is not gzip data"):
        redshift.execute(wh, lab_settings, f"COPY rs_lab.trips FROM '{url}' IAM_ROLE '{ROLE}' GZIP")


def test_copy_with_an_unsupported_option_is_refused_by_name(wh, lab_settings):
    with pytest.raises(RedshiftStatementError, match="option ACCEPTINVCHARS"):
        redshift.execute(
            wh, lab_settings, f"COPY rs_lab.trips FROM 's3://{BUCKET}/x' IAM_ROLE '{ROLE}' ACCEPTINVCHARS"
        )


# ---------------------------------------------------------------------------------- UNLOAD


@pytest.fixture
def loaded(wh):
    wh.cursor().executemany("INSERT INTO rs_lab.trips VALUES (%s, %s, %s, %s, %s, %s, %s)", ROWS)
    wh.commit()
    return wh


def test_unload_parquet_parallel_off_writes_000_and_reads_back_equal(loaded, s3, prefix, lab_settings):
    res = redshift.execute(
        loaded,
        lab_settings,
        f"UNLOAD ('select * from rs_lab.trips where vendor <> ''VTS'' or vendor is null "
        f"order by trip_id') TO 's3://{BUCKET}/{prefix}trips_' IAM_ROLE '{ROLE}' "
        "FORMAT AS PARQUET PARALLEL OFF",
    )
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET, Prefix=prefix)["Contents"]]
    assert keys == [f"{prefix}trips_000.parquet"]
    assert res.rows == [(f"s3://{BUCKET}/{prefix}trips_000.parquet", 2)]
    back = pq.read_table(f"{BUCKET}/{keys[0]}", filesystem=aws.arrow_s3_filesystem(lab_settings))
    assert [tuple(r.values()) for r in back.to_pylist()] == [ROWS[0], ROWS[2]]


def test_unload_csv_header_reads_back_equal(loaded, s3, prefix, lab_settings):
    redshift.execute(
        loaded,
        lab_settings,
        f"UNLOAD ('select trip_id, vendor, fare from rs_lab.trips order by 1') "
        f"TO 's3://{BUCKET}/{prefix}' IAM_ROLE '{ROLE}' FORMAT AS CSV HEADER",
    )
    body = s3.get_object(Bucket=BUCKET, Key=f"{prefix}0000_part_00")["Body"].read()
    assert body.decode().splitlines()[0] == "trip_id,vendor,fare"
    # Redshift writes a null as an empty field in CSV.
    back = pacsv.read_csv(
        io.BytesIO(body),
        convert_options=pacsv.ConvertOptions(
            strings_can_be_null=True,
            column_types={"trip_id": pa.int32(), "vendor": pa.string(), "fare": pa.decimal128(10, 2)},
        ),
    )
    assert [tuple(r.values()) for r in back.to_pylist()] == [(r[0], r[1], r[2]) for r in ROWS]


@pytest.mark.parametrize("include", [False, True])
def test_unload_partition_by_writes_hive_folders_without_the_partition_column(
    loaded, s3, prefix, lab_settings, include
):
    redshift.execute(
        loaded,
        lab_settings,
        f"UNLOAD ('select trip_id, vendor, pickup_date from rs_lab.trips') TO 's3://{BUCKET}/{prefix}' "
        f"IAM_ROLE '{ROLE}' FORMAT PARQUET PARTITION BY (pickup_date){' INCLUDE' if include else ''}",
    )
    keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET, Prefix=prefix)["Contents"])
    assert keys == [
        f"{prefix}pickup_date=2023-07-01/0000_part_00.parquet",
        f"{prefix}pickup_date=2023-07-02/0000_part_00.parquet",
    ]
    fs = aws.arrow_s3_filesystem(lab_settings)
    # The file itself (pq.read_table would add the hive folder's column back).
    first = pq.ParquetFile(fs.open_input_file(f"{BUCKET}/{keys[0]}")).schema_arrow.names
    assert first == (["trip_id", "vendor", "pickup_date"] if include else ["trip_id", "vendor"])
    partitioning = (
        None if include else pads.partitioning(pa.schema([("pickup_date", pa.date32())]), flavor="hive")
    )
    back = pads.dataset(
        f"{BUCKET}/{prefix}", filesystem=fs, format="parquet", partitioning=partitioning
    ).to_table(columns=["trip_id", "vendor", "pickup_date"])
    assert sorted(tuple(r.values()) for r in back.to_pylist()) == [(r[0], r[1], r[3]) for r in ROWS]


def test_unload_refuses_to_overwrite_without_allowoverwrite(loaded, s3, prefix, lab_settings):
    statement = (
        f"UNLOAD ('select trip_id from rs_lab.trips') TO 's3://{BUCKET}/{prefix}' IAM_ROLE '{ROLE}' "
        "FORMAT PARQUET PARALLEL OFF"
    )
    redshift.execute(loaded, lab_settings, statement)
    with pytest.raises(UnloadError, match="ALLOWOVERWRITE"):
        redshift.execute(loaded, lab_settings, statement)
    redshift.execute(loaded, lab_settings, statement + " ALLOWOVERWRITE")


def test_unload_then_copy_round_trips_the_table(loaded, s3, prefix, lab_settings):
    redshift.execute(
        loaded,
        lab_settings,
        f"UNLOAD ('select * from rs_lab.trips') TO 's3://{BUCKET}/{prefix}' "
        f"IAM_ROLE '{ROLE}' FORMAT AS PARQUET",
    )
    loaded.execute("TRUNCATE rs_lab.trips")
    loaded.commit()
    redshift.execute(
        loaded,
        lab_settings,
        f"COPY rs_lab.trips FROM 's3://{BUCKET}/{prefix}' IAM_ROLE '{ROLE}' FORMAT AS PARQUET",
    )
    assert table_rows(loaded) == ROWS


def test_other_statements_are_guarded_and_translated(loaded, lab_settings):
    res = redshift.execute(
        loaded,
        lab_settings,
        "SELECT trip_id, NVL(vendor, 'none') AS v FROM rs_lab.trips "
        "WHERE fare > 1 OR fare IS NULL ORDER BY trip_id",
    )
    assert res.columns == ["trip_id", "v"] and res.rows == [(1, "CMT"), (2, "VTS"), (3, "none")]
    with pytest.raises(RedshiftDialectError, match="STRING_AGG"):
        redshift.execute(loaded, lab_settings, "SELECT STRING_AGG(vendor, ',') FROM rs_lab.trips")
