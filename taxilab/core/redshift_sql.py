"""Redshift SQL as text: the helpers both the product's aws path (data_api, sql_load) and the lab's
Redshift emulation (emulation.redshift) need, working on sqlglot's Redshift token stream, never on
regexes over the text (so nothing inside a string, a comment or a `::` cast is ever touched).
Why: docs/adr/0008-copy-unload-data-api.md.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TypeVar

import sqlglot
from sqlglot import exp
from sqlglot.tokens import Token, TokenType

from taxilab.core.settings import CANONICAL_SCHEMA, check_schema

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def tokens(text: str) -> list[Token]:
    """sqlglot's Redshift tokens of `text` (comments and whitespace are not tokens)."""
    return sqlglot.Dialect.get_or_raise("redshift").tokenize(text)


def split(text: str) -> list[str]:
    """The statements of a file, each exactly as written (from its first token to its last, the `;`
    and the comments between statements left out)."""
    out: list[str] = []
    start: int | None = None
    last = 0
    for tok in tokens(text):
        if tok.token_type == TokenType.SEMICOLON:
            if start is not None:
                out.append(text[start : last + 1])
            start = None
            continue
        start = tok.start if start is None else start
        last = tok.end
    if start is not None:
        out.append(text[start : last + 1])
    return out


def statement_kind(sql_text: str) -> str:
    """The statement's first keyword, upper case ('COPY', 'UNLOAD', 'SELECT', ...); '' if none."""
    toks = tokens(sql_text)
    return toks[0].text.upper() if toks else ""


def after_keyword(sql_text: str, keyword: str) -> str:
    """The text after the leading `keyword`; ValueError if the statement does not start with it."""
    stripped = sql_text.lstrip()
    if stripped[: len(keyword)].upper() != keyword:
        raise ValueError(f"expected a {keyword} statement, got: {sql_text[:80]!r}")
    return stripped[len(keyword) :]


def placeholder_spans(text: str) -> list[tuple[int, int, str]]:
    """(start, end, name) of every `:name` placeholder, in text order; `end` is exclusive. A `:` glued
    to an identifier is one; `::` casts, strings and comments are not."""
    toks = tokens(text)
    out = []
    for tok, nxt in zip(toks, toks[1:], strict=False):
        if tok.token_type == TokenType.COLON and nxt.start == tok.end + 1 and _IDENTIFIER.fullmatch(nxt.text):
            out.append((tok.start, nxt.end + 1, nxt.text))
    return out


def iam_role_span(sql_text: str) -> tuple[int, int] | None:
    """(start, end) offsets of the IAM_ROLE value in a COPY/UNLOAD/CREATE EXTERNAL SCHEMA (for the aws
    path's substitution); None for other statements or without IAM_ROLE."""
    keyword = statement_kind(sql_text)
    if keyword == "CREATE":  # CREATE EXTERNAL SCHEMA ... IAM_ROLE '...' (Spectrum)
        toks = tokens(sql_text)
        if [tok.text.upper() for tok in toks[:3]] != ["CREATE", "EXTERNAL", "SCHEMA"]:
            return None
        offset = 0
    elif keyword in ("COPY", "UNLOAD"):
        rest = after_keyword(sql_text, keyword)
        offset = len(sql_text) - len(rest)
        toks = tokens(rest)
    else:
        return None
    toks = [t for t in toks if t.token_type != TokenType.SEMICOLON]
    for tok, nxt in zip(toks, toks[1:], strict=False):
        if tok.text.upper() == "IAM_ROLE":
            return offset + nxt.start, offset + nxt.end + 1
    return None


def ddl_files(ddl_dir: Path) -> list[Path]:
    """The DDL files of a directory in the order they run (by name: 001_schema.sql, 010_... )."""
    files = sorted(Path(ddl_dir).glob("*.sql"))
    if not files:
        raise FileNotFoundError(f"no .sql files in {ddl_dir}")
    return files


_Tree = TypeVar("_Tree", bound=exp.Expr)


class SchemaRewriteError(ValueError):
    """SQL whose tables cannot be put in the configured warehouse schema (sqlglot cannot parse it)."""


def _canonical(identifier: object) -> bool:
    """An identifier that names the canonical schema: `taxi` in any case unquoted, exactly "taxi" quoted."""
    if not isinstance(identifier, exp.Identifier):
        return False
    name = identifier.this
    return name == CANONICAL_SCHEMA if identifier.quoted else name.lower() == CANONICAL_SCHEMA


def _schema_identifiers(tree: exp.Expr) -> list[exp.Identifier]:
    """The identifiers that name the canonical schema as a qualifier: the db of a Table (`taxi.t`, and the
    schema of CREATE SCHEMA taxi) or of a fully qualified Column (`taxi.t.c`). A column or a string named
    taxi is not one."""
    out: list[exp.Identifier] = []
    for node in tree.find_all(exp.Table, exp.Column):
        db = node.args.get("db")
        if isinstance(db, exp.Identifier) and _canonical(db) and not node.args.get("catalog"):
            out.append(db)
    return out


def in_schema(tree: _Tree, schema: str) -> _Tree:
    """`tree` (parsed Redshift SQL) with its canonical-schema qualifiers replaced, in place, by `schema` as a
    quoted identifier; unchanged when `schema` is the canonical one. `schema` is checked first."""
    schema = check_schema(schema)
    if schema != CANONICAL_SCHEMA:
        for identifier in _schema_identifiers(tree):
            identifier.replace(exp.to_identifier(schema, quoted=True))
    return tree


def in_schema_text(sql_text: str, schema: str) -> str:
    """`sql_text` as written but for its canonical-schema qualifiers, each replaced by `"schema"` at the
    place sqlglot's AST says it stands (for the Data API path, which sends the text Redshift runs). The text
    is returned untouched for the canonical schema. Statements sqlglot only keeps as text (UNLOAD, CREATE
    EXTERNAL SCHEMA) have no table in the AST and are left as written."""
    schema = check_schema(schema)
    if schema == CANONICAL_SCHEMA:
        return sql_text
    try:
        trees = sqlglot.parse(sql_text, read="redshift")
    except sqlglot.errors.SqlglotError as e:
        raise SchemaRewriteError(
            f"cannot put this statement in warehouse_schema {schema!r}: sqlglot cannot parse it ({e}): "
            f"{sql_text.strip()[:200]}"
        ) from e
    spans = []
    for tree in trees:
        for identifier in _schema_identifiers(tree) if tree is not None else []:
            meta = identifier.meta
            if "start" not in meta or "end" not in meta:
                raise SchemaRewriteError(
                    f"no position for schema {identifier.sql()} in {sql_text.strip()[:200]}"
                )
            spans.append((meta["start"], meta["end"] + 1))
    quoted = exp.to_identifier(schema, quoted=True).sql(dialect="redshift")
    for start, end in sorted(set(spans), reverse=True):
        sql_text = sql_text[:start] + quoted + sql_text[end:]
    return sql_text
