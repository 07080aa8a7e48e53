"""make deploy-env: `terraform output -json` -> .lab/aws.env, which the aws profile's settings read."""

from __future__ import annotations

import copy
import importlib.util
import json
import subprocess

import pytest

from taxilab.core.settings import load_settings
from tests.deploy import tf

spec = importlib.util.spec_from_file_location("outputs_to_env", tf.DEPLOY / "scripts" / "outputs_to_env.py")
outputs_to_env = importlib.util.module_from_spec(spec)
spec.loader.exec_module(outputs_to_env)

ACCOUNT = "123456789012"
# What `terraform output -json` prints for deploy_aws/outputs.tf (shape: {"name": {"sensitive", "type", "value"}}).
SAMPLE = {
    "region": {"sensitive": False, "type": "string", "value": "eu-west-1"},
    "bucket": {"sensitive": False, "type": "string", "value": "acme-taxilab-lake"},
    "dataset": {"sensitive": False, "type": "string", "value": "nyc_taxi"},
    "warehouse_schema": {"sensitive": False, "type": "string", "value": "taxi"},
    "catalog_databases": {
        "sensitive": False,
        "type": ["map", "string"],
        "value": {
            "raw": "taxilab_raw",
            "staging": "taxilab_staging",
            "quarantine": "taxilab_quarantine",
            "curated": "taxilab_curated",
        },
    },
    "redshift_workgroup": {"sensitive": False, "type": "string", "value": "taxilab"},
    "redshift_database": {"sensitive": False, "type": "string", "value": "dev"},
    "redshift_secret_arn": {
        "sensitive": False,
        "type": "string",
        "value": f"arn:aws:secretsmanager:eu-west-1:{ACCOUNT}:secret:redshift!taxilab-admin-AbCdEf",
    },
    "redshift_iam_role": {
        "sensitive": False,
        "type": "string",
        "value": f"arn:aws:iam::{ACCOUNT}:role/taxilab-redshift",
    },
    "glue_role_arn": {
        "sensitive": False,
        "type": "string",
        "value": f"arn:aws:iam::{ACCOUNT}:role/taxilab-glue",
    },
}


def read_env_file(path) -> dict[str, str]:
    return dict(
        line.split("=", 1) for line in path.read_text().splitlines() if line and not line.startswith("#")
    )


def test_env_file_from_outputs_is_what_the_aws_profile_settings_read(tmp_path, monkeypatch):
    out = tmp_path / "aws.env"
    (tmp_path / "outputs.json").write_text(json.dumps(SAMPLE))
    assert outputs_to_env.main(["--outputs", str(tmp_path / "outputs.json"), "--out", str(out)]) == 0
    env = read_env_file(out)
    for k in list(__import__("os").environ):
        if k.startswith("TAXILAB_"):
            monkeypatch.delenv(k)
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    s = load_settings()
    assert s.profile == "aws" and s.region == "eu-west-1" and s.bucket == "acme-taxilab-lake"
    assert s.redshift_workgroup == "taxilab" and s.redshift_database == "dev"
    assert s.redshift_secret_arn == SAMPLE["redshift_secret_arn"]["value"]
    assert s.redshift_iam_role == SAMPLE["redshift_iam_role"]["value"]
    assert s.catalog_databases == SAMPLE["catalog_databases"]["value"]
    assert s.warehouse_schema == "taxi" and s.uses_emulator is False


def test_every_output_the_script_reads_is_declared_in_terraform():
    declared = set(tf.named(tf.DEPLOY, "output"))
    assert set(outputs_to_env.FIELDS) | set(outputs_to_env.MAP_FIELDS) <= declared


def test_env_file_works_in_sh_and_make(tmp_path):
    out = tmp_path / "aws.env"
    (tmp_path / "o.json").write_text(json.dumps(SAMPLE))
    outputs_to_env.main(["--outputs", str(tmp_path / "o.json"), "--out", str(out)])
    sh = subprocess.run(
        ["sh", "-c", f'set -a; . "{out}"; echo "$TAXILAB_REDSHIFT_SECRET_ARN"'],
        capture_output=True,
        text=True,
    )
    assert sh.stdout.strip() == SAMPLE["redshift_secret_arn"]["value"]
    (tmp_path / "Makefile").write_text(
        f"include {out}\nall:\n\t@echo $(TAXILAB_CATALOG_DATABASES__QUARANTINE)\n"
    )
    mk = subprocess.run(["make", "-s", "-C", str(tmp_path)], capture_output=True, text=True)
    assert mk.stdout.strip() == "taxilab_quarantine"


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda o: o.pop("redshift_workgroup"), "'redshift_workgroup' is missing"),
        (lambda o: o["bucket"].update(value="lake; rm -rf ~"), "'bucket'"),
        (lambda o: o["redshift_iam_role"].update(value="$(id)"), "'redshift_iam_role'"),
        (lambda o: o["catalog_databases"]["value"].pop("raw"), "'catalog_databases'"),
        (lambda o: o["region"].update(value=None), "'region'"),
    ],
)
def test_bad_outputs_are_refused_naming_the_output(tmp_path, capsys, edit, message):
    bad = copy.deepcopy(SAMPLE)
    edit(bad)
    (tmp_path / "o.json").write_text(json.dumps(bad))
    assert (
        outputs_to_env.main(["--outputs", str(tmp_path / "o.json"), "--out", str(tmp_path / "aws.env")]) == 2
    )
    assert message in capsys.readouterr().err
    assert not (tmp_path / "aws.env").exists()


def test_not_json_is_refused(tmp_path, capsys):
    (tmp_path / "o.json").write_text("Error: No outputs found")
    assert (
        outputs_to_env.main(["--outputs", str(tmp_path / "o.json"), "--out", str(tmp_path / "aws.env")]) == 2
    )
    assert "deploy-env:" in capsys.readouterr().err
