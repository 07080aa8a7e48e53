"""Redshift functions sqlglot writes wrongly for PostgreSQL are rewritten on the AST (dialect.py):
DATEDIFF as a count of boundaries crossed, LISTAGG as STRING_AGG on text. Results on PostgreSQL
are checked in tests/integration/test_dialect_pg.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from emulation.redshift.dialect import DialectError, to_postgres
from taxilab.warehouse.queries import NamedQuery


def one(sql: str) -> str:
    [out] = to_postgres(sql)
    return out


def test_datediff_day_subtracts_dates_not_elapsed_seconds():
    out = one("SELECT DATEDIFF(day, a, b) FROM t")
    assert "CAST(CAST(b AS TIMESTAMP) AS DATE) - CAST(CAST(a AS TIMESTAMP) AS DATE)" in out
    assert "86400" not in out  # sqlglot's own translation divides elapsed seconds


@pytest.mark.parametrize("spelling", ["day", "'day'", "d", "days", "DAY"])
def test_datediff_unit_spellings_all_mean_day(spelling):
    assert one(f"SELECT DATEDIFF({spelling}, a, b) FROM t") == one("SELECT DATEDIFF(day, a, b) FROM t")


def test_datediff_hour_truncates_both_ends_before_dividing():
    out = one("SELECT DATEDIFF(hour, a, b) FROM t")
    assert "DATE_TRUNC('HOUR', CAST(b AS TIMESTAMP)) - DATE_TRUNC('HOUR', CAST(a AS TIMESTAMP))" in out


def test_datediff_unsupported_part_is_refused_naming_it():
    with pytest.raises(DialectError, match=r"DATEDIFF\(decade"):
        to_postgres("SELECT DATEDIFF(decade, a, b) FROM t")


def test_listagg_within_group_becomes_string_agg_with_order_by_inside():
    assert (
        one("SELECT LISTAGG(x, ',') WITHIN GROUP (ORDER BY y DESC) FROM t")
        == "SELECT STRING_AGG(CAST(x AS TEXT), ',' ORDER BY y DESC) FROM t"
    )


def test_listagg_without_delimiter_concatenates_with_nothing_between():
    assert one("SELECT LISTAGG(x) FROM t") == "SELECT STRING_AGG(CAST(x AS TEXT), '') FROM t"


def test_listagg_distinct_orders_by_the_aggregated_text():
    assert (
        one("SELECT LISTAGG(DISTINCT x, ';') WITHIN GROUP (ORDER BY x) FROM t")
        == "SELECT STRING_AGG(DISTINCT CAST(x AS TEXT), ';' ORDER BY CAST(x AS TEXT)) FROM t"
    )


def test_named_queries_get_the_same_rewrites():
    q = NamedQuery(
        "q",
        Path("q.sql"),
        "SELECT LISTAGG(z, ',') WITHIN GROUP (ORDER BY z), DATEDIFF(day, :start_date, b) FROM t",
        "",
        ("start_date",),
    )
    out = q.postgres()
    assert "STRING_AGG(CAST(z AS TEXT), ',' ORDER BY z)" in out
    assert "CAST(CAST(%(start_date)s AS TIMESTAMP) AS DATE)" in out
