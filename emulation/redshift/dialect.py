"""Redshift SQL -> PostgreSQL through sqlglot's AST, the one translation layer: Redshift-only table
properties and ENCODE dropped, SORTKEY as a BRIN index, DATEDIFF, LISTAGG and STRTOL rewritten with
Redshift's semantics. Why and how: docs/adr/0005-redshift-emulation-analytics-queries.md.
"""

from __future__ import annotations

from pathlib import Path
from typing import cast

import sqlglot
from sqlglot import exp
from sqlglot.errors import ErrorLevel

from taxilab.core.redshift_sql import ddl_files, in_schema
from taxilab.core.settings import CANONICAL_SCHEMA

# Table properties with no PostgreSQL counterpart: physical layout on a Redshift cluster.
REDSHIFT_ONLY_PROPERTIES: tuple[type[exp.Expression], ...] = (
    exp.DistKeyProperty,
    exp.DistStyleProperty,
    exp.SortKeyProperty,
    exp.BackupProperty,
)

# BRIN, not btree: a sort key prunes blocks by min/max like BRIN does, and a BRIN index costs
# almost nothing to maintain while millions of rows are COPYed in (see load.py).
SORTKEY_INDEX_METHOD = "brin"


class DialectError(ValueError):
    """Redshift SQL that the translation layer cannot turn into PostgreSQL."""


def parse_redshift(sql: str) -> list[exp.Expression]:
    """Parse Redshift SQL into statements; unsupported syntax is an error, never a raw passthrough."""
    try:
        statements = sqlglot.parse(sql, read="redshift", error_level=ErrorLevel.RAISE)
    except sqlglot.ParseError as e:
        raise DialectError(f"cannot parse Redshift SQL: {e}") from e
    parsed = []
    for statement in statements:
        if statement is None:  # an empty statement, e.g. a file of comments only
            continue
        if isinstance(statement, exp.Command):
            # sqlglot's fallback for syntax it does not model: the text would reach PostgreSQL as is.
            raise DialectError(f"sqlglot has no model for this Redshift statement: {statement.sql()[:200]}")
        parsed.append(statement)
    return cast(list[exp.Expression], parsed)


# DATEDIFF(part, a, b) on PostgreSQL: the number of `part` boundaries crossed from a to b (Redshift's
# definition), with __a/__b standing for CAST(a AS TIMESTAMP)/CAST(b AS TIMESTAMP). Week boundaries are
# Mondays (Redshift's DATE_TRUNC('week')). Sub-day parts truncate both ends and divide the exact
# difference; day and longer parts subtract calendar fields.
DATEDIFF_SQL = {
    "MICROSECOND": "CAST(EXTRACT(EPOCH FROM __b - __a) * 1000000 AS BIGINT)",
    "MILLISECOND": "CAST(EXTRACT(EPOCH FROM DATE_TRUNC('MILLISECONDS', __b) - DATE_TRUNC('MILLISECONDS', __a))"
    " * 1000 AS BIGINT)",
    "SECOND": "CAST(EXTRACT(EPOCH FROM DATE_TRUNC('SECOND', __b) - DATE_TRUNC('SECOND', __a)) AS BIGINT)",
    "MINUTE": "CAST(EXTRACT(EPOCH FROM DATE_TRUNC('MINUTE', __b) - DATE_TRUNC('MINUTE', __a)) AS BIGINT) / 60",
    "HOUR": "CAST(EXTRACT(EPOCH FROM DATE_TRUNC('HOUR', __b) - DATE_TRUNC('HOUR', __a)) AS BIGINT) / 3600",
    "DAY": "CAST(CAST(__b AS DATE) - CAST(__a AS DATE) AS BIGINT)",
    "WEEK": "CAST((CAST(DATE_TRUNC('WEEK', __b) AS DATE) - CAST(DATE_TRUNC('WEEK', __a) AS DATE)) / 7 AS BIGINT)",
    "MONTH": "CAST((EXTRACT(YEAR FROM __b) - EXTRACT(YEAR FROM __a)) * 12"
    " + EXTRACT(MONTH FROM __b) - EXTRACT(MONTH FROM __a) AS BIGINT)",
    "QUARTER": "CAST((EXTRACT(YEAR FROM __b) - EXTRACT(YEAR FROM __a)) * 4"
    " + EXTRACT(QUARTER FROM __b) - EXTRACT(QUARTER FROM __a) AS BIGINT)",
    "YEAR": "CAST(EXTRACT(YEAR FROM __b) - EXTRACT(YEAR FROM __a) AS BIGINT)",
}
_DATEDIFF_NODES = (exp.TsOrDsDiff, exp.DateDiff, exp.TimestampDiff)


