"""deploy_aws/ read as HCL (python-hcl2): names equal the settings', every lake prefix has a lifecycle rule
with an explicit filter, resources are created from the lab's declarations (job graph, alarms), every
role's policy is the JSON file the least-privilege test proves, no wildcard outside the named exceptions."""

from __future__ import annotations

import json
import re

import pytest

from spark_jobs.io import paths
from taxilab.core.settings import Settings
from tests.deploy import tf

SETTINGS = Settings(_env_file=None) if "_env_file" in Settings.model_config else Settings()


def var_default(name: str):
    return tf.strip(tf.named(tf.DEPLOY, "variable")[name]["default"])


# ---- one set of names ------------------------------------------------------------------------------------
def test_terraform_names_equal_the_settings_names():
    s = Settings()
    assert var_default("bucket") == s.bucket
    assert var_default("dataset") == s.dataset
    assert var_default("catalog_databases") == s.catalog_databases
    assert var_default("warehouse_schema") == s.warehouse_schema
    assert var_default("region") == s.region
    assert var_default("redshift_database") == s.redshift_database


def test_every_lake_prefix_the_lab_uses_has_a_lifecycle_rule():
    lab_prefixes = {
        paths.RAW,
        paths.STAGING,
        paths.QUARANTINE,
        paths.CURATED,
        paths.REFERENCE,
        var_default("scripts_prefix"),
    }
    assert set(var_default("zone_lifecycle")) == lab_prefixes
    # ... and the root hands exactly that map to the lake module, whose rules are one per key with a prefix filter
    assert tf.strip(tf.named(tf.DEPLOY, "module")["lake"]["zone_lifecycle"]) == "var.zone_lifecycle"
    (lifecycle,) = tf.resources(
        tf.DEPLOY / "modules" / "lake", "aws_s3_bucket_lifecycle_configuration"
    ).values()
    dyn = tf.dynamic(lifecycle, "rule")
    assert tf.strip(dyn["for_each"]) == "var.zone_lifecycle"
    (content,) = dyn["content"]
    assert tf.strip(content["filter"][0]["prefix"]) == "${rule.key}/", (
        "each rule filters on its zone's prefix explicitly"
    )
    assert content["abort_incomplete_multipart_upload"][0]["days_after_initiation"] == 1


def test_lake_bucket_is_versioned_encrypted_private_and_tls_only():
    lake = tf.DEPLOY / "modules" / "lake"
    (v,) = tf.resources(lake, "aws_s3_bucket_versioning").values()
    assert tf.strip(v["versioning_configuration"][0]["status"]) == "Enabled"
    (pab,) = tf.resources(lake, "aws_s3_bucket_public_access_block").values()
    assert all(
        pab[k] is True
        for k in ("block_public_acls", "block_public_policy", "ignore_public_acls", "restrict_public_buckets")
    )
    (sse,) = tf.resources(lake, "aws_s3_bucket_server_side_encryption_configuration").values()
    assert tf.strip(sse["rule"][0]["apply_server_side_encryption_by_default"][0]["sse_algorithm"]) == "AES256"
    (policy,) = tf.resources(lake, "aws_s3_bucket_policy").values()
    assert "lake-bucket.json" in policy["policy"]
    doc = tf.render_policy("lake-bucket.json", bucket=SETTINGS.bucket)
    (deny,) = doc["Statement"]
    assert deny["Effect"] == "Deny" and deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


# ---- the job graph is read, never retyped ----------------------------------------------------------------
def test_jobgraph_module_reads_the_labs_declaration_file():
    jg = tf.named(tf.DEPLOY, "module")["jobgraph"]
    assert tf.strip(jg["jobgraph_file"]) == "${path.root}/../spark_jobs/jobgraph.json"
    assert (tf.DEPLOY / ".." / "spark_jobs" / "jobgraph.json").resolve().is_file()
    assert {k: tf.strip(v) for k, v in jg.items() if k in ("bucket", "dataset", "catalog_databases")} == {
        "bucket": "var.bucket",
        "dataset": "var.dataset",
        "catalog_databases": "var.catalog_databases",
    }
    text = (tf.DEPLOY / "modules" / "jobgraph" / "main.tf").read_text()
    assert "jsondecode(file(var.jobgraph_file))" in text


