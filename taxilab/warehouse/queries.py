"""Named analytics queries (sql/analytics/<name>.sql) and validation queries (sql/validation/):
Redshift SQL, run by name with named parameters, on the lab's PostgreSQL or on Redshift.
Why: docs/adr/0005-redshift-emulation-analytics-queries.md.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import sqlglot
from sqlglot import exp

from taxilab.core.settings import CANONICAL_SCHEMA, PROJECT_ROOT

ANALYTICS_DIR = PROJECT_ROOT / "sql" / "analytics"
VALIDATION_DIR = PROJECT_ROOT / "sql" / "validation"
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


class QueryError(ValueError):
    """An unknown query, a missing or unexpected parameter, or a query that failed to run."""


@dataclass(frozen=True)
class NamedQuery:
    name: str
    path: Path
    sql: str  # Redshift dialect, as in the file
    description: str
    params: tuple[str, ...]  # placeholder names, in first-use order

    def postgres(self, schema: str = CANONICAL_SCHEMA) -> str:
        """The query for the lab's PostgreSQL: guarded (Redshift would reject what the guard names),
        `taxi.` tables in `schema`, `:name` -> `%(name)s`, literal % doubled for psycopg
        (emulation/redshift/dialect.py)."""
        from emulation.redshift.dialect import parse_redshift, query_to_postgres

        _guard(self.sql, str(self.path))
        statements = parse_redshift(self.sql)
        if len(statements) != 1:
            raise QueryError(f"{self.path}: a named query is one statement, found {len(statements)}")
        return query_to_postgres(statements[0], self.params, source=str(self.path), schema=schema)


@lru_cache(maxsize=256)
def _guard(sql: str, source: str) -> None:
    """The dialect guard, once per query text (a query that fails it raises every time: not cached)."""
    from emulation.redshift import guard

    guard.check(sql, source=source)


def _placeholders(sql: str) -> tuple[str, ...]:
    """The placeholder names of `sql` (sqlglot's Redshift parse: `:name`, and `%(name)s` in text sqlglot
    wrote), ordered by their first mention in the text (a query's `-- Params:` line counts)."""
    try:
        statements = sqlglot.parse(sql, read="redshift")
    except sqlglot.errors.SqlglotError as e:
        raise QueryError(f"cannot parse Redshift SQL: {e}") from e
    names: list[str] = []
    for statement in statements:
        if statement is None:  # an empty statement, e.g. comments only
            continue
        for node in statement.walk():  # walk order is not text order; sorted below by position
            if isinstance(node, exp.Placeholder) and node.name and node.name not in names:
                names.append(node.name)
    return tuple(sorted(names, key=lambda n: sql.find(f":{n}")))


def load_query(name: str, directory: Path = ANALYTICS_DIR) -> NamedQuery:
    """The query `name` of `directory` (guarded when it is translated for the lab: NamedQuery.postgres)."""
    if not _NAME.match(name):
        raise QueryError(f"query name {name!r}: expected lower_snake_case (see `taxilab sql list`)")
    path = Path(directory) / f"{name}.sql"
    if not path.exists():
        known = ", ".join(list_names(directory)) or "none"
        raise QueryError(f"no query {name!r} in {directory} (known: {known})")
    text = path.read_text()
    comments = [ln[2:].strip() for ln in text.splitlines() if ln.startswith("--")]
    try:
        params = _placeholders(text)
    except QueryError as e:
        raise QueryError(f"{path}: {e}") from e
    return NamedQuery(name, path, text, comments[0] if comments else "", params)


def list_names(directory: Path = ANALYTICS_DIR) -> list[str]:
    return sorted(p.stem for p in Path(directory).glob("*.sql"))


def all_queries(directory: Path = ANALYTICS_DIR) -> list[NamedQuery]:
    return [load_query(n, directory) for n in list_names(directory)]


def bind(query: NamedQuery, params: dict[str, str]) -> dict[str, str]:
    """The parameters for `query`, as strings; a missing or unknown one is an error naming it."""
    missing = [p for p in query.params if p not in params]
    unknown = sorted(set(params) - set(query.params))
    if missing or unknown:
        problems = ([f"missing {missing}"] if missing else []) + ([f"unknown {unknown}"] if unknown else [])
        raise QueryError(
            f"query {query.name}: parameters {'; '.join(problems)}; it takes {list(query.params)}"
        )
    return {k: str(params[k]) for k in query.params}


@dataclass
class QueryResult:
    columns: list[str]
    rows: list[tuple]


def run(
    conn,
    query: NamedQuery | str,
    params: dict[str, str] | None = None,
    directory: Path = ANALYTICS_DIR,
    schema: str = CANONICAL_SCHEMA,
) -> QueryResult:
    """Run a named query on a psycopg connection (the lab's PostgreSQL), its `taxi.` tables in `schema`
    (settings.warehouse_schema); rows as PostgreSQL returns them."""
    import psycopg

    q = load_query(query, directory) if isinstance(query, str) else query
    values = bind(q, params or {})
    try:
        # A transaction (a savepoint inside the caller's): a failed query leaves the connection usable.
        with conn.transaction(), conn.cursor() as cur:
            cur.execute(q.postgres(schema), values if q.params else None)
            columns = [d.name for d in cur.description]
            rows = cur.fetchall()
    except psycopg.Error as e:
        raise QueryError(f"query {q.name} ({q.path}) failed with {values}: {e}".strip()) from e
    return QueryResult(columns, rows)


def parse_params(pairs: list[str]) -> dict[str, str]:
    """['month=2024-02', 'top_n=10'] -> {'month': '2024-02', 'top_n': '10'}."""
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise QueryError(f"parameter {pair!r}: expected NAME=VALUE")
        out[key.strip()] = value
    return out