def _datediff(node: exp.Expression) -> exp.Expression:
    unit = node.args.get("unit")
    part = (unit.name if unit is not None else "DAY").upper()
    if part not in DATEDIFF_SQL:
        raise DialectError(
            f"DATEDIFF({part.lower()}, ...) is not translated for PostgreSQL; "
            f"supported parts: {', '.join(p.lower() for p in DATEDIFF_SQL)}"
        )
    # Redshift's DATEDIFF(part, start, end) parses as this=end, expression=start.
    ends = {"__a": node.expression, "__b": node.this}
    timestamp = exp.DataType.build("TIMESTAMP")
    template = sqlglot.parse_one(DATEDIFF_SQL[part], read="postgres")

    def fill(n: exp.Expression) -> exp.Expression:
        if isinstance(n, exp.Column) and n.name in ends:
            return exp.cast(postgres_rewrites(ends[n.name].copy()), timestamp)
        return n

    return exp.paren(template.transform(fill), copy=False)


def _listagg(node: exp.Expression) -> exp.Expression:
    """WithinGroup(GroupConcat) or GroupConcat (Redshift LISTAGG) -> PostgreSQL's STRING_AGG shape."""
    within = node if isinstance(node, exp.WithinGroup) else None
    agg = node.this if within is not None else node
    value, separator = agg.this, agg.args.get("separator")
    distinct = isinstance(value, exp.Distinct)
    if distinct:  # sqlglot reads LISTAGG(DISTINCT x, d) as DISTINCT (x, d)
        parts = value.expressions
        value = parts[0]
        if separator is None and len(parts) > 1:
            separator = parts[1]
    text = exp.cast(value.copy(), exp.DataType.build("TEXT"))
    this: exp.Expression = exp.Distinct(expressions=[text]) if distinct else text
    if within is not None:
        orders = [o.copy() for o in within.expression.expressions]
        if distinct:  # PostgreSQL: with DISTINCT, ORDER BY must be on the aggregated argument
            for o in orders:
                if o.this == value:
                    o.set("this", text.copy())
        this = exp.Order(this=this, expressions=orders)
    return exp.GroupConcat(
        this=this, separator=separator.copy() if separator is not None else exp.Literal.string("")
    )


def _strtol(node: exp.Expression) -> exp.Expression:
    """Redshift STRTOL(s, 16) -> PostgreSQL's bit-string route to a BIGINT (base 16 only)."""
    base = node.expression
    if not (isinstance(base, exp.Literal) and base.name == "16"):
        raise DialectError(f"STRTOL with base {base.sql()} is not translated for PostgreSQL; only base 16")
    template = sqlglot.parse_one(
        "CAST(CAST('x' || LPAD(__s, 16, '0') AS BIT(64)) AS BIGINT)", read="postgres"
    )
    text = exp.cast(postgres_rewrites(node.this.copy()), exp.DataType.build("TEXT"))
    return exp.paren(
        template.transform(lambda n: text if isinstance(n, exp.Column) and n.name == "__s" else n), copy=False
    )


def _rewrite(node: exp.Expression) -> exp.Expression:
    if isinstance(node, exp.FromBase):
        return _strtol(node)
    if isinstance(node, _DATEDIFF_NODES):
        return _datediff(node)
    if (isinstance(node, exp.WithinGroup) and isinstance(node.this, exp.GroupConcat)) or isinstance(
        node, exp.GroupConcat
    ):
        return _listagg(node)
    return node


def postgres_rewrites(tree: exp.Expression) -> exp.Expression:
    """`tree` (Redshift AST) with the functions sqlglot writes wrongly for PostgreSQL rewritten:
    DATEDIFF (boundary counts), LISTAGG (STRING_AGG on text) and STRTOL (hex). Returns the new tree."""
    return tree.transform(_rewrite)


# A placeholder's stand-in while the tree is written: a column name nothing else uses.
_SENTINEL = "taxilab_param__"


def query_to_postgres(
    statement: exp.Expression,
    params: tuple[str, ...] = (),
    source: str = "query",
    schema: str = CANONICAL_SCHEMA,
) -> str:
    """One parsed Redshift query (a named query, an UNLOAD's select) as PostgreSQL text for psycopg:
    the rewrites above, `taxi.` tables in `schema`, ROUND(x, n) with x cast to DECIMAL, each `:name` of
    `params` as `%(name)s` and, when there are params, every other % doubled. `source` names the query in
    errors."""
    tree = in_schema(postgres_rewrites(statement), schema)  # DATEDIFF, LISTAGG; the warehouse schema
    # Placeholders become sentinel names first: every other % in the output (LIKE patterns,
    # and format strings sqlglot rewrites, e.g. TO_DATE's) must be doubled for psycopg, and
    # only the placeholders must not.
    # Redshift's ROUND(double, n) has no PostgreSQL overload (only round(numeric, n)); sqlglot
    # adds the cast only when it can type the argument (AVG), so make it explicit everywhere.
    for rnd in list(tree.find_all(exp.Round)):
        if rnd.args.get("decimals") is not None and not isinstance(rnd.this, exp.Cast):
            rnd.set("this", exp.cast(rnd.this.copy(), exp.DataType.build("DECIMAL")))
    for placeholder in list(tree.find_all(exp.Placeholder)):
        placeholder.replace(exp.column(f"{_SENTINEL}{placeholder.name}"))
    try:
        text = tree.sql(dialect="postgres", comments=False, unsupported_level=ErrorLevel.RAISE)
    except Exception as e:  # sqlglot's UnsupportedError and friends
        raise DialectError(f"{source}: cannot write for PostgreSQL: {e}") from e
    if not params:
        return text
    text = text.replace("%", "%%")
    for name in sorted(params, key=len, reverse=True):
        text = text.replace(f"{_SENTINEL}{name}", f"%({name})s")
    if _SENTINEL in text:
        raise DialectError(f"{source}: a placeholder did not survive translation: {text[:200]}")
    return text


