"""The warehouse_schema setting: the SQL files name `taxi`, and their tables are put in the configured schema
on sqlglot's AST where statements are prepared (emulation: dialect/engine; aws: the Data API client). Only a
table's (or fully qualified column's) schema changes: a string, a comment or a column named taxi stays."""

from __future__ import annotations

import pydantic
import pytest
import sqlglot
from sqlglot import exp

from emulation.redshift.dialect import to_postgres
from taxilab.core.redshift_sql import in_schema, in_schema_text
from taxilab.core.settings import Settings, check_schema, load_settings
from taxilab.warehouse import queries, sql_load
from taxilab.warehouse.data_api import DataApiClient, prepare

MIXED = (
    "SELECT taxi, t.taxi AS c, 'taxi.x' AS s, taxi.fct_trips.vendor_id -- taxi.fct_trips\n"
    'FROM taxi.fct_trips t JOIN "taxi".dim_zone z ON z.location_id = t.pu_location_id'
)


def _tables(sql_text: str) -> set[str]:
    return {exp.table_name(t) for t in sqlglot.parse_one(sql_text, read="postgres").find_all(exp.Table)}


def test_only_the_schema_of_tables_is_rewritten_in_the_text_sent_to_redshift():
    out = in_schema_text(MIXED, "taxi_alt")
    assert out == (
        "SELECT taxi, t.taxi AS c, 'taxi.x' AS s, \"taxi_alt\".fct_trips.vendor_id -- taxi.fct_trips\n"
        'FROM "taxi_alt".fct_trips t JOIN "taxi_alt".dim_zone z ON z.location_id = t.pu_location_id'
    )


def test_only_the_schema_of_tables_is_rewritten_on_the_ast_for_postgres():
    [out] = to_postgres(MIXED, "taxi_alt")
    tree = sqlglot.parse_one(out, read="postgres")
    assert _tables(out) == {"taxi_alt.fct_trips", "taxi_alt.dim_zone"}
    assert "'taxi.x'" in out
    columns = [c.sql() for c in tree.find_all(exp.Column)]
    assert "taxi" in columns and "t.taxi" in columns  # the column named taxi is not a schema


def test_the_canonical_schema_leaves_the_text_as_written():
    assert in_schema_text(MIXED, "taxi") == MIXED
    assert to_postgres(MIXED, "taxi") == to_postgres(MIXED)


def test_create_schema_and_copy_are_put_in_the_schema():
    script = (
        "create schema if not exists taxi;\n"
        "COPY taxi.dim_zone (location_id) FROM 's3://b/taxi.csv' IAM_ROLE 'arn:aws:iam::123456789012:role/r' CSV"
    )
    out = in_schema_text(script, "taxi_alt")
    assert out.startswith('create schema if not exists "taxi_alt";\nCOPY "taxi_alt".dim_zone (location_id)')
    assert "'s3://b/taxi.csv'" in out


def test_every_sql_file_translates_with_no_taxi_table_left():
    """Every DDL, load and analytics statement names its tables through the setting."""
    from taxilab.core.redshift_sql import ddl_files

    ddl = [s for f in ddl_files(sql_load.DDL_DIR) for s in to_postgres(f.read_text(), "taxi_alt")]
    named = [q.postgres("taxi_alt") for q in queries.all_queries()]
    named += [q.postgres("taxi_alt") for q in queries.all_queries(queries.VALIDATION_DIR)]
    assert ddl[0] == 'CREATE SCHEMA IF NOT EXISTS "taxi_alt"'
    for text in ddl + named:
        tree = sqlglot.parse_one(text.replace("%(", "(").replace(")s", ")"), read="postgres")
        schemas = {t.db for t in tree.find_all(exp.Table) if t.db}
        assert "taxi" not in schemas, text[:200]
    assert any("taxi_alt" in t for t in named)


@pytest.mark.parametrize(
    "bad", ["taxi;drop schema taxi", "Taxi", "", "a b", "pg_temp", "tàxi", '"taxi"', "x" * 64, "1taxi"]
)
def test_an_unsafe_schema_name_is_refused_naming_the_setting(bad):
    with pytest.raises(ValueError, match=r"warehouse_schema \(TAXILAB_WAREHOUSE_SCHEMA\)"):
        check_schema(bad)
    with pytest.raises(pydantic.ValidationError, match="TAXILAB_WAREHOUSE_SCHEMA"):
        Settings(warehouse_schema=bad)
    # A copy made without validation is still refused where the SQL is prepared.
    unchecked = load_settings().model_copy(update={"warehouse_schema": bad})
    with pytest.raises(ValueError, match="TAXILAB_WAREHOUSE_SCHEMA"):
        prepare("SELECT 1 FROM taxi.fct_trips", unchecked)
    with pytest.raises(ValueError, match="TAXILAB_WAREHOUSE_SCHEMA"):
        in_schema(sqlglot.parse_one("SELECT 1 FROM taxi.t"), bad)


def test_a_plain_schema_name_is_accepted():
    assert check_schema("taxi_alt") == "taxi_alt" == Settings(warehouse_schema="taxi_alt").warehouse_schema


def test_the_data_api_sends_the_statement_in_the_configured_schema(stubbed):
    client, stub = stubbed
    s = load_settings(
        profile="aws",
        redshift_workgroup="taxilab-wg",
        redshift_database="dev",
        warehouse_schema="taxi_alt",
    )
    q = queries.load_query("fct_trips_integrity", queries.VALIDATION_DIR)
    params = {p: "2021-11" for p in q.params}
    expected = in_schema_text(q.sql, "taxi_alt")
    assert "taxi_alt" in expected and expected != q.sql
    stub.add_response(
        "execute_statement",
        {"Id": "s-1"},
        {
            "Sql": expected,
            "WorkgroupName": "taxilab-wg",
            "Database": "dev",
            **({"Parameters": [{"name": p, "value": v} for p, v in params.items()]} if params else {}),
        },
    )
    stub.add_response("describe_statement", {"Id": "s-1", "Status": "FINISHED"}, {"Id": "s-1"})
    DataApiClient(s, client=client).run_named(q, params)


def test_the_aws_load_batch_is_in_the_configured_schema():
    s = load_settings(warehouse_schema="taxi_alt")
    script = sql_load.month_script(s, "2021-11")
    sent = [prepare(st.sql, s) for st in script]
    for text in sent:
        tree = sqlglot.parse_one(text, read="redshift")
        assert {t.db for t in tree.find_all(exp.Table) if t.db} <= {
            "taxi_alt",
            "lake_staging",
            "lake_curated",
        }
