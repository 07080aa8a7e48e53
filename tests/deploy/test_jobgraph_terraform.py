"""The Glue jobs, crawlers, triggers and workflow Terraform creates are the ones the lab declares: the job
graph module (deploy_aws/modules/jobgraph, pure expressions, no provider) is evaluated by a real terraform
binary and compared, field by field, with taxilab.core.jobgraph.to_aws over the same file, the lab's own
translation into boto3 Glue create_* calls."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from taxilab.core import jobgraph
from taxilab.core.settings import Settings
from tests.deploy import tf

ROLE = "arn:aws:iam::123456789012:role/taxilab-glue"


def evaluate(tmp: Path, jobgraph_file: Path, settings: Settings, scripts_prefix: str = "scripts") -> dict:
    """`terraform apply` of a root that only calls the job graph module (outputs only: no provider, offline)."""
    exe = tf.terraform_binary()
    if exe is None:
        pytest.skip(
            "terraform binary absent: the job graph module is checked on GitHub (deploy-aws.yml) only"
        )
    root = tmp / "root"
    root.mkdir()
    (root / "main.tf").write_text(
        f"""
module "jobgraph" {{
  source            = "{(tf.DEPLOY / "modules" / "jobgraph").as_posix()}"
  jobgraph_file     = "{jobgraph_file.as_posix()}"
  bucket            = "{settings.bucket}"
  dataset           = "{settings.dataset}"
  catalog_databases = {json.dumps(settings.catalog_databases)}
  scripts_prefix    = "{scripts_prefix}"
}}
output "graph" {{
  value = module.jobgraph
}}
""".replace('": "', '" = "').replace('", "', '", "')
    )
    env = tf.terraform_env()
    for cmd in (
        [exe, "init", "-input=false", "-no-color"],
        [exe, "apply", "-auto-approve", "-input=false", "-no-color"],
    ):
        r = tf.run(cmd, cwd=root, env=env)
        assert r.returncode == 0, f"{' '.join(cmd[1:2])} failed:\n{r.stdout}\n{r.stderr}"
    r = tf.run([exe, "output", "-json", "graph"], cwd=root, env=env)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def as_boto(out: dict) -> dict:
    """The module's outputs as the boto3 kwargs the Terraform resources amount to (modules/jobs, modules/catalog)."""
    jobs = []
    for j in out["jobs"].values():
        kw = {
            "Name": j["name"],
            "Role": ROLE,
            "Command": {
                "Name": j["command"],
                "PythonVersion": j["python_version"],
                "ScriptLocation": j["script_location"],
            },
            "GlueVersion": j["glue_version"],
        }
        if j["command"] == "pythonshell":
            kw["MaxCapacity"] = float(j["max_capacity"])
        else:
            kw |= {"WorkerType": j["worker_type"], "NumberOfWorkers": int(j["workers"])}
        kw |= {
            "DefaultArguments": j["default_arguments"],
            "Timeout": j["timeout"],
            "MaxRetries": j["max_retries"],
            "ExecutionProperty": {"MaxConcurrentRuns": 1},
        }
        jobs.append(kw)
    crawlers = [
        {
            "Name": c["name"],
            "DatabaseName": c["database"],
            "Targets": {"S3Targets": [{"Path": c["path"], "Exclusions": c["exclusions"]}]},
            "SchemaChangePolicy": {
                "UpdateBehavior": c["update_behavior"],
                "DeleteBehavior": c["delete_behavior"],
            },
        }
        for c in out["crawlers"].values()
    ]
    wf = out["workflow"]
    triggers = []
    for t in out["triggers"].values():
        kw = {"Name": t["name"], "WorkflowName": wf["name"], "Type": t["type"]}
        if t["type"] == "CONDITIONAL":
            conds = [
                {"LogicalOperator": "EQUALS", "State": c["state"], "JobName": c["job_name"]}
                if c["job_name"]
                else {
                    "LogicalOperator": "EQUALS",
                    "CrawlState": c["crawl_state"],
                    "CrawlerName": c["crawler_name"],
                }
                for c in t["conditions"]
            ]
            kw["Predicate"] = {"Logical": t["logical"], "Conditions": conds}
            kw["StartOnCreation"] = t["start_on_creation"]
        elif t["type"] == "SCHEDULED":
            kw["Schedule"] = t["schedule"]
            kw["StartOnCreation"] = t["start_on_creation"]
        kw["Actions"] = [
            {"JobName": a["job_name"]} if a["job_name"] else {"CrawlerName": a["crawler_name"]}
            for a in t["actions"]
        ]
        triggers.append(kw)
    return {
        "jobs": jobs,
        "crawlers": crawlers,
        "workflow": {
            "Name": wf["name"],
            "Description": wf["description"],
            "MaxConcurrentRuns": wf["max_concurrent_runs"],
        },
        "triggers": triggers,
    }