def _created_table(statement: exp.Expression) -> exp.Table | None:
    if isinstance(statement, exp.Create) and (statement.args.get("kind") or "").upper() == "TABLE":
        target = statement.this
        return target.this if isinstance(target, exp.Schema) else target
    return None


def _sort_key_columns(statement: exp.Expression) -> list[str]:
    properties = statement.args.get("properties")
    if properties is None:
        return []
    columns: list[str] = []
    for prop in properties.expressions:
        if isinstance(prop, exp.SortKeyProperty):
            keys = prop.this if isinstance(prop.this, list) else [prop.this]
            columns.extend(key.name for key in keys)
    return columns


def sort_keys(sql: str) -> dict[str, list[str]]:
    """{'schema.table': [sort key columns, in order]} for every CREATE TABLE with a SORTKEY."""
    keys: dict[str, list[str]] = {}
    for statement in parse_redshift(sql):
        table = _created_table(statement)
        columns = _sort_key_columns(statement) if table is not None else []
        if table is not None and columns:
            keys[exp.table_name(table)] = columns
    return keys


def _strip_redshift_only(create: exp.Create) -> None:
    properties = create.args.get("properties")
    if properties is not None:
        for prop in list(properties.expressions):
            if isinstance(prop, REDSHIFT_ONLY_PROPERTIES):
                prop.pop()
        if not properties.expressions:
            properties.pop()
    for constraint in list(create.find_all(exp.ColumnConstraint)):
        if isinstance(constraint.args.get("kind"), exp.EncodeColumnConstraint):
            constraint.pop()


def sort_key_index(table: exp.Table, columns: list[str]) -> exp.Create:
    """CREATE INDEX IF NOT EXISTS <table>_sortkey ON <table> USING brin (<columns>), as an AST."""
    return exp.Create(
        kind="INDEX",
        exists=True,
        this=exp.Index(
            this=exp.to_identifier(f"{table.name}_sortkey"),
            table=table.copy(),
            params=exp.IndexParameters(
                using=exp.var(SORTKEY_INDEX_METHOD),
                columns=[exp.Ordered(this=exp.column(c)) for c in columns],
            ),
        ),
    )


def _postgres(statement: exp.Expression) -> str:
    try:
        # comments=False: the Redshift files keep their comments; PostgreSQL needs none of them.
        return postgres_rewrites(statement).sql(
            dialect="postgres", unsupported_level=ErrorLevel.RAISE, comments=False
        )
    except (sqlglot.UnsupportedError, ValueError) as e:
        raise DialectError(
            f"cannot write this statement for PostgreSQL ({e}): {statement.sql('redshift')[:200]}"
        ) from e


def to_postgres(sql: str, schema: str = CANONICAL_SCHEMA) -> list[str]:
    """PostgreSQL statements for Redshift SQL (one or many statements), in order, their `taxi.` tables
    in `schema`. Each CREATE TABLE with a SORTKEY is followed by a CREATE INDEX IF NOT EXISTS on those
    columns."""
    out: list[str] = []
    for parsed in parse_redshift(sql):
        statement = in_schema(parsed, schema)
        table = _created_table(statement)
        if table is None:
            out.append(_postgres(statement))
            continue
        columns = _sort_key_columns(statement)
        _strip_redshift_only(cast(exp.Create, statement))  # a statement with a created table is a CREATE
        out.append(_postgres(statement))
        if columns:
            out.append(_postgres(sort_key_index(table, columns)))
    return out


def apply_ddl(conn, ddl_dir: Path, schema: str = CANONICAL_SCHEMA) -> list[str]:
    """Run every DDL file of ddl_dir, translated, its `taxi.` tables in `schema`, in one transaction;
    returns the statements run. Idempotent as long as the DDL is (CREATE ... IF NOT EXISTS)."""
    statements = [s for f in ddl_files(ddl_dir) for s in to_postgres(f.read_text(), schema)]
    with conn.transaction():
        for statement in statements:
            conn.execute(statement)
    return statements
