"""The layout's promises (docs/adr/0012-layout-and-layers.md): on the aws profile nothing under emulation/
is imported, even when the product runs jobs and queries Redshift; the profile is looked at in one place."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

AWS_RUN = r"""
import json, sys
import boto3
from botocore.stub import ANY, Stubber

import taxilab.cli  # the whole command line, as `taxilab ... ` loads it
from taxilab import resources
from taxilab.core.runs import job_argv
from taxilab.core.settings import load_settings
from taxilab.orchestration.pipeline import Pipeline, PipelineOptions
from taxilab.validation import reconcile  # noqa: F401
from taxilab.warehouse import data_api, glue_job, queries, sql_load  # noqa: F401

s = load_settings(profile="aws", redshift_workgroup="taxilab-wg", redshift_database="dev",
                  redshift_secret_arn="arn:aws:secretsmanager:us-east-1:111122223333:secret:wh",
                  redshift_iam_role="arn:aws:iam::111122223333:role/wh")
Pipeline(PipelineOptions(month="2024-02"), settings=s)  # builds the aws resources
res = resources.for_settings(s)
glue = boto3.client("glue", region_name="us-east-1", aws_access_key_id="k", aws_secret_access_key="s")
stub = Stubber(glue)
stub.add_response("start_job_run", {"JobRunId": "jr_1"}, {"JobName": "taxilab-etl", "Arguments": ANY})
stub.add_response("get_job_run", {"JobRun": {"Id": "jr_1", "JobRunState": "SUCCEEDED", "ExecutionTime": 42}},
                  {"JobName": "taxilab-etl", "RunId": "jr_1"})
stub.activate()
res.jobs._glue, res.jobs.poll_s = glue, 0
out = res.jobs.run("etl", job_argv("etl", job_name="taxilab-etl", bucket="b", dataset="d", month="2024-02"))
stub.assert_no_pending_responses()
rd = boto3.client("redshift-data", region_name="us-east-1", aws_access_key_id="k", aws_secret_access_key="s")
rstub = Stubber(rd)
rstub.add_response("execute_statement", {"Id": "q1"}, {"WorkgroupName": "taxilab-wg", "Database": "dev",
                   "SecretArn": ANY, "Sql": "SELECT 1"})
rstub.add_response("describe_statement", {"Id": "q1", "Status": "FINISHED", "HasResultSet": True}, {"Id": "q1"})
rstub.add_response("get_statement_result", {"Records": [[{"longValue": 1}]], "TotalNumRows": 1,
                   "ColumnMetadata": [{"name": "one"}]}, {"Id": "q1"})
rstub.activate()
wh = resources.for_settings(s).warehouse
wh._client = rd
rows = wh.execute("SELECT 1").rows
print(json.dumps({"job": out["job_run_id"], "rows": rows, "kinds": [res.warehouse.kind, res.jobs.kind],
                  "emulation": sorted(m for m in sys.modules if m.split(".")[0] == "emulation")}))
"""


def test_on_the_aws_profile_nothing_under_emulation_is_imported():
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(ROOT),
        "TAXILAB_PROFILE": "aws",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    done = subprocess.run(
        [sys.executable, "-c", AWS_RUN], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["job"] == "jr_1" and out["rows"] == [[1]] and out["kinds"] == ["redshift", "aws-glue"]
    assert out["emulation"] == []


def test_the_profile_is_looked_at_only_in_settings_and_the_resource_seam():
    allowed = {ROOT / "taxilab" / "core" / "settings.py", ROOT / "taxilab" / "resources" / "__init__.py"}
    branch = re.compile(r"\.profile\s*(==|!=|in\b|not in\b)|profile\s*==\s*\"(local|compose|aws)\"")
    offenders = []
    for pkg in ("taxilab", "emulation", "spark_jobs", "dashboard"):
        for path in sorted((ROOT / pkg).rglob("*.py")) if (ROOT / pkg).exists() else []:
            if path in allowed:
                continue
            for n, line in enumerate(path.read_text().splitlines(), 1):
                if branch.search(line) and not line.lstrip().startswith("#"):
                    offenders.append(f"{path.relative_to(ROOT)}:{n}: {line.strip()}")
    assert offenders == [], "profile branches outside settings/resources:\n" + "\n".join(offenders)
