"""The dialect guard: SQL PostgreSQL accepts but Redshift rejects fails with the construct named;
Redshift's own spellings (and every SQL file of the repo) pass."""

from __future__ import annotations

from pathlib import Path

import pytest

from emulation.redshift import guard
from taxilab.warehouse import queries

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("sql", "named"),
    [
        ("SELECT STRING_AGG(pu_zone, ',') FROM taxi.fct_trips", "function STRING_AGG()"),
        ("SELECT array_agg(x) FROM t", "function ARRAY_AGG()"),
        ("SELECT g FROM generate_series(1, 3) g", "function GENERATE_SERIES()"),
        ("SELECT DISTINCT ON (pu_location_id) pu_location_id FROM taxi.fct_trips", "DISTINCT ON"),
        ("SELECT count(*) FILTER (WHERE tip_amount > 0) FROM taxi.fct_trips", "FILTER (WHERE ...)"),
        ("SELECT CAST(x AS JSONB) FROM t", "type JSONB"),
        ("SELECT x::uuid FROM t", "type UUID"),
        ("CREATE TABLE t (id SERIAL, tags INT[])", "type SERIAL"),
        ("CREATE TABLE t (id INT, tags INT[])", "type ARRAY"),
        ("INSERT INTO t VALUES (1) ON CONFLICT DO NOTHING", "ON CONFLICT"),
        ("INSERT INTO t VALUES (1) RETURNING id", "RETURNING"),
        ("SELECT * FROM t, LATERAL (SELECT 1) s", "LATERAL"),
        ("SELECT ARRAY[1, 2]", "ARRAY[...]"),
    ],
)
def test_postgres_only_construct_fails_naming_it(sql, named):
    with pytest.raises(guard.RedshiftDialectError, match="my_query.sql") as e:
        guard.check(sql, source="my_query.sql")
    assert named in str(e.value)


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT LISTAGG(pu_zone, ',') WITHIN GROUP (ORDER BY pu_zone) FROM taxi.fct_trips",
        "SELECT SUM(CASE WHEN tip_amount > 0 THEN 1 ELSE 0 END) FROM taxi.fct_trips",
        "CREATE TABLE t (id BIGINT IDENTITY(1,1), doc SUPER) DISTSTYLE ALL SORTKEY (id)",
        "SELECT DATEADD(month, 1, TO_DATE('2024-02', 'YYYY-MM')), NVL(a, 0) FROM t",
        # a column or alias that shares a function's name is not a call
        "SELECT age FROM t",
    ],
)
def test_redshift_sql_passes(sql):
    assert guard.violations(sql) == []


def test_every_sql_file_in_the_repo_passes_the_guard():
    files = sorted((ROOT / "sql").rglob("*.sql"))
    assert len(files) > 25
    for f in files:
        assert guard.violations(f.read_text()) == [], f


def test_every_analytics_query_translates_with_bound_parameters():
    for q in queries.all_queries():
        text = q.postgres()
        assert ":" + (q.params[0] if q.params else "x") not in text
        for p in q.params:
            assert f"%({p})s" in text, (q.name, p)


def test_guard_table_rows_are_well_formed(tmp_path):
    bad = tmp_path / "guard.csv"
    bad.write_text("kind,construct,redshift_says\nsyntax,MERGE INTO,whatever\n")
    with pytest.raises(ValueError, match="line 2: no matcher for syntax 'MERGE INTO'"):
        guard.load_rules(bad)
