"""DATEDIFF and LISTAGG written in Redshift's dialect, run through redshift.execute (guard + translation)
on the lab's PostgreSQL: exact results at the boundaries Redshift counts."""

from __future__ import annotations

import pytest

from emulation.redshift import engine as redshift

# (part, start, end, Redshift's answer: the number of `part` boundaries crossed from start to end)
CASES = [
    ("day", "2024-01-01 23:59:59", "2024-01-02 00:00:00", 1),
    ("day", "2024-01-01 00:00:00", "2024-01-01 23:59:59", 0),
    ("day", "2024-01-02 00:00:00", "2024-01-01 23:59:59", -1),
    ("day", "2024-02-28 12:00:00", "2024-03-01 01:00:00", 2),  # leap year
    ("hour", "2024-01-01 10:59:59", "2024-01-01 11:00:00", 1),
    ("hour", "2024-01-01 10:00:00", "2024-01-01 10:59:59", 0),
    ("hour", "2024-01-01 23:30:00", "2024-01-02 00:10:00", 1),
    ("hour", "2024-01-01 11:00:00", "2024-01-01 10:59:59", -1),
    ("hour", "2024-01-01 00:00:00", "2024-01-03 00:00:00", 48),
    ("minute", "2024-01-01 10:00:59", "2024-01-01 10:01:00", 1),
    ("minute", "2024-01-01 10:00:00", "2024-01-01 10:00:59.999", 0),
    ("second", "2024-01-01 10:00:00.999", "2024-01-01 10:00:01", 1),
    ("second", "2024-01-01 10:00:01", "2024-01-01 10:00:01.999", 0),
    ("millisecond", "2024-01-01 10:00:00.000999", "2024-01-01 10:00:00.001", 1),
    ("microsecond", "2024-01-01 10:00:00", "2024-01-01 10:00:00.000007", 7),
    ("week", "2024-01-07 23:00:00", "2024-01-08 01:00:00", 1),  # Sunday -> Monday
    ("week", "2024-01-08 00:00:00", "2024-01-14 23:59:59", 0),  # Monday -> Sunday
    ("week", "2009-01-01 00:00:00", "2009-12-31 00:00:00", 52),  # Redshift's documented example
    ("month", "2024-01-31 23:00:00", "2024-02-01 00:00:00", 1),
    ("month", "2024-01-01 00:00:00", "2024-01-31 23:59:59", 0),
    ("month", "2024-03-15 00:00:00", "2023-03-15 00:00:00", -12),
    ("qtr", "2024-03-31 00:00:00", "2024-04-01 00:00:00", 1),
    ("quarter", "2023-12-31 00:00:00", "2024-01-01 00:00:00", 1),
    ("quarter", "2024-01-01 00:00:00", "2024-03-31 00:00:00", 0),
    ("year", "2023-12-31 23:59:59", "2024-01-01 00:00:00", 1),
    ("year", "2024-01-01 00:00:00", "2024-12-31 23:59:59", 0),
]


@pytest.mark.parametrize(("part", "start", "end", "expected"), CASES)
def test_datediff_counts_boundaries_crossed_like_redshift(pg, lab_settings, part, start, end, expected):
    res = redshift.execute(
        pg, lab_settings, f"SELECT DATEDIFF({part}, '{start}'::timestamp, '{end}'::timestamp) AS d"
    )
    assert res.rows == [(expected,)]


def test_datediff_on_dates_and_quoted_part(pg, lab_settings):
    res = redshift.execute(
        pg,
        lab_settings,
        "SELECT DATEDIFF('day', DATE '2024-01-01', DATE '2024-03-01'), "
        "DATEDIFF(month, DATE '2024-01-31', '2024-02-01 00:00:01'::timestamp)",
    )
    assert res.rows == [(60, 1)]


@pytest.fixture()
def items(pg, lab_settings):
    redshift.execute(pg, lab_settings, "DROP TABLE IF EXISTS public.it_listagg")
    redshift.execute(
        pg, lab_settings, "CREATE TABLE public.it_listagg (g INTEGER, x INTEGER, y VARCHAR(4)) DISTSTYLE EVEN"
    )
    redshift.execute(
        pg,
        lab_settings,
        "INSERT INTO public.it_listagg VALUES (1, 30, 'a'), (1, 10, 'c'), (1, 20, 'b'), "
        "(1, 20, 'd'), (2, 5, 'z'), (2, NULL, 'y')",
    )
    yield
    redshift.execute(pg, lab_settings, "DROP TABLE public.it_listagg")


def test_listagg_within_group_runs_on_postgres_in_order(pg, lab_settings, items):
    res = redshift.execute(
        pg,
        lab_settings,
        "SELECT g, LISTAGG(x, ',') WITHIN GROUP (ORDER BY y) AS xs, "
        "LISTAGG(y, '|') WITHIN GROUP (ORDER BY x DESC, y) AS ys "
        "FROM public.it_listagg GROUP BY g ORDER BY g",
    )
    # NULL values are skipped, as Redshift's LISTAGG does.
    assert res.rows == [(1, "30,20,10,20", "a|b|d|c"), (2, "5", "y|z")]


def test_listagg_distinct_and_without_delimiter(pg, lab_settings, items):
    res = redshift.execute(
        pg,
        lab_settings,
        "SELECT LISTAGG(DISTINCT x, ';') WITHIN GROUP (ORDER BY x), "
        "LISTAGG(y) WITHIN GROUP (ORDER BY y) FROM public.it_listagg WHERE g = 1",
    )
    assert res.rows == [("10;20;30", "abcd")]
