"""The container job runner's command line, built without an engine: spark-submit with the settings'
Spark/S3A configuration, the script's path inside the container, Glue-style arguments checked first."""

from __future__ import annotations

import pytest

from taxilab.core.settings import load_settings
from taxilab.resources.container_jobs import ContainerJobError, ContainerJobRunner


@pytest.fixture
def runner(tmp_path):
    s = load_settings(
        profile="compose",
        state_dir=tmp_path,
        emulator_access_key="AKID",
        emulator_secret_key="SK",
        endpoints={"s3": "http://127.0.0.1:4999"},
        spark={"master": "local[3]"},
    )
    return ContainerJobRunner(s, client=object())  # no engine is asked for a command line


def _confs(cmd: list[str]) -> dict[str, str]:
    return dict(cmd[i + 1].split("=", 1) for i, a in enumerate(cmd) if a == "--conf")


def test_command_is_spark_submit_of_the_mounted_script_with_the_settings_s3a_configuration(runner, tmp_path):
    cmd = runner.command("spark_jobs/jobs/etl.py", ["etl.py", "--JOB_NAME", "etl", "--month", "2024-02"])
    assert cmd[:3] == ["spark-submit", "--master", "local[3]"]
    assert cmd[-5:] == ["/opt/taxilab/spark_jobs/jobs/etl.py", "--JOB_NAME", "etl", "--month", "2024-02"]
    conf = _confs(cmd)
    assert conf["spark.hadoop.fs.s3a.endpoint"] == "http://127.0.0.1:4999"
    assert (conf["spark.hadoop.fs.s3a.access.key"], conf["spark.hadoop.fs.s3a.secret.key"]) == ("AKID", "SK")
    assert conf["spark.hadoop.fs.s3a.path.style.access"] == "true"
    assert "spark.jars" not in conf and "spark.driver.extraJavaOptions" not in conf
    assert not any(str(tmp_path) in v for v in conf.values()), "a host path leaked into the container's conf"
    assert conf["spark.hadoop.fs.s3a.committer.staging.tmp.path"].startswith("file:///tmp/spark/")


def test_scripts_outside_spark_jobs_and_malformed_arguments_are_refused(runner):
    with pytest.raises(ContainerJobError, match="not a .py file under"):
        runner.command("/etc/passwd", ["--JOB_NAME", "x"])
    with pytest.raises(ContainerJobError, match="not a .py file under"):
        runner.command("spark_jobs/../taxilab/cli/__init__.py", ["--JOB_NAME", "x"])
    with pytest.raises(ContainerJobError, match="--NAME value pairs"):
        runner.command("spark_jobs/jobs/etl.py", ["--JOB_NAME"])
    with pytest.raises(ContainerJobError, match="not of the form --NAME"):
        runner.command("spark_jobs/jobs/etl.py", ["--JOB_NAME", "x", "; rm -rf /", "y"])
    with pytest.raises(ContainerJobError, match="NUL or newline"):
        runner.command("spark_jobs/jobs/etl.py", ["--JOB_NAME", "x\nTAXILAB_JOB_METRICS {}"])


def test_the_compose_project_comes_from_the_settings(tmp_path):
    s = load_settings(profile="compose", state_dir=tmp_path, compose_project="otherlab")
    assert ContainerJobRunner(s, client=object()).project == "otherlab"
