"""Load Arrow/Parquet data into the lab's PostgreSQL warehouse (Redshift's stand-in) with COPY FROM STDIN:
binary COPY tuples encoded from each record batch by numpy and Arrow kernels, or CSV when a column's Arrow
type has no exact binary encoding. Values stay exact (money as numeric, wall-clock timestamps, NULL apart
from ""); a partition is replaced in one transaction (delete, copy, check, audit). Why binary, why this
encoder and the CSV rules: docs/adr/0021-binary-copy-from-arrow.md."""

from __future__ import annotations

import io
import itertools
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import numpy as np
import psycopg
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.dataset as pads
from psycopg import sql
from psycopg.types.numeric import DecimalBinaryDumper

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


# ---------------------------------------------------------------------------------------------------------
# Binary COPY: each record batch is encoded column by column into PostgreSQL's binary COPY row format with
# numpy and Arrow compute kernels (no Python per row), then joined row-wise in C++ (binary_join_element_wise)
# and streamed through psycopg's copy.write. Chosen over psycopg's write_row and the ADBC driver's
# adbc_ingest in docs/perf.md (measured on the same rows): write_row converts every value in Python, and
# ADBC opens a connection of its own, so it cannot join the caller's transaction (delete + copy + audit).

_PG_SIGNATURE = b"PGCOPY\n\xff\r\n\x00" + b"\x00\x00\x00\x00" + b"\x00\x00\x00\x00"
_PG_TRAILER = b"\xff\xff"
_PG_NULL = pa.scalar(b"\xff\xff\xff\xff", pa.binary())
_EMPTY = pa.scalar(b"", pa.binary())
_PG_EPOCH_DAYS = 10957  # 2000-01-01, PostgreSQL's epoch, in days since 1970-01-01
_PG_EPOCH_US = _PG_EPOCH_DAYS * 86_400_000_000
_FIXED_INT = {"smallint": (pa.int16(), ">i2"), "integer": (pa.int32(), ">i4"), "bigint": (pa.int64(), ">i8")}
_FIXED_FLOAT = {"real": (pa.float32(), ">f4"), "double precision": (pa.float64(), ">f8")}
_TEXT_TYPES = {"text", "character varying", "character"}


class _Unsupported(Exception):
    """This column's Arrow type has no binary encoder for its PostgreSQL type: COPY the batch as CSV."""


def column_types(conn: psycopg.Connection, table: str) -> dict[str, tuple[str, int]]:
    """{column: (PostgreSQL base type name, typmod)} of `table`'s live columns."""
    rows = conn.execute(
        "SELECT attname, format_type(atttypid, NULL), atttypmod FROM pg_attribute"
        " WHERE attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped",
        [table_identifier(table).as_string(conn)],
    ).fetchall()
    return {name: (kind, typmod) for name, kind, typmod in rows}


Part = tuple[str, "np.ndarray | int"]  # (big-endian numpy dtype, a value per row or one for all rows)


def _matrix(parts: list[Part], n: int) -> np.ndarray:
    """Fixed-width fields side by side as an (n, bytes) uint8 matrix: one binary value per row.
    Filled as the fields of a packed structured array (one strided, byte-swapping copy per field)."""
    layout = np.dtype([(f"f{i}", dtype) for i, (dtype, _) in enumerate(parts)])
    out = np.empty(n, dtype=layout)
    for i, (_, values) in enumerate(parts):
        out[f"f{i}"] = values
    return out.view(np.uint8).reshape(n, layout.itemsize)


def _as_binary(matrix: np.ndarray) -> pa.Array:
    n, width = matrix.shape
    data = pa.py_buffer(np.ascontiguousarray(matrix))
    return pa.FixedSizeBinaryArray.from_buffers(pa.binary(width), n, [None, data]).cast(pa.binary())


