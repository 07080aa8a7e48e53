"""Load Arrow/Parquet data into the lab's PostgreSQL warehouse (Redshift's stand-in) with COPY.

Rows travel as CSV over `COPY ... FROM STDIN`: pyarrow writes each record batch as CSV (in C++,
outside the GIL) and PostgreSQL parses it, so the client and the server each keep one core busy.
CSV keeps every value exact:

- null is written as an empty unquoted field and a string as a quoted field, so "" stays an empty
  string: PostgreSQL's CSV default NULL '' matches only the unquoted empty field. FORCE_NULL must
  not be used, it would turn real empty strings into nulls.
- decimals are written in plain notation (12.34), doubles in shortest round-trip form, booleans
  as true/false, dates and timestamps in ISO form without a zone: a timestamp lands as the same
  wall-clock value, whatever the session time zone (which is set to UTC anyway, so GETDATE()
  defaults such as loaded_at are UTC as on Redshift).

A partition is replaced in one transaction (delete, copy, check, audit), so a rerun of the same
input leaves the same rows and a failure leaves the previous ones.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import psycopg
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.dataset as pads
from psycopg import sql

AUDIT_TABLE = "taxi.load_audit"

_CSV_OPTIONS = pacsv.WriteOptions(include_header=False)
_INTEGER_TYPES = {"smallint", "integer", "bigint"}


class WarehouseLoadError(RuntimeError):
    """A load into a warehouse table failed; nothing of it was kept."""


def table_identifier(table: str) -> sql.Identifier:
    """'schema.table' (or 'table') as a quoted identifier."""
    parts = table.split(".")
    if not 1 <= len(parts) <= 2 or not all(parts):
        raise ValueError(f"expected 'schema.table' or 'table', got {table!r}")
    return sql.Identifier(*parts)


def _one(cursor: Any) -> tuple:
    """The single row an aggregate query returns (count(*) always returns one)."""
    row = cursor.fetchone()
    if row is None:  # pragma: no cover - an aggregate without GROUP BY returns exactly one row
        raise WarehouseLoadError("an aggregate query returned no row")
    return tuple(row)


def _where_clause(where: Mapping[str, object]) -> tuple[sql.Composable, list[Any]]:
    """`WHERE k1 = %s AND k2 = ANY(%s)`: a scalar is an equality, a list/tuple/set a membership."""
    if not where:
        return sql.SQL(""), []
    terms: list[sql.Composable] = []
    params: list[Any] = []
    for column, value in where.items():
        if value is None:
            raise ValueError(f"partition value for {column!r} is None; a partition key is never null")
        if isinstance(value, list | tuple | set | frozenset):
            values = sorted(value)
            if not values:
                raise ValueError(f"partition values for {column!r} are empty")
            terms.append(sql.SQL("{} = ANY(%s)").format(sql.Identifier(column)))
            params.append(values)
        else:
            terms.append(sql.SQL("{} = %s").format(sql.Identifier(column)))
            params.append(value)
    return sql.SQL(" WHERE ") + sql.SQL(" AND ").join(terms), params


def _plain_batch(table: str, batch: pa.RecordBatch, columns: Sequence[str]) -> pa.RecordBatch:
    """The batch's `columns`, in that order, with dictionary-encoded columns decoded."""
    missing = [c for c in columns if c not in batch.schema.names]
    if missing:
        raise WarehouseLoadError(
            f"loading {table}: record batch lacks {missing}; it has {batch.schema.names}"
        )
    batch = batch.select(list(columns))
    if any(pa.types.is_dictionary(f.type) for f in batch.schema):
        arrays = [
            pc.cast(a, a.type.value_type) if pa.types.is_dictionary(a.type) else a for a in batch.columns
        ]
        batch = pa.RecordBatch.from_arrays(arrays, names=list(columns))
    return batch


def _set_utc(conn: psycopg.Connection) -> None:
    # Local to the transaction: the caller's session setting is back once it ends.
    conn.execute("SELECT set_config('TimeZone', 'UTC', true)")


def copy_arrow(
    conn: psycopg.Connection,
    table: str,
    batches: Iterable[pa.RecordBatch],
    columns: Sequence[str],
    progress: Callable[[int], None] | None = None,
) -> int:
    """COPY record batches into `table` (only `columns`, in that order); returns the rows copied.

    Runs in a transaction of its own, or in a savepoint of the caller's: it loads all or nothing.
    Table columns not listed take their defaults (e.g. loaded_at).
    """
    copy_sql = sql.SQL("COPY {} ({}) FROM STDIN WITH (FORMAT csv)").format(
        table_identifier(table), sql.SQL(", ").join(map(sql.Identifier, columns))
    )
    rows = 0
    try:
        with conn.transaction(), conn.cursor() as cur:
            _set_utc(conn)
            with cur.copy(copy_sql) as copy:
                for batch in batches:
                    if batch.num_rows == 0:
                        continue
                    batch = _plain_batch(table, batch, columns)
                    buffer = io.BytesIO()
                    pacsv.write_csv(batch, buffer, write_options=_CSV_OPTIONS)
                    copy.write(buffer.getbuffer())
                    rows += batch.num_rows
                    if progress:
                        progress(batch.num_rows)
            if cur.rowcount != rows:  # the server's count of what COPY stored
                raise WarehouseLoadError(f"COPY into {table} stored {cur.rowcount} rows, {rows} were sent")
    except (psycopg.Error, pa.ArrowException) as e:
        raise WarehouseLoadError(f"loading {table} failed, nothing was loaded: {e}") from e
    return rows