def test_glue_resources_are_created_from_the_jobgraph_module_outputs():
    root = tf.named(tf.DEPLOY, "module")
    assert tf.strip(root["jobs"]["jobs"]) == "module.jobgraph.jobs"
    assert tf.strip(root["jobs"]["triggers"]) == "module.jobgraph.triggers"
    assert tf.strip(root["jobs"]["workflow"]) == "module.jobgraph.workflow"
    assert tf.strip(root["catalog"]["crawlers"]) == "module.jobgraph.crawlers"
    jobs_dir = tf.DEPLOY / "modules" / "jobs"
    (job,) = tf.resources(jobs_dir, "aws_glue_job").values()
    assert tf.strip(job["for_each"]) == "var.jobs"
    mapped = {
        k: tf.strip(job[k])
        for k in ("name", "glue_version", "worker_type", "number_of_workers", "timeout", "max_retries")
    }
    assert mapped == {
        "name": "each.value.name",
        "glue_version": "each.value.glue_version",
        "worker_type": "each.value.worker_type",
        "number_of_workers": "each.value.workers",
        "timeout": "each.value.timeout",
        "max_retries": "each.value.max_retries",
    }
    cmd = job["command"][0]
    assert tf.strip(cmd["script_location"]) == "each.value.script_location"
    # the declaration's own arguments come last in merge(): deployment defaults never override them
    assert re.fullmatch(r"merge\(.*each\.value\.default_arguments\)", tf.strip(job["default_arguments"]))
    (trigger,) = tf.resources(jobs_dir, "aws_glue_trigger").values()
    assert tf.strip(trigger["for_each"]) == "var.triggers"
    assert tf.strip(trigger["schedule"]) == "each.value.schedule"
    (crawler,) = tf.resources(tf.DEPLOY / "modules" / "catalog", "aws_glue_crawler").values()
    assert tf.strip(crawler["for_each"]) == "var.crawlers"
    assert tf.strip(crawler["s3_target"][0]["path"]) == "each.value.path"


def test_scripts_and_wheel_are_uploaded_with_content_hashes():
    objs = tf.resources(tf.DEPLOY / "modules" / "jobs", "aws_s3_object")
    assert set(objs) == {"script", "wheel"}
    for o in objs.values():
        assert tf.strip(o["etag"]).startswith("filemd5(") and tf.strip(o["source"]) in tf.strip(o["etag"])


def test_the_wheel_the_jobs_install_is_the_one_the_project_builds():
    import tomllib

    version = tomllib.loads((tf.REPO / "pyproject.toml").read_text())["project"]["version"]
    graph = json.loads((tf.REPO / "spark_jobs" / "jobgraph.json").read_text())
    wheels = {v for j in graph["jobs"] for v in j.get("aws_arguments", {}).values() if v.endswith(".whl")}
    assert wheels == {f"s3://${{bucket}}/{var_default('scripts_prefix')}/taxilab-{version}-py3-none-any.whl"}


# ---- alarms from taxilab/ops/alarms.json ---------------------------------------------------------------
def test_every_alarm_key_of_the_declaration_maps_to_the_alarm_resource():
    decl = json.loads((tf.REPO / "taxilab" / "ops" / "alarms.json").read_text())
    mon = tf.DEPLOY / "modules" / "monitoring"
    (alarm,) = tf.resources(mon, "aws_cloudwatch_metric_alarm").values()
    assert tf.strip(alarm["for_each"]) == "local.alarms"
    keys = {k for a in decl["alarms"] for k in a}
    for key in keys:
        assert key in alarm, f"alarms.json key {key!r} has no aws_cloudwatch_metric_alarm argument"
        assert f"each.value.{key}" in tf.strip(alarm[key]), f"{key} is not taken from the declaration"
    assert (
        'jsondecode(file("${path.root}/../taxilab/ops/alarms.json"))' in (tf.DEPLOY / "main.tf").read_text()
    )
    (budget,) = tf.resources(mon, "aws_budgets_budget").values()
    notif = tf.dynamic(budget, "notification")
    assert tf.strip(notif["for_each"]) == "var.declaration.budget.thresholds_percent"
    (rule,) = tf.resources(mon, "aws_cloudwatch_event_rule").values()
    assert "Glue Job State Change" in tf.strip(rule["event_pattern"])


# ---- IAM: one role per actor, policies are the repository's JSON documents --------------------------------
def test_every_role_policy_is_the_policy_file_the_least_privilege_test_proves():
    iam = tf.DEPLOY / "modules" / "iam"
    roles = tf.resources(iam, "aws_iam_role")
    policies = tf.resources(iam, "aws_iam_role_policy")
    assert set(roles) == set(policies) == set(tf.ROLE_POLICIES)
    for actor, files in tf.ROLE_POLICIES.items():
        assert (
            tf.strip(roles[actor]["assume_role_policy"])
            == f'templatefile("${{var.policies_dir}}/{files["trust"]}", local.vars)'
        )
        assert (
            tf.strip(policies[actor]["policy"])
            == f'templatefile("${{var.policies_dir}}/{files["policy"]}", local.vars)'
        )
        assert tf.strip(policies[actor]["role"]) == f"aws_iam_role.{actor}.id"
    # every placeholder of every role document is a key Terraform fills
    (locals_block,) = tf.module_blocks(iam)["locals"]
    filled = set(locals_block["vars"])
    for files in tf.ROLE_POLICIES.values():
        for f in files.values():
            assert tf.placeholders((tf.POLICIES / f).read_text()) <= filled, f
    assert set(tf.sample_policy_vars(SETTINGS)) == filled