def _numeric(array: pa.Array, typmod: int) -> list[Part] | pa.Array:
    """decimal128 -> numeric, fixed width per column: base-10000 digits covering the type's precision."""
    if not pa.types.is_decimal128(array.type):
        raise _Unsupported
    precision, scale = array.type.precision, array.type.scale
    if scale < 0:
        raise _Unsupported
    n = len(array)
    valid = array.is_valid().to_numpy(zero_copy_only=False)
    words = np.frombuffer(array.buffers()[1], dtype="<i8")[2 * array.offset : 2 * (array.offset + n)]
    low, high = words[0::2].copy(), words[1::2]
    if np.any((high != (low >> 63)) & valid):  # an unscaled value beyond int64 (rare): psycopg encodes it
        dumper = DecimalBinaryDumper(Decimal)
        values = [None if v is None else bytes(dumper.dump(v) or b"") for v in array.to_pylist()]
        return pa.array([None if v is None else len(v).to_bytes(4, "big") + v for v in values], pa.binary())
    low[~valid] = 0
    magnitude = np.abs(low)
    int_part, frac_part = np.divmod(magnitude, 10**scale)
    nint = min(5, max(1, -(-(precision - scale) // 4)))  # an int64 has at most 19 digits
    nfrac = -(-scale // 4)
    digits = [(int_part // 10 ** (4 * (nint - 1 - i))) % 10000 for i in range(nint)]
    frac_part = frac_part * 10 ** (4 * nfrac - scale)
    digits += [(frac_part // 10 ** (4 * (nfrac - 1 - i))) % 10000 for i in range(nfrac)]
    ndigits = nint + nfrac
    header: list[Part] = [
        (">i4", 8 + 2 * ndigits),
        (">i2", ndigits),
        (">i2", nint - 1),  # weight of the first digit
        (">i2", np.where(low < 0, 0x4000, 0)),  # sign
        (">i2", scale),  # display scale: 12.30 stays 12.30
    ]
    return header + [(">i2", d) for d in digits]


def _encode_column(array: pa.Array, pg_type: str, typmod: int) -> list[Part] | pa.Array:
    """One column as binary COPY field values (4-byte length + value; length -1 for null): big-endian
    numpy parts when every value has the same width (fixed-width type, no null), else a binary array."""
    n = len(array)
    kind = array.type
    if pg_type in _TEXT_TYPES:
        if not (pa.types.is_string(kind) or pa.types.is_large_string(kind)):
            raise _Unsupported
        data = array.cast(pa.binary())
        lengths = pc.binary_length(data).fill_null(0).to_numpy(zero_copy_only=False)
        encoded = pc.binary_join_element_wise(_as_binary(_matrix([(">i4", lengths)], n)), data, _EMPTY)
    elif pg_type in _FIXED_INT or pg_type in _FIXED_FLOAT:
        arrow_type, dtype = _FIXED_INT.get(pg_type) or _FIXED_FLOAT[pg_type]
        if not (pa.types.is_integer(kind) or (pg_type in _FIXED_FLOAT and pa.types.is_floating(kind))):
            raise _Unsupported
        # a safe cast: a value beyond the column's type raises instead of wrapping
        values = pc.cast(array, arrow_type).fill_null(0).to_numpy(zero_copy_only=False)
        encoded = [(">i4", np.dtype(dtype).itemsize), (dtype, values)]
    elif pg_type == "numeric":
        encoded = _numeric(array, typmod)
    elif pg_type == "boolean":
        if not pa.types.is_boolean(kind):
            raise _Unsupported
        values = array.fill_null(False).to_numpy(zero_copy_only=False)
        encoded = [(">i4", 1), ("u1", values)]
    elif pg_type == "date":
        if pa.types.is_string(kind) or pa.types.is_large_string(kind):
            array = pc.cast(array, pa.date32())  # a Hive partition value read as text
        elif not pa.types.is_date(kind):
            raise _Unsupported
        days = pc.cast(array, pa.date32()).cast(pa.int32()).fill_null(_PG_EPOCH_DAYS).to_numpy()
        encoded = [(">i4", 4), (">i4", days - _PG_EPOCH_DAYS)]
    elif pg_type == "timestamp without time zone":
        if not pa.types.is_timestamp(kind) or kind.tz is not None:
            raise _Unsupported  # a zoned instant has no single wall-clock value: the CSV path decides
        micros = pc.cast(array, pa.timestamp("us")).cast(pa.int64()).fill_null(_PG_EPOCH_US).to_numpy()
        encoded = [(">i4", 8), (">i8", micros - _PG_EPOCH_US)]
    else:
        raise _Unsupported
    if array.null_count:
        if isinstance(encoded, list):
            encoded = _as_binary(_matrix(encoded, n))
        encoded = pc.if_else(array.is_valid(), encoded, _PG_NULL)
    return encoded


def encode_binary_rows(batch: pa.RecordBatch, types: Sequence[tuple[str, int]]) -> pa.Buffer:
    """The batch as binary COPY tuples (no file header), one per row, in column order.

    Runs of fixed-width columns are laid side by side in one numpy matrix, so the row-wise join
    (the costly step) has few inputs. Raises _Unsupported when a column's Arrow type has no exact
    binary encoding for its PostgreSQL type.
    """
    n = batch.num_rows
    pieces: list[pa.Array] = []
    run: list[Part] = [(">i2", batch.num_columns)]  # each tuple's field count
    for col, (kind, typmod) in zip(batch.columns, types, strict=True):
        encoded = _encode_column(col, kind, typmod)
        if isinstance(encoded, list):
            run.extend(encoded)
            continue
        if run:
            pieces.append(_as_binary(_matrix(run, n)))
            run = []
        pieces.append(encoded)
    if run:
        pieces.append(_as_binary(_matrix(run, n)))
    rows = pc.binary_join_element_wise(*pieces, _EMPTY) if len(pieces) > 1 else pieces[0]
    offsets = np.frombuffer(rows.buffers()[1], dtype=np.int32)[rows.offset : rows.offset + n + 1]
    return rows.buffers()[2][int(offsets[0]) : int(offsets[-1])]


def _encoded_ahead(encode: Callable[[pa.RecordBatch], Any], batches: Iterable[pa.RecordBatch]):
    """(batch, encode(batch)) pairs, the next batch read and encoded in a worker thread while the caller
    sends the current one (Arrow and numpy release the GIL: the client's work overlaps the server's)."""
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="copy-encode") as pool:
        it = iter(batches)

        def step() -> tuple[pa.RecordBatch, Any] | None:
            batch = next(it, None)
            return None if batch is None else (batch, encode(batch))

        pending = pool.submit(step)
        while (item := pending.result()) is not None:
            pending = pool.submit(step)
            yield item


def copy_arrow(
    conn: psycopg.Connection,
    table: str,
    batches: Iterable[pa.RecordBatch],
    columns: Sequence[str],
    progress: Callable[[int], None] | None = None,
) -> int:
    """COPY record batches into `table` (only `columns`, in that order); returns the rows copied.

    Binary COPY when every column's Arrow type has an exact binary encoding for its PostgreSQL type
    (decided on the first batch's schema), else CSV. Runs in a transaction of its own, or in a
    savepoint of the caller's: it loads all or nothing. Table columns not listed take their defaults
    (e.g. loaded_at).
    """
    target = sql.SQL("COPY {} ({}) FROM STDIN").format(
        table_identifier(table), sql.SQL(", ").join(map(sql.Identifier, columns))
    )
    rows = 0
    try:
        with conn.transaction(), conn.cursor() as cur:
            _set_utc(conn)
            types = column_types(conn, table)
            unknown = [c for c in columns if c not in types]
            if unknown:
                raise WarehouseLoadError(f"loading {table}: the table has no columns {unknown}")
            pg_types = [types[c] for c in columns]
            plain = (_plain_batch(table, b, columns) for b in batches if b.num_rows)
            first = next(plain, None)
            binary = first is not None
            if first is not None:
                try:
                    encode_binary_rows(first.slice(0, 1), pg_types)
                except _Unsupported:
                    binary = False
            schema = first.schema if first is not None else None

            def encode(batch: pa.RecordBatch) -> Any:
                if not binary:
                    buffer = io.BytesIO()
                    pacsv.write_csv(batch, buffer, write_options=_CSV_OPTIONS)
                    return buffer.getbuffer()
                if batch.schema != schema:
                    raise WarehouseLoadError(
                        f"loading {table}: record batches of one load differ in schema:"
                        f" {schema} then {batch.schema}"
                    )
                return encode_binary_rows(batch, pg_types)

            fmt = "binary" if binary else "csv"
            with cur.copy(target + sql.SQL(f" WITH (FORMAT {fmt})")) as copy:
                if binary:
                    copy.write(_PG_SIGNATURE)
                chain = itertools.chain([first] if first is not None else [], plain)
                for batch, data in _encoded_ahead(encode, chain):
                    copy.write(data)
                    rows += batch.num_rows
                    if progress:
                        progress(batch.num_rows)
                if binary:
                    copy.write(_PG_TRAILER)
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
