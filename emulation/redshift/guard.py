"""The dialect guard: SQL that PostgreSQL (the lab's warehouse) would run but Amazon Redshift rejects
fails locally, with a message naming the construct, before it ever reaches the lab's PostgreSQL.
Why: docs/adr/0005-redshift-emulation-analytics-queries.md.
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import cast

import sqlglot
from sqlglot import exp
from sqlglot.errors import TokenError
from sqlglot.tokens import TokenType

from emulation.redshift.dialect import DialectError, parse_redshift
from taxilab.core.settings import PROJECT_ROOT

GUARD_FILE = PROJECT_ROOT / "sql" / "dialect_guard.csv"
KINDS = ("function", "type", "syntax")


def _is_distinct_on(node: exp.Expression) -> bool:
    return isinstance(node, exp.Distinct) and node.args.get("on") is not None


SYNTAX: dict[str, Callable[[exp.Expression], bool]] = {
    "DISTINCT ON": _is_distinct_on,
    "FILTER (WHERE ...)": lambda n: isinstance(n, exp.Filter),
    "ON CONFLICT": lambda n: isinstance(n, exp.OnConflict),
    "RETURNING": lambda n: isinstance(n, exp.Returning),
    "LATERAL": lambda n: isinstance(n, exp.Lateral),
    "ARRAY[...]": lambda n: isinstance(n, exp.Array),
    "TABLESAMPLE": lambda n: isinstance(n, exp.TableSample),
    "FOR UPDATE": lambda n: isinstance(n, exp.Lock),
}


class RedshiftDialectError(DialectError):
    """SQL that Redshift would reject (a construct listed in sql/dialect_guard.csv)."""


@dataclass(frozen=True)
class Rule:
    kind: str
    construct: str
    redshift_says: str


@lru_cache(maxsize=4)
def load_rules(path: Path = GUARD_FILE) -> tuple[Rule, ...]:
    """The guard table; a malformed row is an error naming the file and line."""
    rules = []
    with Path(path).open(newline="") as f:
        reader = csv.DictReader(f)
        if reader.fieldnames != ["kind", "construct", "redshift_says"]:
            raise ValueError(f"{path}: header must be kind,construct,redshift_says, got {reader.fieldnames}")
        for line, row in enumerate(reader, start=2):
            kind, construct = row["kind"].strip(), row["construct"].strip()
            if kind not in KINDS or not construct:
                raise ValueError(
                    f"{path} line {line}: kind must be one of {KINDS} with a construct, got {row}"
                )
            if kind == "syntax" and construct not in SYNTAX:
                raise ValueError(f"{path} line {line}: no matcher for syntax {construct!r} in guard.SYNTAX")
            rules.append(
                Rule(kind, construct.upper() if kind != "syntax" else construct, row["redshift_says"])
            )
    return tuple(rules)


def violations(sql: str, rules: tuple[Rule, ...] | None = None) -> list[str]:
    """Messages for every forbidden construct in `sql` (Redshift dialect), in rule order."""
    rules = load_rules() if rules is None else rules
    functions = {r.construct: r for r in rules if r.kind == "function"}
    types = {r.construct: r for r in rules if r.kind == "type"}
    syntax = [r for r in rules if r.kind == "syntax"]

    found: dict[str, str] = {}
    try:
        tokens = sqlglot.Dialect.get_or_raise("redshift").tokenize(sql)
    except TokenError as e:  # an unterminated quote or comment: refused as unparseable, never a crash
        raise RedshiftDialectError(f"cannot read the SQL's tokens ({e})") from None
    for token, nxt in zip(tokens, tokens[1:], strict=False):
        name = token.text.upper()
        if nxt.token_type == TokenType.L_PAREN and name in functions:
            r = functions[name]
            found.setdefault(
                f"function {name}", f"line {token.line}: function {name}() is not Redshift: {r.redshift_says}"
            )
    statements = parse_redshift(sql)
    for statement in statements:
        for node in statement.walk():
            if isinstance(node, exp.DataType):
                name = node.this.name if isinstance(node.this, exp.DataType.Type) else str(node.this)
                if name in types:
                    found.setdefault(
                        f"type {name}", f"type {name} is not Redshift: {types[name].redshift_says}"
                    )
            for r in syntax:
                if SYNTAX[r.construct](cast(exp.Expression, node)):
                    found.setdefault(
                        f"syntax {r.construct}", f"{r.construct} is not Redshift: {r.redshift_says}"
                    )
    return list(found.values())


def check(sql: str, source: str = "SQL") -> None:
    """Raise RedshiftDialectError naming every forbidden construct of `sql` (source names the file/query)."""
    problems = violations(sql)
    if problems:
        raise RedshiftDialectError(f"{source}: Redshift would reject this SQL: " + "; ".join(problems))