def lab_view(graph_file: Path, settings: Settings, scripts_prefix: str = "scripts") -> dict:
    d = jobgraph.Definitions(json.loads(graph_file.read_text()), graph_file)
    kw = jobgraph.to_aws(d, settings, ROLE, scripts_prefix)
    kw["crawlers"] = [
        {k: c[k] for k in ("Name", "DatabaseName", "Targets", "SchemaChangePolicy")} for c in kw["crawlers"]
    ]
    return kw


def by_name(items: list[dict]) -> dict:
    return {i["Name"]: i for i in items}


def assert_same(tf_kw: dict, lab_kw: dict) -> None:
    for kind in ("jobs", "crawlers", "triggers"):
        assert sorted(by_name(tf_kw[kind])) == sorted(by_name(lab_kw[kind])), kind
        for name, lab in by_name(lab_kw[kind]).items():
            assert by_name(tf_kw[kind])[name] == lab, f"{kind} {name}"
    assert tf_kw["workflow"] == lab_kw["workflow"]


def test_terraform_creates_exactly_the_declared_jobs_crawlers_triggers_and_workflow(tmp_path):
    settings = Settings()
    out = evaluate(tmp_path, jobgraph.DEFINITIONS, settings)
    assert_same(as_boto(out), lab_view(jobgraph.DEFINITIONS, settings))
    declared = json.loads(jobgraph.DEFINITIONS.read_text())
    assert sorted(j["name"] for j in declared["jobs"]) == sorted(
        out["jobs"]
    )  # every declared job, nothing else
    etl = out["jobs"]["taxilab-etl"]
    assert (
        etl["default_arguments"]["--job-bookmark-option"] == "job-bookmark-enable"
        and etl["glue_version"] == "5.0"
    )
    assert out["wheel_urls"] == [f"s3://{settings.bucket}/scripts/taxilab-0.1.0-py3-none-any.whl"]


def test_a_changed_declaration_changes_what_terraform_creates(tmp_path):
    """Edit the declaration (a new pythonshell job, a new schedule, another bucket): Terraform follows."""
    graph = json.loads(jobgraph.DEFINITIONS.read_text())
    graph["jobs"].append(
        {
            "name": "taxilab-notify",
            "local": "notify",
            "script": "ops/notify.py",
            "command": "pythonshell",
            "python_version": "3.9",
            "max_capacity": 0.0625,
            "timeout_minutes": 5,
            "max_retries": 0,
            "arguments": {"--bucket": "${bucket}", "--month": "${month}"},
        }
    )
    graph["workflow"]["triggers"][0]["schedule"] = "cron(0 6 1 * ? *)"
    graph["crawlers"][0]["schema_change_policy"] = {"UpdateBehavior": "LOG"}  # DeleteBehavior: Glue's default
    changed = tmp_path / "jobgraph.json"
    changed.write_text(json.dumps(graph))
    settings = Settings(bucket="other-lake", dataset="other_set")
    out = evaluate(tmp_path, changed, settings, scripts_prefix="code")
    assert_same(as_boto(out), lab_view(changed, settings, scripts_prefix="code"))
    notify = out["jobs"]["taxilab-notify"]
    assert (notify["command"], notify["glue_version"], notify["max_capacity"]) == (
        "pythonshell",
        "3.0",
        0.0625,
    )
    assert "--job-bookmark-option" not in notify["default_arguments"]
    assert out["triggers"]["taxilab-start"]["schedule"] == "cron(0 6 1 * ? *)"
    assert out["jobs"]["taxilab-etl"]["default_arguments"]["--bucket"] == "other-lake"
    crawler = out["crawlers"]["taxilab-crawler-raw"]
    assert (crawler["update_behavior"], crawler["delete_behavior"]) == ("LOG", "DELETE_FROM_DATABASE")


def test_comparison_catches_a_difference(tmp_path):
    settings = Settings()
    tf_kw = as_boto(evaluate(tmp_path, jobgraph.DEFINITIONS, settings))
    lab_kw = lab_view(jobgraph.DEFINITIONS, settings)
    tf_kw["jobs"][0]["DefaultArguments"] = {**tf_kw["jobs"][0]["DefaultArguments"], "--month": "2024-01"}
    with pytest.raises(AssertionError):
        assert_same(tf_kw, lab_kw)


def test_catalog_crawlers_take_the_declared_schema_change_policy_and_the_labs_recrawl_policy():
    lab = jobgraph.to_aws(jobgraph.load(), Settings(), ROLE, "scripts")["crawlers"][0]
    (crawler,) = tf.resources(tf.DEPLOY / "modules" / "catalog", "aws_glue_crawler").values()
    scp = tf.strip(crawler["schema_change_policy"][0])
    assert (scp["update_behavior"], scp["delete_behavior"]) == (
        "each.value.update_behavior",
        "each.value.delete_behavior",
    )
    assert {"RecrawlBehavior": tf.strip(crawler["recrawl_policy"][0]["recrawl_behavior"])} == lab[
        "RecrawlPolicy"
    ]
