"""Redshift statements read on sqlglot's Redshift token stream (never regexes): COPY and UNLOAD parsed
into CopyStatement / UnloadStatement, and `TokenReader`, the cursor spectrum.py reads its statements with.
Why tokens and not sqlglot's AST: docs/adr/0008-copy-unload-data-api.md ("Module notes").
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlglot.errors import TokenError
from sqlglot.tokens import Token, TokenType

from taxilab.core.redshift_sql import after_keyword, statement_kind, tokens

__all__ = [
    "CopyStatement",
    "RedshiftStatementError",
    "Result",
    "TokenReader",
    "UnloadStatement",
    "parse_copy",
    "parse_unload",
    "split_s3",
    "statement_kind",
]


class RedshiftStatementError(ValueError):
    """A COPY/UNLOAD statement that is malformed or uses an option the emulation does not support."""


@dataclass
class Result:
    """What a statement returned: rows for a query, a row count and message for the others."""

    columns: list[str] = field(default_factory=list)
    rows: list[tuple] = field(default_factory=list)
    rowcount: int = -1
    message: str = ""


@dataclass
class CopyStatement:
    table: str
    columns: list[str]
    source: str
    iam_role: str | None = None
    format: str = "text"  # text | csv | parquet
    delimiter: str | None = None
    ignoreheader: int = 0
    null_as: str | None = None
    gzip: bool = False
    maxerror: int = 0
    manifest: bool = False


@dataclass
class UnloadStatement:
    query: str
    target: str
    iam_role: str | None = None
    format: str = "text"  # text | csv | parquet
    header: bool = False
    partition_by: list[str] = field(default_factory=list)
    include: bool = False
    parallel: bool = True
    allowoverwrite: bool = False
    cleanpath: bool = False
    delimiter: str | None = None


class TokenReader:
    """A cursor over sqlglot's Redshift tokens of one statement's text; `what` names the statement in
    errors."""

    def __init__(self, text: str, what: str):
        self.text, self.what = text, what
        try:
            self.tokens = [t for t in tokens(text) if t.token_type != TokenType.SEMICOLON]
        except TokenError as e:  # an unterminated quote or comment: refused, naming the statement
            raise RedshiftStatementError(f"{what}: cannot read the statement's tokens ({e})") from None
        self.i = 0

    def peek(self) -> Token | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def next(self, expected: str) -> Token:
        tok = self.peek()
        if tok is None:
            raise RedshiftStatementError(f"{self.what}: expected {expected}, the statement ended")
        self.i += 1
        return tok

    def word(self) -> str | None:
        tok = self.peek()
        return " ".join(tok.text.upper().split()) if tok is not None else None

    def accept(self, *words: str) -> bool:
        if self.word() in words:
            self.i += 1
            return True
        return False

    def string(self, expected: str) -> str:
        tok = self.next(expected)
        if tok.token_type != TokenType.STRING:
            raise RedshiftStatementError(
                f"{self.what}: expected {expected} as a quoted string, got {tok.text!r}"
            )
        # The raw literal, only '' unescaped: sqlglot would also eat backslashes ('\N' -> 'N').
        return self.text[tok.start + 1 : tok.end].replace("''", "'")

    def number(self, expected: str) -> int:
        tok = self.next(expected)
        if tok.token_type != TokenType.NUMBER or not tok.text.isdigit():
            raise RedshiftStatementError(
                f"{self.what}: expected {expected} as a whole number, got {tok.text!r}"
            )
        return int(tok.text)

    def names(self, expected: str) -> list[str]:
        if self.next(expected).token_type != TokenType.L_PAREN:
            raise RedshiftStatementError(f"{self.what}: expected ( before {expected}")
        out = []
        while True:
            out.append(self.next(expected).text)
            tok = self.next(f"',' or ')' in {expected}")
            if tok.token_type == TokenType.R_PAREN:
                return out
            if tok.token_type != TokenType.COMMA:
                raise RedshiftStatementError(f"{self.what}: unexpected {tok.text!r} in {expected}")

    def iam_role(self) -> str:
        tok = self.peek()
        if tok is not None and tok.text.upper() == "DEFAULT":
            self.i += 1
            return "default"
        return self.string("IAM_ROLE's role ARN")

    def format(self) -> str:
        self.accept("AS")
        fmt = self.next("a format").text.lower()
        if fmt not in ("parquet", "csv"):
            raise RedshiftStatementError(
                f"{self.what}: FORMAT AS {fmt.upper()} is not supported locally "
                "(PARQUET, CSV, or the default pipe-delimited text)"
            )
        return fmt


def _rest(sql_text: str, keyword: str) -> str:
    # sqlglot's tokenizer swallows everything after UNLOAD into one token: tokenize what follows.
    try:
        return after_keyword(sql_text, keyword)
    except ValueError as e:
        raise RedshiftStatementError(str(e)) from None


def _common_option(t: TokenReader, stmt: CopyStatement | UnloadStatement, word: str) -> bool:
    """The options COPY and UNLOAD share (IAM_ROLE, FORMAT [AS] ..., bare CSV/PARQUET); True if consumed."""
    if word == "IAM_ROLE":
        stmt.iam_role = t.iam_role()
    elif word == "FORMAT":
        stmt.format = t.format()
    elif word in ("CSV", "PARQUET"):
        stmt.format = word.lower()
    else:
        return False
    return True


def parse_copy(sql_text: str) -> CopyStatement:
    t = TokenReader(_rest(sql_text, "COPY"), "COPY")
    parts = [t.next("the target table").text]
    while (tok := t.peek()) is not None and tok.token_type == TokenType.DOT:
        t.i += 1
        parts.append(t.next("the table name").text)
    tok = t.peek()
    columns = t.names("the column list") if tok is not None and tok.token_type == TokenType.L_PAREN else []
    if not t.accept("FROM"):
        raise RedshiftStatementError(f"COPY {'.'.join(parts)}: expected FROM 's3://...'")
    stmt = CopyStatement(".".join(parts), columns, t.string("the S3 source"))
    while (word := t.word()) is not None:
        t.i += 1
        if _common_option(t, stmt, word):
            pass
        elif word == "DELIMITER":
            t.accept("AS")
            stmt.delimiter = t.string("the DELIMITER")
        elif word == "IGNOREHEADER":
            t.accept("AS")
            stmt.ignoreheader = t.number("IGNOREHEADER's line count")
        elif word == "NULL":
            t.accept("AS")
            stmt.null_as = t.string("NULL AS's string")
        elif word == "MAXERROR":
            t.accept("AS")
            stmt.maxerror = t.number("MAXERROR's count")
        elif word == "GZIP":
            stmt.gzip = True
        elif word == "MANIFEST":
            stmt.manifest = True
        else:
            raise RedshiftStatementError(f"COPY {stmt.table}: option {word} is not supported locally")
    if not stmt.source.startswith("s3://"):
        raise RedshiftStatementError(f"COPY {stmt.table}: FROM {stmt.source!r} is not an s3:// URL")
    if stmt.format == "parquet" and (
        stmt.delimiter or stmt.ignoreheader or stmt.null_as is not None or stmt.gzip
    ):
        raise RedshiftStatementError(
            f"COPY {stmt.table}: FORMAT AS PARQUET takes no DELIMITER, IGNOREHEADER, "
            "NULL AS or GZIP (Redshift rejects them too)"
        )
    return stmt


def parse_unload(sql_text: str) -> UnloadStatement:
    t = TokenReader(_rest(sql_text, "UNLOAD"), "UNLOAD")
    if t.next("('select ...')").token_type != TokenType.L_PAREN:
        raise RedshiftStatementError("UNLOAD: expected ('select ...')")
    query = t.string("the select")
    if t.next("')'").token_type != TokenType.R_PAREN or not t.accept("TO"):
        raise RedshiftStatementError("UNLOAD: expected ) TO 's3://...' after the select")
    stmt = UnloadStatement(query, t.string("the S3 target"))
    while (word := t.word()) is not None:
        t.i += 1
        if _common_option(t, stmt, word):
            pass
        elif word == "HEADER":
            stmt.header = True
        elif word == "PARTITION BY":
            stmt.partition_by = t.names("PARTITION BY's columns")
            stmt.include = t.accept("INCLUDE")
        elif word == "PARALLEL":
            value = t.next("ON or OFF").text.upper()
            if value not in ("ON", "OFF", "TRUE", "FALSE"):
                raise RedshiftStatementError(f"UNLOAD: PARALLEL {value}: expected ON or OFF")
            stmt.parallel = value in ("ON", "TRUE")
        elif word == "ALLOWOVERWRITE":
            stmt.allowoverwrite = True
        elif word == "CLEANPATH":
            stmt.cleanpath = True
        elif word == "DELIMITER":
            t.accept("AS")
            stmt.delimiter = t.string("the DELIMITER")
        else:
            raise RedshiftStatementError(f"UNLOAD: option {word} is not supported locally")
    if not stmt.target.startswith("s3://"):
        raise RedshiftStatementError(f"UNLOAD: TO {stmt.target!r} is not an s3:// URL")
    if stmt.format == "parquet" and (stmt.header or stmt.delimiter):
        raise RedshiftStatementError(
            "UNLOAD: FORMAT AS PARQUET takes no HEADER or DELIMITER (Redshift rejects them)"
        )
    return stmt


def split_s3(url: str) -> tuple[str, str]:
    """'s3://bucket/key' -> (bucket, key); RedshiftStatementError without a bucket."""
    bucket, _, key = url[len("s3://") :].partition("/")
    if not bucket:
        raise RedshiftStatementError(f"{url!r}: no bucket")
    return bucket, key