def _audit_month(where: Mapping[str, object]) -> str | None:
    """The pickup_month a partition spec covers, when it covers exactly one (else None)."""
    month = where.get("pickup_month")
    if isinstance(month, str):
        return month
    dates = where.get("pickup_date")
    values = list(dates) if isinstance(dates, list | tuple | set | frozenset) else [dates]
    if values and all(isinstance(d, date) for d in values):
        months = {d.strftime("%Y-%m") for d in values if isinstance(d, date)}
        if len(months) == 1:
            return months.pop()
    return None


def _spec_json(where: Mapping[str, object]) -> str:
    def plain(value: object) -> object:
        if isinstance(value, list | tuple | set | frozenset):
            return [plain(v) for v in sorted(value)]
        if isinstance(value, date | datetime | Decimal):
            return str(value)
        return value

    return json.dumps({k: plain(v) for k, v in sorted(where.items())}, sort_keys=True)


def replace_partition(
    conn: psycopg.Connection,
    table: str,
    dataset: pads.Dataset,
    where: Mapping[str, object],
    columns: Sequence[str],
    progress: Callable[[int], None] | None = None,
) -> int:
    """Replace the rows of `table` matching `where` with the rows of `dataset`; returns rows loaded.

    `where` names the partition: {column: value} for equality, {column: [values]} for a set of
    values (e.g. every pickup_date of a month). One transaction: delete the partition, COPY the
    dataset in, check that every loaded row belongs to the partition (else a rerun would duplicate
    it), record the load in taxi.load_audit, commit. Any error rolls all of it back and raises
    WarehouseLoadError naming the table. On a connection already inside a transaction this runs
    in a savepoint and the caller commits.
    """
    if not where:
        raise ValueError("replace_partition needs a partition (where); to reload a whole table, name it")
    ident = table_identifier(table)
    where_sql, params = _where_clause(where)
    try:
        with conn.transaction():
            _set_utc(conn)
            # One loader per table at a time: two concurrent replaces of one partition would both
            # delete nothing and both insert. Readers are not blocked.
            conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [table])
            deleted = conn.execute(sql.SQL("DELETE FROM {}").format(ident) + where_sql, params).rowcount
            loaded = copy_arrow(conn, table, dataset.to_batches(columns=list(columns)), columns, progress)
            matching = _one(
                conn.execute(sql.SQL("SELECT count(*) FROM {}").format(ident) + where_sql, params)
            )[0]
            if matching != loaded:
                raise WarehouseLoadError(
                    f"loading {table}: {loaded - matching} of {loaded} rows fall outside the partition "
                    f"{_spec_json(where)}; the dataset must hold that partition only"
                )
            conn.execute(
                sql.SQL(
                    "INSERT INTO {} (table_name, pickup_month, partition_spec, rows_deleted, rows_loaded)"
                    " VALUES (%s, %s, %s, %s, %s)"
                ).format(table_identifier(AUDIT_TABLE)),
                [table, _audit_month(where), _spec_json(where), deleted, loaded],
            )
    except psycopg.Error as e:
        raise WarehouseLoadError(f"replacing {_spec_json(where)} in {table} failed, rolled back: {e}") from e
    return loaded


def table_stats(
    conn: psycopg.Connection,
    table: str,
    where: Mapping[str, object] | None = None,
    measures: Sequence[str] = (),
) -> dict[str, object]:
    """{'rows': count(*), <measure>: sum(<measure>) ...} over the rows matching `where`.

    For reconciliation: sums of integer columns come back as int, of decimal columns as exact
    Decimal (None when no row matches); sums of double columns as float, which is all a double is.
    """
    ident = table_identifier(table)
    schema, _, name = table.rpartition(".")
    types: dict[str, str] = dict(
        conn.execute(
            "SELECT column_name, data_type FROM information_schema.columns"
            " WHERE table_schema = coalesce(nullif(%s, ''), current_schema()) AND table_name = %s",
            [schema, name],
        ).fetchall()
    )
    unknown = [m for m in measures if m not in types]
    if unknown:
        raise ValueError(f"{table} has no columns {unknown}")
    where_sql, params = _where_clause(where or {})
    select = sql.SQL(", ").join(
        [sql.SQL("count(*)")] + [sql.SQL("sum({})").format(sql.Identifier(m)) for m in measures]
    )
    row = _one(conn.execute(sql.SQL("SELECT {} FROM {}").format(select, ident) + where_sql, params))
    stats: dict[str, object] = {"rows": int(row[0])}
    for measure, value in zip(measures, row[1:], strict=True):
        if value is not None and types[measure] in _INTEGER_TYPES:
            value = int(value)
        stats[measure] = value
    return stats
