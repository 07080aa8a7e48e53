"""The aws warehouse load: the SQL of sql/load rendered for a month and what goes to Redshift through the
Data API. botocore's Stubber checks every request against the service model and the exact expected
parameters (Redshift cannot run here: the statements, their order, the one transaction, the IAM role
and the rendered values are the thing under test; tests/integration/test_warehouse_sql_load.py runs the
same statements on the lab's emulation)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from emulation.redshift import guard
from spark_jobs.schemas.contracts import AIRPORT_ZONES, CURATED, PAYMENT_TYPES, STAGING_COLUMNS
from taxilab import resources
from taxilab.core.settings import load_settings
from taxilab.warehouse import loader, sql_load
from taxilab.warehouse.aggregates_wh import AGG_TABLES, load_statements
from taxilab.warehouse.data_api import DataApiClient, DataApiError
from taxilab.warehouse.dims import RATE_CODES

ROLE = "arn:aws:iam::111122223333:role/prod-redshift-spectrum"
SECRET = "arn:aws:secretsmanager:us-east-1:111122223333:secret:rs-abc"
TARGET = {"WorkgroupName": "taxilab-wg", "Database": "taxi", "SecretArn": SECRET}


def aws(**kw):
    base = {
        "profile": "aws",
        "bucket": "prod-lake",
        "redshift_workgroup": "taxilab-wg",
        "redshift_database": "taxi",
        "redshift_secret_arn": SECRET,
        "redshift_iam_role": ROLE,
        "redshift_statement_timeout_s": 5.0,
        "catalog_databases": {
            "raw": "p_raw",
            "staging": "p_staging",
            "quarantine": "p_q",
            "curated": "p_curated",
        },
    }
    return load_settings(**{**base, **kw})


def finished(stub, sid: str, rows: list[int] | None = None) -> None:
    """describe_statement FINISHED for `sid`; with rows, a batch whose sub-statements affected them."""
    desc = {"Id": sid, "Status": "FINISHED"}
    if rows is not None:
        desc["SubStatements"] = [
            {"Id": f"{sid}:{i + 1}", "Status": "FINISHED", "ResultRows": n} for i, n in enumerate(rows)
        ]
    stub.add_response("describe_statement", desc, {"Id": sid})


# ---------------------------------------------------------------------------------- the script


def test_month_script_replaces_every_table_from_the_lake_in_file_order():
    script = sql_load.month_script(aws(), "2024-02")
    order = [(st.kind, st.table) for st in script]
    loaded = ["taxi.fct_trips", *(f"taxi.{t}" for t in CURATED)]
    for table in loaded:  # each table: its month deleted, then inserted from Spectrum
        assert order.index(("DELETE", table)) + 1 == order.index(("INSERT", table)), table
    assert order[:2] == [("DELETE", "taxi.fct_trips"), ("INSERT", "taxi.fct_trips")]
    inserts = [t for k, t in order if k == "INSERT"]
    assert inserts[-len(AGG_TABLES) :] == [f"taxi.{t}" for t in AGG_TABLES]  # after the facts
    assert ("COPY", "taxi.dim_zone") in order and len(script) <= 40  # one Data API batch


def test_month_values_are_rendered_as_literals_and_nothing_else_changes():
    s = aws()
    fct = sql_load.month_script(s, "2024-02")[1].sql
    assert (
        "FROM lake_staging.nyc_taxi\nWHERE pickup_date >= TO_DATE('2024-02', 'YYYY-MM')\n"
        "  AND pickup_date < DATEADD(month, 1, TO_DATE('2024-02', 'YYYY-MM'))" in fct
    )
    assert ":" not in fct  # no placeholder left
    cols = [c for c, _ in STAGING_COLUMNS]
    # every staging column by name, the Hive partition columns included (Spectrum reads them from folders)
    assert fct.split("SELECT")[1].split("FROM")[0].replace("\n", " ").split(",")[-1].strip() == cols[-1]
    assert all(c in fct for c in cols)
    [copy] = [st.sql for st in sql_load.month_script(s, "2024-02") if st.kind == "COPY"]
    assert copy == (
        "COPY taxi.dim_zone (location_id, borough, zone, service_zone)\n"
        "FROM 's3://prod-lake/reference/taxi_zone_lookup/taxi_zone_lookup.csv'\n"
        f"IAM_ROLE '{ROLE}'\nCSV IGNOREHEADER 1"
    )


def test_a_month_a_quote_or_an_unknown_placeholder_never_reaches_the_sql():
    for bad in ("2024-2", "2024-13", "2024-02'; DROP TABLE taxi.fct_trips; --", "2024-02 "):
        with pytest.raises(sql_load.SqlLoadError, match="YYYY-MM"):
            sql_load.month_script(aws(), bad)
    with pytest.raises(sql_load.SqlLoadError, match="IAM role ARN"):
        sql_load.month_script(aws(redshift_iam_role="arn:aws:iam::1:role/x' --"), "2024-02")
    with pytest.raises(sql_load.SqlLoadError, match="TAXILAB_REDSHIFT_IAM_ROLE"):
        sql_load.run_aws(aws(redshift_iam_role=None), "2024-02", client=object())
    with pytest.raises(sql_load.SqlLoadError, match=":nope has no value"):
        sql_load.render("SELECT :nope", {"month": "2024-02"})
    # strings, comments and casts are not placeholders; a quote in a value is escaped
    text = "SELECT ':month', x::int, :month -- :month\n FROM lake_staging.nyc_taxi"
    assert (
        sql_load.render(text, {"month": "it's"}, "yellow")
        == "SELECT ':month', x::int, 'it''s' -- :month\n FROM lake_staging.yellow"
    )


def test_load_sql_passes_the_dialect_guard_and_matches_the_python_code_tables():
    for st in sql_load.month_script(aws(), "2024-02"):
        if st.kind != "COPY":
            assert guard.violations(st.sql) == [], st.source
    text = {
        st.table: st.sql for st in sql_load.month_script(aws(), "2024-02") if st.kind in ("INSERT", "UPDATE")
    }
    for code, name in PAYMENT_TYPES.items():
        assert f"({code}, '{name}')" in text["taxi.dim_payment_type"]
    for code, name in RATE_CODES.items():
        assert f"({code}, '{name}')" in text["taxi.dim_rate_code"]
    assert f"location_id IN ({', '.join(map(str, AIRPORT_ZONES))})" in text["taxi.dim_zone"]


def test_the_native_pre_aggregate_build_reads_only_the_agg_files():
    assert sorted({q.name.split("#")[0] for q in load_statements()}) == [
        "040_agg_trips_daily",
        "041_agg_trips_zone_pair",
        "042_agg_trips_hourly_profile",
        "043_agg_trip_speed_distribution",
        "044_agg_cbd_fee_daily",
    ]


def test_external_schemas_map_the_crawled_glue_databases_with_the_role():
    assert sql_load.external_schema_statements(aws()) == [
        f"CREATE EXTERNAL SCHEMA IF NOT EXISTS lake_staging FROM DATA CATALOG DATABASE 'p_staging' IAM_ROLE '{ROLE}'",
        f"CREATE EXTERNAL SCHEMA IF NOT EXISTS lake_curated FROM DATA CATALOG DATABASE 'p_curated' IAM_ROLE '{ROLE}'",
    ]


# ---------------------------------------------------------------------------------- the Data API


def test_aws_load_sends_ddl_then_external_schemas_then_the_month_as_one_batch(stubbed):
    client, stub = stubbed
    s = aws()
    script = sql_load.month_script(s, "2024-03")
    ddl = sql_load.ddl_statements()
    stub.add_response("batch_execute_statement", {"Id": "ddl"}, {**TARGET, "Sqls": ddl})
    finished(stub, "ddl", [0] * len(ddl))
    for i, statement in enumerate(sql_load.external_schema_statements(s)):
        stub.add_response("execute_statement", {"Id": f"es{i}"}, {**TARGET, "Sql": statement})
        finished(stub, f"es{i}")
    # The month: every statement, in order, in ONE BatchExecuteStatement (Redshift runs it as one transaction).
    stub.add_response(
        "batch_execute_statement", {"Id": "month"}, {**TARGET, "Sqls": [st.sql for st in script]}
    )
    rows = [{"INSERT": 7, "COPY": 265}.get(st.kind, 3) for st in script]
    stub.add_response("describe_statement", {"Id": "month", "Status": "STARTED"}, {"Id": "month"})
    finished(stub, "month", rows)
    res = sql_load.run_aws(s, "2024-03", client=client)
    assert res["tables"]["fct_trips"] == {"rows": 7} and res["dims"]["dim_zone"] == 265
    assert res["aggregates"]["rows"] == {t: 7 for t in AGG_TABLES} and res["statements"] == len(script)


def test_a_failed_statement_fails_the_whole_batch_naming_it(stubbed):
    client, stub = stubbed
    stub.add_response("batch_execute_statement", {"Id": "b1"})
    stub.add_response(
        "describe_statement",
        {
            "Id": "b1",
            "Status": "FAILED",
            "Error": "batch failed",
            "SubStatements": [
                {"Id": "b1:1", "Status": "FINISHED", "QueryString": "DELETE FROM taxi.fct_trips"},
                {
                    "Id": "b1:2",
                    "Status": "FAILED",
                    "QueryString": "COPY taxi.dim_zone FROM 's3://x'",
                    "Error": "ERROR: S3ServiceException: Access Denied",
                },
            ],
        },
        {"Id": "b1"},
    )
    with pytest.raises(
        DataApiError,
        match=r"b1 FAILED: ERROR: S3ServiceException: Access Denied .*rolled back; "
        r"statement b1:2: COPY taxi.dim_zone",
    ):
        DataApiClient(aws(), client=client).execute_batch(
            ["DELETE FROM taxi.fct_trips", "COPY taxi.dim_zone ..."]
        )


def test_a_batch_too_big_for_one_transaction_is_refused_before_sending():
    with pytest.raises(DataApiError, match="at most 40"):
        DataApiClient(aws(), client=object()).execute_batch(["SELECT 1"] * 41)


def test_warehouse_stats_on_aws_is_one_query_through_the_data_api(stubbed, monkeypatch):
    client, stub = stubbed
    s = aws()
    stub.add_response("execute_statement", {"Id": "q"}, {**TARGET, "Sql": sql_load.stats_sql(s, "2024-02")})
    stub.add_response(
        "describe_statement", {"Id": "q", "Status": "FINISHED", "HasResultSet": True}, {"Id": "q"}
    )
    records = [[{"stringValue": "fct_trips"}, {"longValue": 3}, {"isNull": True}, {"stringValue": "40.10"}]]
    records += [
        [{"stringValue": t}, {"longValue": 1}, {"longValue": 3}, {"stringValue": "40.1"}] for t in CURATED
    ]
    stub.add_response("get_statement_result", {"Records": records, "TotalNumRows": len(records)}, {"Id": "q"})
    monkeypatch.setattr("taxilab.core.clients.client", lambda service, settings: client)
    stats = resources.warehouse(s).stats("2024-02")
    assert stats["fct_trips"] == {"rows": 3, "total_amount": Decimal("40.10")}
    assert stats["daily_summary"] == {"rows": 1, "trip_count": 3, "total_revenue": Decimal("40.10")}
    assert guard.violations(sql_load.stats_sql(s, "2024-02")) == []


def test_the_aws_warehouse_is_redshift_and_refuses_the_native_copy_path():
    wh = resources.warehouse(aws())
    assert wh.kind == "redshift"
    with pytest.raises(loader.WarehouseUnavailable, match="COPY FROM STDIN"):
        wh.load_month("2024-02", path="native")
    assert resources.warehouse(load_settings(profile="local")).kind == "postgres"


def test_the_glue_load_job_on_aws_loads_the_month_through_the_data_api(stubbed, monkeypatch):
    """glue_load.main as the Glue job runs it: aws settings from job arguments, no refusal, the month in one
    batch, then the reconciliation figures read back through the Data API."""
    from taxilab.warehouse import glue_job as glue_load

    client, stub = stubbed
    s = aws()
    ddl, script = sql_load.ddl_statements(), sql_load.month_script(s, "2024-02")
    stub.add_response("batch_execute_statement", {"Id": "ddl"}, {**TARGET, "Sqls": ddl})
    finished(stub, "ddl", [0] * len(ddl))
    for i, statement in enumerate(sql_load.external_schema_statements(s)):
        stub.add_response("execute_statement", {"Id": f"es{i}"}, {**TARGET, "Sql": statement})
        finished(stub, f"es{i}")
    stub.add_response(
        "batch_execute_statement", {"Id": "month"}, {**TARGET, "Sqls": [st.sql for st in script]}
    )
    finished(stub, "month", [2 if st.kind == "INSERT" else 0 for st in script])
    stub.add_response("execute_statement", {"Id": "q"}, {**TARGET, "Sql": sql_load.stats_sql(s, "2024-02")})
    stub.add_response(
        "describe_statement", {"Id": "q", "Status": "FINISHED", "HasResultSet": True}, {"Id": "q"}
    )
    records = [[{"stringValue": "fct_trips"}, {"longValue": 2}, {"isNull": True}, {"stringValue": "20.00"}]]
    records += [
        [{"stringValue": t}, {"longValue": 2}, {"longValue": 2}, {"stringValue": "20.00"}] for t in CURATED
    ]
    stub.add_response("get_statement_result", {"Records": records}, {"Id": "q"})
    monkeypatch.setattr("taxilab.core.clients.client", lambda service, settings: client)

    local = s.model_copy(update={"profile": "local", "redshift_workgroup": None, "redshift_iam_role": None})
    argv = [
        "glue_load.py",
        "--JOB_NAME",
        "taxilab-load-warehouse",
        "--bucket",
        "prod-lake",
        "--dataset",
        "nyc_taxi",
        "--month",
        "2024-02",
        "--step",
        "load",
        "--profile",
        "aws",
        "--redshift_workgroup",
        "taxilab-wg",
        "--redshift_iam_role",
        ROLE,
    ]
    res = glue_load.main(argv, local)
    assert res["path"] == "sql" and res["rows_in"] == 2 * (1 + len(CURATED)) and res["rows_loaded"] == 12
    with pytest.raises(glue_load.GlueLoadError, match="--profile: profile must be one of"):
        glue_load.main([*argv[:-6], "--profile", "prod"], local)
