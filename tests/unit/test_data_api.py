"""The aws path: what the Redshift Data API client sends. botocore's Stubber checks every request
against the service model and the expected parameters (Redshift itself cannot run here; the SQL
and parameters sent are the thing under test)."""

from __future__ import annotations

import pytest

from taxilab.core.settings import load_settings
from taxilab.warehouse import queries
from taxilab.warehouse.data_api import DataApiClient, DataApiError, substitute_iam_role

ROLE = "arn:aws:iam::111122223333:role/prod-redshift-s3"


def settings(**kw):
    base = {
        "profile": "aws",
        "redshift_workgroup": "taxilab-wg",
        "redshift_database": "taxi",
        "redshift_secret_arn": "arn:aws:secretsmanager:us-east-1:111122223333:secret:rs-abc",
        "redshift_iam_role": ROLE,
        "redshift_statement_timeout_s": 5.0,
    }
    return load_settings(**{**base, **kw})


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now

    def sleep(self, s):
        self.now += s


def test_named_query_is_sent_as_its_file_text_with_string_parameters(stubbed):
    client, stub = stubbed
    q = (
        queries.load_query("top_pickup_zones")
        if "top_pickup_zones" in queries.list_names()
        else next(q for q in queries.all_queries() if q.params)
    )
    params = {p: "2024-02" if p == "month" else "10" for p in q.params}
    stub.add_response(
        "execute_statement",
        {"Id": "s-1"},
        {
            "Sql": q.sql,
            "WorkgroupName": "taxilab-wg",
            "Database": "taxi",
            "SecretArn": "arn:aws:secretsmanager:us-east-1:111122223333:secret:rs-abc",
            "Parameters": [{"name": p, "value": params[p]} for p in q.params],
        },
    )
    stub.add_response("describe_statement", {"Id": "s-1", "Status": "STARTED"}, {"Id": "s-1"})
    stub.add_response(
        "describe_statement",
        {"Id": "s-1", "Status": "FINISHED", "HasResultSet": True, "ResultRows": 2},
        {"Id": "s-1"},
    )
    stub.add_response(
        "get_statement_result",
        {
            "ColumnMetadata": [{"name": "zone"}, {"name": "trips"}],
            "Records": [[{"stringValue": "JFK"}, {"longValue": 7}]],
            "TotalNumRows": 2,
            "NextToken": "t2",
        },
        {"Id": "s-1"},
    )
    stub.add_response(
        "get_statement_result",
        {"Records": [[{"isNull": True}, {"longValue": 3}]], "TotalNumRows": 2},
        {"Id": "s-1", "NextToken": "t2"},
    )
    clock = FakeClock()
    res = DataApiClient(settings(), client=client, sleep=clock.sleep, clock=clock).run_named(q, params)
    assert res.columns == ["zone", "trips"] and res.rows == [("JFK", 7), (None, 3)]


def test_copy_goes_unchanged_except_the_iam_role_from_settings(stubbed):
    client, stub = stubbed
    copy = (
        "COPY taxi.fct_trips FROM 's3://taxilab-lake/staging/x/' IAM_ROLE 'arn:aws:iam::000000000000:role/lab' "
        "FORMAT AS PARQUET"
    )
    expected = copy.replace("arn:aws:iam::000000000000:role/lab", ROLE)
    stub.add_response(
        "execute_statement",
        {"Id": "s-2"},
        {
            "Sql": expected,
            "WorkgroupName": "taxilab-wg",
            "Database": "taxi",
            "SecretArn": "arn:aws:secretsmanager:us-east-1:111122223333:secret:rs-abc",
        },
    )
    stub.add_response(
        "describe_statement",
        {"Id": "s-2", "Status": "FINISHED", "HasResultSet": False, "ResultRows": 42},
        {"Id": "s-2"},
    )
    res = DataApiClient(settings(), client=client).execute(copy)
    assert res.rowcount == 42 and res.rows == []


def test_unload_iam_role_default_is_replaced_and_provisioned_cluster_uses_db_user(stubbed):
    client, stub = stubbed
    unload = "UNLOAD ('select 1') TO 's3://b/out/' IAM_ROLE default FORMAT AS PARQUET"
    stub.add_response(
        "execute_statement",
        {"Id": "s-3"},
        {
            "Sql": f"UNLOAD ('select 1') TO 's3://b/out/' IAM_ROLE '{ROLE}' FORMAT AS PARQUET",
            "ClusterIdentifier": "rs-1",
            "DbUser": "etl",
            "Database": "taxi",
        },
    )
    stub.add_response("describe_statement", {"Id": "s-3", "Status": "FINISHED"}, {"Id": "s-3"})
    s = settings(
        redshift_workgroup=None, redshift_cluster_id="rs-1", redshift_db_user="etl", redshift_secret_arn=None
    )
    DataApiClient(s, client=client).execute(unload)


