"""Redshift SQL as text: the helpers both the product's aws path (data_api, sql_load) and the lab's
Redshift emulation (emulation.redshift) need, working on sqlglot's Redshift token stream, never on
regexes over the text (so nothing inside a string, a comment or a `::` cast is ever touched).

- `tokens(text)`: sqlglot's Redshift tokens of `text`.
- `split(text)`: the statements of a script, each exactly as written.
- `statement_kind(text)`: a statement's first keyword ('COPY', 'UNLOAD', 'SELECT', ...).
- `after_keyword(text, keyword)`: what follows the leading COPY/UNLOAD keyword (sqlglot swallows the
  rest of an UNLOAD into one token, so its options are tokenized from there).
- `placeholder_spans(text)`: where the `:name` parameters (the Data API's syntax) are.
- `iam_role_span(text)`: where the IAM_ROLE value of a COPY/UNLOAD/CREATE EXTERNAL SCHEMA is, for
  the aws path's substitution of the account's role.
- `ddl_files(dir)`: the DDL files of sql/ddl in the order they run (both profiles run them).

Pure text: no database, no AWS client, nothing of emulation/ (docs/adr/0012-layout-and-layers.md).
Why COPY/UNLOAD are read on tokens: docs/adr/0008-copy-unload-data-api.md.
"""

from __future__ import annotations

import re
from pathlib import Path

import sqlglot
from sqlglot.tokens import Token, TokenType

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
