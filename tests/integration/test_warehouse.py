"""The warehouse layer on a real PostgreSQL: Redshift DDL translated and applied, COPY loads that
keep every value exact, and partition replaces that are idempotent and all-or-nothing."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import psycopg
import pyarrow as pa
import pyarrow.dataset as pads
import pytest

from emulation.redshift.arrow_copy import WarehouseLoadError, copy_arrow, replace_partition, table_stats
from emulation.redshift.dialect import DialectError, apply_ddl, sort_keys, to_postgres
from spark_jobs.schemas.contracts import CURATED, CURATED_PARTITIONS, STAGING_COLUMNS
from taxilab.warehouse.aggregates_wh import AGG_TABLES

pytestmark = pytest.mark.integration

DDL_DIR = Path(__file__).resolve().parents[2] / "sql" / "ddl"


@pytest.fixture
def warehouse(pg_conn_factory):
    """A connection to a freshly created taxi schema (the DDL of sql/ddl applied)."""
    with pg_conn_factory() as conn:
        conn.execute("DROP SCHEMA IF EXISTS taxi CASCADE")
        apply_ddl(conn, DDL_DIR)
        conn.commit()
        yield conn


# Contract type -> what information_schema.columns reports for the PostgreSQL column.
PG_TYPES = {
    "int": ("integer", None),
    "bigint": ("bigint", None),
    "double": ("double precision", None),
    "boolean": ("boolean", None),
    "date": ("date", None),
    "timestamp_ntz": ("timestamp without time zone", None),
    "string": ("character varying", None),
    "decimal(12,2)": ("numeric", (12, 2)),
    "decimal(18,2)": ("numeric", (18, 2)),
}


def pg_columns(conn, table: str) -> list[tuple[str, tuple]]:
    schema, name = table.split(".")
    rows = conn.execute(
        "SELECT column_name, data_type, numeric_precision, numeric_scale FROM information_schema.columns"
        " WHERE table_schema = %s AND table_name = %s ORDER BY ordinal_position",
        [schema, name],
    ).fetchall()
    return [(c, (t, (p, s) if t == "numeric" else None)) for c, t, p, s in rows]


def daily_rows(day: date, n_days: int = 2, trip_count: int = 10) -> pa.Table:
    """A tiny curated daily_summary partition: one row per day from `day`, with its pickup_month."""
    days = [day + timedelta(days=i) for i in range(n_days)]
    return pa.table(
        {
            "pickup_date": pa.array(days, pa.date32()),
            "trip_count": pa.array([trip_count + i for i in range(n_days)], pa.int64()),
            "total_revenue": pa.array(
                [Decimal("100.05") * (i + 1) for i in range(n_days)], pa.decimal128(18, 2)
            ),
            "pickup_month": [d.strftime("%Y-%m") for d in days],
        }
    )


DAILY_COLUMNS = ["pickup_date", "trip_count", "total_revenue", "pickup_month"]


def test_redshift_ddl_applies_to_postgres_twice_without_error(warehouse):
    again = apply_ddl(warehouse, DDL_DIR)
    warehouse.commit()

    tables = {r[0] for r in warehouse.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'taxi'")}
    assert tables == set(CURATED) | set(AGG_TABLES) | {
        "fct_trips",
        "load_audit",
        "dim_zone",
        "dim_date",
        "dim_payment_type",
        "dim_rate_code",
    }
    # lab_meta (COPY load errors, sql/ddl/095) is the lab's own metadata, not warehouse data.
    creates = [s for s in again if s.startswith("CREATE TABLE") and " lab_meta." not in s]
    assert len(creates) == len(tables)
    assert not any(
        word in s.upper() for s in creates for word in ("ENCODE", "DISTKEY", "DISTSTYLE", "SORTKEY")
    )


def test_ddl_source_stays_redshift_and_its_sort_keys_are_read_from_the_ast():
    fct = (DDL_DIR / "010_fct_trips.sql").read_text()
    for construct in ("DISTKEY", "SORTKEY", "ENCODE az64", "ENCODE zstd", "GETDATE()"):
        assert construct in fct
    for name in CURATED:
        (path,) = DDL_DIR.glob(f"*_{name}.sql")
        assert "DISTSTYLE ALL" in path.read_text()

    assert sort_keys(fct) == {"taxi.fct_trips": ["pickup_date", "pickup_datetime"]}


def test_applied_tables_have_contract_columns_and_a_sort_key_index(warehouse):
    expected_fct = [(c, PG_TYPES[t]) for c, t in STAGING_COLUMNS] + [
        ("loaded_at", ("timestamp without time zone", None))
    ]
    assert pg_columns(warehouse, "taxi.fct_trips") == expected_fct
    for name, table in CURATED.items():
        expected = [(c, PG_TYPES[t]) for c, t in table.columns + CURATED_PARTITIONS]
        assert pg_columns(warehouse, f"taxi.{name}") == expected, name

    indexes = dict(
        warehouse.execute("SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'taxi'").fetchall()
    )
    assert "USING brin (pickup_date, pickup_datetime)" in indexes["fct_trips_sortkey"]
    for name in CURATED:
        assert "USING brin (pickup_date" in indexes[f"{name}_sortkey"]


def test_translation_maps_redshift_functions_and_refuses_unmodelled_syntax():
    (create,) = to_postgres(
        "CREATE TABLE t (id BIGINT IDENTITY(1,1) ENCODE az64, at TIMESTAMP DEFAULT GETDATE()) DISTSTYLE EVEN"
    )
    assert create == (
        "CREATE TABLE t (id BIGINT GENERATED BY DEFAULT AS IDENTITY (START WITH 1 INCREMENT BY 1),"
        " at TIMESTAMP DEFAULT CURRENT_TIMESTAMP)"
    )
    # sqlglot would otherwise pass this through as raw text that PostgreSQL cannot run.
    with pytest.raises(DialectError):
        to_postgres("CREATE TABLE t (a INT, b INT) INTERLEAVED SORTKEY (a, b)")


def test_copy_round_trips_nulls_empty_strings_decimals_timestamps_booleans_and_dates(warehouse):
    stamps = [
        datetime(2024, 3, 10, 2, 30, 0, 123456),
        datetime(2024, 11, 3, 1, 30),
        None,
        datetime(1999, 12, 31, 23, 59, 59),
    ]
    batch = pa.RecordBatch.from_pydict(
        {
            "pickup_datetime": pa.array(stamps[:2] + [stamps[0], stamps[3]], pa.timestamp("us")),
            "dropoff_datetime": pa.array(stamps, pa.timestamp("us")),
            "store_and_fwd_flag": pa.array(["", None, "Y", "N"]),
            "pu_zone": pa.array(['a, "quoted"\nzone', "", None, "Ñandú"]),
            "fare_amount": pa.array(
                [Decimal("0.01"), Decimal("-12.50"), None, Decimal("9999999999.99")], pa.decimal128(12, 2)
            ),
            "trip_distance": pa.array([1 / 3, math.inf, None, 0.1 + 0.2]),
            "is_weekend": pa.array([True, False, None, True]),
            "pickup_date": pa.array(
                [date(2024, 3, 10), date(2024, 11, 3), date(2024, 3, 10), date(1999, 12, 31)]
            ),
            "time_of_day_category": pa.array(
                ["overnight", "overnight", "overnight", "evening"]
            ).dictionary_encode(),
        }
    )
    columns = batch.schema.names
    # A session zone with DST: a wall-clock timestamp must still land unchanged.
    warehouse.execute("SET TimeZone = 'America/New_York'")

    assert copy_arrow(warehouse, "taxi.fct_trips", [batch], columns) == 4
    warehouse.commit()

    rows = warehouse.execute(
        psycopg.sql.SQL("SELECT {} FROM taxi.fct_trips ORDER BY pickup_date, fare_amount NULLS LAST").format(
            psycopg.sql.SQL(", ").join(map(psycopg.sql.Identifier, columns))
        )
    ).fetchall()
    expected = sorted(
        zip(*batch.to_pydict().values(), strict=True),
        key=lambda r: (r[7], r[4] is None, r[4] or 0),
    )
    assert rows == expected
    assert rows[1][2] == "" and rows[3][2] is None  # empty string stays empty, null stays null


def test_copy_failure_names_the_table_and_loads_nothing(warehouse):
    good = daily_rows(date(2024, 1, 1)).to_batches()[0]
    bad = pa.RecordBatch.from_pydict(
        {
            "pickup_date": pa.array([None], pa.date32()),
            "trip_count": [1],
            "total_revenue": pa.array([None], pa.decimal128(18, 2)),
            "pickup_month": ["2024-01"],
        }
    )

    with pytest.raises(WarehouseLoadError, match="taxi.daily_summary"):
        copy_arrow(warehouse, "taxi.daily_summary", [good, bad], DAILY_COLUMNS)
    warehouse.commit()

    assert table_stats(warehouse, "taxi.daily_summary")["rows"] == 0


def test_replace_partition_twice_leaves_the_same_rows(warehouse):
    january, february = daily_rows(date(2024, 1, 1)), daily_rows(date(2024, 2, 1), n_days=3)
    replace_partition(
        warehouse, "taxi.daily_summary", pads.dataset(february), {"pickup_month": "2024-02"}, DAILY_COLUMNS
    )

    first = replace_partition(
        warehouse, "taxi.daily_summary", pads.dataset(january), {"pickup_month": "2024-01"}, DAILY_COLUMNS
    )
    rows_once = warehouse.execute("SELECT * FROM taxi.daily_summary ORDER BY pickup_date").fetchall()
    second = replace_partition(
        warehouse, "taxi.daily_summary", pads.dataset(january), {"pickup_month": "2024-01"}, DAILY_COLUMNS
    )
    rows_twice = warehouse.execute("SELECT * FROM taxi.daily_summary ORDER BY pickup_date").fetchall()

    assert first == second == 2
    assert rows_twice == rows_once
    assert len(rows_twice) == 5  # January replaced, February untouched


def test_replace_partition_failing_mid_load_keeps_the_previous_rows(warehouse):
    where = {"pickup_month": "2024-01"}
    replace_partition(
        warehouse, "taxi.daily_summary", pads.dataset(daily_rows(date(2024, 1, 1))), where, DAILY_COLUMNS
    )
    before = warehouse.execute("SELECT * FROM taxi.daily_summary ORDER BY pickup_date").fetchall()
    # Second batch breaks NOT NULL on pickup_date, after the first batch has been copied.
    broken = pa.concat_tables(
        [
            daily_rows(date(2024, 1, 1), n_days=5, trip_count=99),
            daily_rows(date(2024, 1, 20), n_days=1).set_column(
                0, "pickup_date", pa.array([None], pa.date32())
            ),
        ]
    )

    with pytest.raises(WarehouseLoadError, match=r"taxi\.daily_summary.*pickup_date"):
        replace_partition(warehouse, "taxi.daily_summary", pads.dataset(broken), where, DAILY_COLUMNS)

    assert warehouse.execute("SELECT * FROM taxi.daily_summary ORDER BY pickup_date").fetchall() == before
    assert warehouse.execute("SELECT count(*) FROM taxi.load_audit").fetchone()[0] == 1


def test_replace_partition_refuses_rows_outside_the_partition(warehouse):
    spills_into_february = daily_rows(date(2024, 1, 31), n_days=2)

    with pytest.raises(WarehouseLoadError, match="1 of 2 rows fall outside"):
        replace_partition(
            warehouse,
            "taxi.daily_summary",
            pads.dataset(spills_into_february),
            {"pickup_month": "2024-01"},
            DAILY_COLUMNS,
        )

    assert table_stats(warehouse, "taxi.daily_summary")["rows"] == 0


def test_replace_partition_records_each_load_in_load_audit(warehouse):
    where = {"pickup_month": "2024-01"}
    for _ in range(2):
        replace_partition(
            warehouse, "taxi.daily_summary", pads.dataset(daily_rows(date(2024, 1, 1))), where, DAILY_COLUMNS
        )

    audit = warehouse.execute(
        "SELECT table_name, pickup_month, partition_spec, rows_deleted, rows_loaded, loaded_at"
        " FROM taxi.load_audit ORDER BY audit_id"
    ).fetchall()
    assert [a[:5] for a in audit] == [
        ("taxi.daily_summary", "2024-01", '{"pickup_month": "2024-01"}', 0, 2),
        ("taxi.daily_summary", "2024-01", '{"pickup_month": "2024-01"}', 2, 2),
    ]
    now_utc = datetime.now(UTC).replace(tzinfo=None)
    assert all(abs(a[5] - now_utc) < timedelta(minutes=5) for a in audit)  # GETDATE() is UTC


def test_hive_partitioned_staging_loads_with_its_directory_columns(warehouse, tmp_path):
    trips = pa.table(
        {
            "pickup_datetime": pa.array(
                [datetime(2024, 1, 1, 7, 5), datetime(2024, 1, 2, 23, 59)], pa.timestamp("us")
            ),
            "fare_amount": pa.array([Decimal("12.30"), Decimal("7.05")], pa.decimal128(12, 2)),
            "passenger_count": pa.array([1, None], pa.int32()),
            "pickup_date": ["2024-01-01", "2024-01-02"],
            "time_of_day_category": ["morning_rush", "evening"],
        }
    )
    pads.write_dataset(
        trips,
        tmp_path,
        format="parquet",
        partitioning=["pickup_date", "time_of_day_category"],
        partitioning_flavor="hive",
    )
    staging = pads.dataset(
        tmp_path, format="parquet", partitioning=pads.HivePartitioning.discover(infer_dictionary=True)
    )
    where = {"pickup_date": [date(2024, 1, 1), date(2024, 1, 2)]}

    for _ in range(2):
        loaded = replace_partition(warehouse, "taxi.fct_trips", staging, where, trips.column_names)

    assert loaded == 2
    assert table_stats(warehouse, "taxi.fct_trips", where, ["fare_amount", "passenger_count"]) == {
        "rows": 2,
        "fare_amount": Decimal("19.35"),
        "passenger_count": 1,
    }
    assert warehouse.execute(
        "SELECT pickup_date, time_of_day_category FROM taxi.fct_trips ORDER BY pickup_date"
    ).fetchall() == [(date(2024, 1, 1), "morning_rush"), (date(2024, 1, 2), "evening")]
    assert warehouse.execute("SELECT pickup_month FROM taxi.load_audit").fetchall() == [
        ("2024-01",),
        ("2024-01",),
    ]