def test_failed_statement_raises_with_redshift_error(stubbed):
    client, stub = stubbed
    stub.add_response("execute_statement", {"Id": "s-4"})
    stub.add_response(
        "describe_statement",
        {"Id": "s-4", "Status": "FAILED", "Error": 'ERROR: relation "taxi.nope" does not exist'},
    )
    with pytest.raises(DataApiError, match='s-4 FAILED: ERROR: relation "taxi.nope"'):
        DataApiClient(settings(), client=client).execute("SELECT * FROM taxi.nope")


def test_a_statement_that_never_finishes_is_cancelled_at_the_timeout(stubbed):
    client, stub = stubbed
    stub.add_response("execute_statement", {"Id": "s-5"})
    for _ in range(6):  # 5 s timeout, 1 s polls on a fake clock: never a real wait
        stub.add_response("describe_statement", {"Id": "s-5", "Status": "STARTED"}, {"Id": "s-5"})
    stub.add_response("cancel_statement", {"Status": True}, {"Id": "s-5"})
    clock = FakeClock()
    with pytest.raises(DataApiError, match="s-5 still STARTED after 5 s; cancelled"):
        DataApiClient(settings(), client=client, poll_interval=1.0, sleep=clock.sleep, clock=clock).execute(
            "SELECT 1"
        )


def test_missing_target_is_a_clear_error():
    with pytest.raises(DataApiError, match="TAXILAB_REDSHIFT_WORKGROUP"):
        DataApiClient(settings(redshift_workgroup=None), client=object())


def test_iam_role_substitution_leaves_other_sql_and_quoted_text_alone():
    assert substitute_iam_role("SELECT 'IAM_ROLE x'", ROLE) == "SELECT 'IAM_ROLE x'"
    sql = "COPY t FROM 's3://b/IAM_ROLE/' IAM_ROLE 'old' CSV"
    assert substitute_iam_role(sql, ROLE) == f"COPY t FROM 's3://b/IAM_ROLE/' IAM_ROLE '{ROLE}' CSV"
    assert substitute_iam_role(sql, None) == sql


# Run in a fresh interpreter: the aws profile's warehouse path, a named query and a COPY through
# sql_exec.run_statement against a Stubber'd redshift-data client, then every module of emulation/
# that got imported on the way (ADR 0012: none may be).
AWS_PATH_SCRIPT = r"""
import sys

import boto3
from botocore.stub import Stubber

from taxilab.core import clients
from taxilab.core.settings import load_settings
from taxilab.warehouse import queries
from taxilab.warehouse.data_api import DataApiClient
from taxilab.warehouse.sql_exec import run_statement

role = "arn:aws:iam::111122223333:role/prod-redshift-s3"
s = load_settings(redshift_workgroup="taxilab-wg", redshift_database="taxi", redshift_iam_role=role)
assert s.profile == "aws", s.profile
client = boto3.client("redshift-data", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="y")
q = next(q for q in queries.all_queries() if q.params)
params = {p: "2024-02" if p == "month" else "10" for p in q.params}
copy = "COPY taxi.dim_zone FROM 's3://b/zones.csv' IAM_ROLE 'arn:aws:iam::000000000000:role/lab' CSV"
with Stubber(client) as stub:
    stub.add_response("execute_statement", {"Id": "q"}, {
        "Sql": q.sql, "WorkgroupName": "taxilab-wg", "Database": "taxi",
        "Parameters": [{"name": p, "value": params[p]} for p in q.params]})
    stub.add_response("describe_statement", {"Id": "q", "Status": "FINISHED", "HasResultSet": True}, {"Id": "q"})
    stub.add_response("get_statement_result", {"ColumnMetadata": [{"name": "n"}], "Records": [[{"longValue": 7}]]},
                      {"Id": "q"})
    stub.add_response("execute_statement", {"Id": "c"}, {
        "Sql": copy.replace("arn:aws:iam::000000000000:role/lab", role), "WorkgroupName": "taxilab-wg", "Database": "taxi"})
    stub.add_response("describe_statement", {"Id": "c", "Status": "FINISHED", "ResultRows": 3}, {"Id": "c"})
    assert DataApiClient(s, client=client).run_named(q, params).rows == [(7,)]
    clients.client = lambda service, settings: client  # what run_statement's DataApiClient asks for
    assert run_statement(s, copy).rowcount == 3
    stub.assert_no_pending_responses()
print(sorted(m for m in sys.modules if m == "emulation" or m.startswith("emulation.")))
"""


def test_aws_path_imports_nothing_of_the_emulation():
    import ast
    import os
    import subprocess
    import sys

    from taxilab.core.settings import PROJECT_ROOT

    env = {k: v for k, v in os.environ.items() if not k.startswith("TAXILAB_")}
    env["TAXILAB_PROFILE"] = "aws"
    out = subprocess.run(
        [sys.executable, "-c", AWS_PATH_SCRIPT],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    assert ast.literal_eval(out.stdout.strip().splitlines()[-1]) == []
