"""The offline checks of deploy_aws/ with real tools: terraform fmt (where a terraform binary exists),
tflint (bundled Terraform rules, all of them), checkov (0 failed, skips inline with reasons), parliament
over every IAM policy document (0 findings). Each check is also shown to fail on broken input.
Tools come from deploy_aws/scripts/install_tools.sh (make deploy-check runs it; cached in .lab/tools)."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from taxilab.core.settings import Settings
from tests.deploy import tf
from tests.deploy.test_terraform_structure import rendered_policies


def need(tool: Path) -> str:
    if not tool.exists():
        pytest.fail(f"{tool} is missing: run deploy_aws/scripts/install_tools.sh (make deploy-check does)")
    return str(tool)


def copy_deploy(tmp_path: Path) -> Path:
    """deploy_aws/ copied beside a copy of the files it reads (../spark_jobs, ../taxilab/ops)."""
    root = tmp_path / "repo"
    shutil.copytree(tf.DEPLOY, root / "deploy_aws", ignore=shutil.ignore_patterns(".terraform", "lambda"))
    for rel in ("spark_jobs/jobgraph.json", "taxilab/ops/alarms.json"):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(tf.REPO / rel, root / rel)
    return root / "deploy_aws"


# ---- terraform fmt ---------------------------------------------------------------------------------------
def fmt_check(directory: Path) -> tuple[int, str]:
    exe = tf.terraform_binary()
    if exe is None:
        pytest.skip(
            "terraform binary absent on this machine: terraform fmt -check runs only in deploy-aws.yml on GitHub"
        )
    r = tf.run(
        [exe, "fmt", "-check", "-recursive", "-diff", "-no-color", "."], cwd=directory, env=tf.terraform_env()
    )
    return r.returncode, r.stdout + r.stderr


def test_terraform_fmt_check_passes():
    code, out = fmt_check(tf.DEPLOY)
    assert code == 0, out


def test_terraform_fmt_check_fails_on_misformatted_file(tmp_path):
    d = copy_deploy(tmp_path)
    (d / "outputs.tf").write_text(
        (d / "outputs.tf").read_text().replace("  value       = var.region", "  value=var.region")
    )
    code, out = fmt_check(d)
    assert code != 0 and "outputs.tf" in out


# ---- tflint ----------------------------------------------------------------------------------------------
def tflint(directory: Path):
    return tf.run(
        [need(tf.TFLINT), "--recursive", "--no-color", f"--config={directory / '.tflint.hcl'}"], cwd=directory
    )


def test_tflint_finds_no_issue():
    r = tflint(tf.DEPLOY)
    print(r.stdout)
    assert r.returncode == 0, r.stdout + r.stderr


def test_tflint_flags_an_undocumented_unused_variable(tmp_path):
    d = copy_deploy(tmp_path)
    (d / "modules" / "lake" / "variables.tf").write_text(
        (d / "modules" / "lake" / "variables.tf").read_text() + '\nvariable "stray" {}\n'
    )
    r = tflint(d)
    assert (
        r.returncode != 0
        and "terraform_unused_declarations" in r.stdout
        and "terraform_documented_variables" in r.stdout
    )


# ---- checkov ---------------------------------------------------------------------------------------------
def checkov(directory: Path) -> dict:
    r = tf.run(
        [
            need(tf.CHECKOV),
            "-d",
            str(directory),
            "--framework",
            "terraform",
            "--skip-download",
            "--quiet",
            "--compact",
            "-o",
            "json",
        ],
        env={**tf.terraform_env(), "BC_SKIP_MAPPING": "TRUE", "LOG_LEVEL": "ERROR"},
    )
    start = r.stdout.find("{")
    assert start >= 0, f"checkov printed no report:\n{r.stdout}\n{r.stderr[-3000:]}"
    report = json.loads(r.stdout[start:])
    return report[0] if isinstance(report, list) else report


def test_checkov_reports_no_failed_check_and_every_skip_has_a_reason():
    report = checkov(tf.DEPLOY)
    summary = report["summary"]
    failed = [(c["check_id"], c["resource"], c["file_path"]) for c in report["results"]["failed_checks"]]
    print(f"checkov: {summary['passed']} passed, {summary['failed']} failed, {summary['skipped']} skipped")
    assert summary["failed"] == 0, failed
    assert summary["passed"] > 20
    for f in tf.DEPLOY.rglob("*.tf"):
        for m in re.finditer(r"#checkov:skip=([A-Z0-9_]+)(:?)(.*)", f.read_text()):
            assert m.group(2) == ":" and len(m.group(3).strip()) > 20, (
                f"{f}: skip of {m.group(1)} without a reason"
            )


def test_checkov_fails_a_public_unencrypted_bucket(tmp_path):
    d = copy_deploy(tmp_path)
    lake = d / "modules" / "lake" / "main.tf"
    text = lake.read_text()
    text = text.replace("block_public_acls       = true", "block_public_acls       = false")
    text = text.replace("restrict_public_buckets = true", "restrict_public_buckets = false")
    lake.write_text(text)
    report = checkov(d)
    ids = {c["check_id"] for c in report["results"]["failed_checks"]}
    assert report["summary"]["failed"] >= 2 and {"CKV_AWS_53", "CKV_AWS_56"} <= ids, ids


# ---- parliament ------------------------------------------------------------------------------------------
def parliament_findings(doc: dict) -> list[str]:
    from parliament import analyze_policy_string

    policy = analyze_policy_string(json.dumps(doc), include_community_auditors=False)
    return [f"{f.issue}: {f.detail}" for f in policy.findings]


IDENTITY_POLICIES = ("glue-job-role.json", "redshift-role.json")


@pytest.mark.parametrize("name", IDENTITY_POLICIES)
def test_parliament_finds_nothing_in_the_role_policies(name):
    assert parliament_findings(rendered_policies()[name]) == []


def test_parliament_finds_nothing_in_the_resource_and_trust_policies():
    docs = rendered_policies()
    others = sorted(set(docs) - set(IDENTITY_POLICIES))
    assert len(others) >= 5
    for name in others:
        doc = docs[name]
        if name.endswith("-trust.json"):
            # parliament 1.6 reads every statement as having a Resource; a trust policy's resource is the role
            # it is attached to (AWS evaluates sts:AssumeRole against it), so that is what it is given.
            role = f"arn:aws:iam::123456789012:role/taxilab-{name.removesuffix('-trust.json')}"
            doc = {**doc, "Statement": [{**st, "Resource": role} for st in doc["Statement"]]}
        assert parliament_findings(doc) == [], name


def test_parliament_flags_a_broken_policy():
    doc = rendered_policies()["glue-job-role.json"]
    doc["Statement"][0]["Action"] = ["s3:GetObjekt"]  # unknown action
    doc["Statement"][4]["Resource"] = f"arn:aws:s3:::{Settings().bucket}/x"  # glue actions on an S3 ARN
    issues = parliament_findings(doc)
    assert any("UNKNOWN_ACTION" in i for i in issues) and any("RESOURCE_MISMATCH" in i for i in issues), (
        issues
    )