def test_no_policy_is_written_inline_in_terraform():
    for f in tf.DEPLOY.rglob("*.tf"):
        text = f.read_text()
        assert '"Statement"' not in text and "Statement =" not in text, (
            f"{f}: policies live in deploy_aws/policies/*.json"
        )


# Where AWS requires Resource "*" (the action supports no resource-level permission), by document and Sid.
RESOURCE_STAR_ALLOWED = {
    (
        "glue-job-role.json",
        "MetricsInOwnNamespaces",
    ): "cloudwatch:PutMetricData has no resource type; limited by cloudwatch:namespace",
    (
        "glue-job-role.json",
        "OwnWarehouseStatementResults",
    ): "redshift-data Describe/GetStatementResult/Cancel have no resource type; limited to the caller's own statements",
}
# Where an Action wildcard is required: the bucket's TLS-only Deny must cover every S3 action.
ACTION_STAR_ALLOWED = {
    ("lake-bucket.json", "DenyInsecureTransport"): "a Deny of every s3 action over plain HTTP"
}


def wildcard_findings(name: str, doc: dict) -> list[str]:
    found = []
    for st in doc["Statement"]:
        actions = st.get("Action", [])
        actions = [actions] if isinstance(actions, str) else actions
        resources = st.get("Resource", [])
        resources = [resources] if isinstance(resources, str) else resources
        if (
            any(a == "*" or a.endswith(":*") for a in actions)
            and (name, st.get("Sid")) not in ACTION_STAR_ALLOWED
        ):
            found.append(f"{name} {st.get('Sid')}: Action wildcard {actions}")
        if "*" in resources and (name, st.get("Sid")) not in RESOURCE_STAR_ALLOWED:
            found.append(f"{name} {st.get('Sid')}: Resource '*'")
        if "NotAction" in st or "NotResource" in st:
            found.append(f"{name} {st.get('Sid')}: NotAction/NotResource")
    return found


def rendered_policies() -> dict[str, dict]:
    values = tf.sample_policy_vars(SETTINGS) | {
        "queue_arn": "arn:aws:sqs:us-east-1:123456789012:taxilab-lake-raw-drops",
        "bucket_arn": f"arn:aws:s3:::{SETTINGS.bucket}",
        "topic_arn": "arn:aws:sns:us-east-1:123456789012:taxilab-alerts",
    }
    return {p.name: tf.render_policy(p.name, **values) for p in sorted(tf.POLICIES.glob("*.json"))}


def test_no_wildcard_action_or_resource_except_where_aws_requires_it():
    docs = rendered_policies()
    assert len(docs) >= 7
    assert [f for name, doc in docs.items() for f in wildcard_findings(name, doc)] == []
    for name, sid in RESOURCE_STAR_ALLOWED:  # the exceptions still exist and are bounded by a condition
        (st,) = [s for s in docs[name]["Statement"] if s["Sid"] == sid]
        assert st["Condition"], f"{name} {sid}: Resource '*' must carry a condition"


def test_wildcard_check_flags_a_broadened_policy():
    doc = tf.render_policy("glue-job-role.json", **tf.sample_policy_vars(SETTINGS))
    doc["Statement"][0]["Action"] = "s3:*"
    doc["Statement"][1]["Resource"] = "*"
    assert len(wildcard_findings("glue-job-role.json", doc)) == 2


@pytest.mark.parametrize("actor", sorted(tf.ROLE_POLICIES))
def test_role_policies_name_only_the_labs_bucket_and_databases(actor):
    doc = tf.render_policy(tf.ROLE_POLICIES[actor]["policy"], **tf.sample_policy_vars(SETTINGS))
    dbs = set(SETTINGS.catalog_databases.values())
    for st in doc["Statement"]:
        res = st["Resource"] if isinstance(st["Resource"], list) else [st["Resource"]]
        for r in res:
            if r.startswith("arn:aws:s3:::"):
                assert r.split(":::")[1].split("/")[0] == SETTINGS.bucket, r
            if ":database/" in r:
                assert r.rsplit("/", 1)[1] in dbs, r
            if ":table/" in r:
                assert r.split(":table/")[1].split("/")[0] in dbs, r


def test_drops_queue_and_notification_are_the_ones_the_lab_refreshes():
    from taxilab.orchestration import drops

    (root_locals,) = tf.module_blocks(tf.DEPLOY)["locals"]
    assert tf.strip(root_locals["drops_notification_id"]) == drops.NOTIFICATION_ID
    assert tf.strip(root_locals["drops_queue_name"]) == 'substr("${var.bucket}-raw-drops", 0, 80)'
    assert drops.queue_name(Settings(bucket="b" * 90)) == ("b" * 90 + "-raw-drops")[:80]
    assert tf.strip(tf.named(tf.DEPLOY, "module")["events"]["raw_prefix"]) == "raw/dataset=${var.dataset}/"
    assert drops.raw_dataset_prefix(Settings()) == f"raw/dataset={Settings().dataset}/"
