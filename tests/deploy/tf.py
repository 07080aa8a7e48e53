"""Shared helpers of the deploy_aws offline checks: paths, tools, HCL parsing and policy rendering.

Policies are JSON files with ${name} placeholders; Terraform renders them with templatefile() and the
tests with string.Template (the same syntax for what the documents use: ${name}, and $${x} for a literal
${x}), so the least-privilege test proves the very documents Terraform attaches.
"""

from __future__ import annotations

import json
import os
import shutil
import string
import subprocess
from functools import cache
from pathlib import Path

import hcl2

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy_aws"
POLICIES = DEPLOY / "policies"
TOOLS = REPO / ".lab" / "tools"
TFLINT = TOOLS / "bin" / "tflint"
CHECKOV = TOOLS / "checkov-venv" / "bin" / "checkov"

# The roles Terraform creates (modules/iam) -> their policy documents in deploy_aws/policies/.
ROLE_POLICIES = {
    "glue": {"trust": "glue-trust.json", "policy": "glue-job-role.json"},
    "redshift": {"trust": "redshift-trust.json", "policy": "redshift-role.json"},
}


def terraform_binary() -> str | None:
    return shutil.which("terraform")


def terraform_env() -> dict[str, str]:
    # An empty CLI configuration: no plugin cache or credentials helper of the machine leaks in.
    return {
        **os.environ,
        "TF_CLI_CONFIG_FILE": os.devnull,
        "TF_IN_AUTOMATION": "1",
        "CHECKPOINT_DISABLE": "1",
    }


def run(
    cmd: list[str], cwd: Path | None = None, env: dict | None = None, timeout: int = 600
) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


@cache
def parse(path: Path) -> dict:
    with open(path) as f:
        return hcl2.load(f)


def module_blocks(directory: Path) -> dict[str, dict]:
    """Every top-level block of a Terraform module directory, merged: {'resource': [...], 'variable': [...]}."""
    merged: dict[str, list] = {}
    for f in sorted(directory.glob("*.tf")):
        for kind, blocks in parse(f).items():
            merged.setdefault(kind, []).extend(blocks)
    return merged


def resources(directory: Path, rtype: str) -> dict[str, dict]:
    out = {}
    for block in module_blocks(directory).get("resource", []):
        for t, named in block.items():
            if strip(t) == rtype:
                for name, body in named.items():
                    out[strip(name)] = body
    return out


def named(directory: Path, kind: str) -> dict[str, dict]:
    """variable / module / output blocks of a directory by name."""
    out = {}
    for block in module_blocks(directory).get(kind, []):
        for name, body in block.items():
            out[strip(name)] = body
    return out


def strip(value):
    """python-hcl2 keeps the quotes of string literals and wraps expressions in ${...}: plain text for both."""
    if isinstance(value, str):
        v = value
        if len(v) >= 2 and v[0] == v[-1] == '"':
            v = v[1:-1]
        if v.startswith("${") and v.endswith("}") and _closing_brace(v, 1) == len(v) - 1:
            v = v[2:-1]
        return v
    if isinstance(value, list):
        return [strip(v) for v in value]
    if isinstance(value, dict):
        return {strip(k): strip(v) for k, v in value.items()}
    return value


def _closing_brace(text: str, start: int) -> int:
    """Index of the brace closing the one at `start` (strings inside the expression may hold braces)."""
    depth, in_str, i = 0, False, start
    while i < len(text):
        c = text[i]
        if in_str:
            if c == "\\":
                i += 1
            elif c == '"':
                in_str = False
        elif c == '"':
            in_str = True
        elif c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
            if depth == 0:
                return i
        i += 1
    return -1


def placeholders(text: str) -> set[str]:
    t = string.Template(text)
    return {m.group("braced") for m in t.pattern.finditer(text) if m.group("braced")}


def render_policy(name: str, **variables: str) -> dict:
    """deploy_aws/policies/<name> with its placeholders filled, as Terraform's templatefile() fills them."""
    text = (POLICIES / name).read_text()
    missing = placeholders(text) - set(variables)
    if missing:
        raise KeyError(f"{name}: no value for {sorted(missing)}")
    return json.loads(string.Template(text).substitute(variables))


def sample_policy_vars(settings, account_id: str = "123456789012") -> dict[str, str]:
    """The values Terraform passes to templatefile() (modules/iam locals.vars), for a given account."""
    region = settings.region
    return {
        "account_id": account_id,
        "region": region,
        "bucket": settings.bucket,
        "raw_db": settings.catalog_databases["raw"],
        "staging_db": settings.catalog_databases["staging"],
        "quarantine_db": settings.catalog_databases["quarantine"],
        "curated_db": settings.catalog_databases["curated"],
        "metrics_namespace": json.loads((REPO / "taxilab" / "ops" / "alarms.json").read_text())["namespace"],
        "redshift_workgroup_arn": f"arn:aws:redshift-serverless:{region}:{account_id}:workgroup/0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0",
        "redshift_secret_arn": f"arn:aws:secretsmanager:{region}:{account_id}:secret:redshift!taxilab-admin-AbCdEf",
    }


def dynamic(body: dict, label: str) -> dict:
    """The one `dynamic "<label>"` block of a resource body."""
    (found,) = [d[k] for d in body.get("dynamic", []) for k in d if strip(k) == label]
    return found
