"""The provisioned-cluster pause/resume Lambda handler against the emulator's Redshift API (the lab's moto
server implements CreateCluster, PauseCluster, ResumeCluster); the handler builds its own boto3 client, as in
Lambda, pointed at the emulator by AWS_ENDPOINT_URL_REDSHIFT."""

from __future__ import annotations

import importlib.util
import uuid

import boto3
import pytest

from taxilab.core.settings import PROJECT_ROOT

pytestmark = pytest.mark.integration
HANDLER = PROJECT_ROOT / "deploy_aws" / "lambda" / "redshift_pause" / "handler.py"


@pytest.fixture()
def lam(lab_settings, monkeypatch):
    spec = importlib.util.spec_from_file_location("redshift_pause_handler", HANDLER)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    monkeypatch.setenv("AWS_ENDPOINT_URL_REDSHIFT", lab_settings.endpoint("s3"))
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", lab_settings.emulator_access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", lab_settings.emulator_secret_key)
    monkeypatch.setenv("AWS_DEFAULT_REGION", lab_settings.region)
    rs = boto3.client("redshift")
    cluster = f"taxilab-it-{uuid.uuid4().hex[:6]}"
    rs.create_cluster(
        ClusterIdentifier=cluster,
        NodeType="ra3.large",
        MasterUsername="admin",
        MasterUserPassword="Lab-only-1",
        ClusterType="single-node",
    )
    yield mod, rs, cluster
    rs.delete_cluster(ClusterIdentifier=cluster, SkipFinalClusterSnapshot=True)


def status(rs, cluster) -> str:
    return rs.describe_clusters(ClusterIdentifier=cluster)["Clusters"][0]["ClusterStatus"]


def test_pause_then_resume_changes_the_cluster_state(lam):
    mod, rs, cluster = lam
    assert status(rs, cluster) == "available"
    out = mod.handler({"action": "pause", "cluster_identifier": cluster}, None)
    assert out["changed"] and out["previous_status"] == "available" and status(rs, cluster) == "paused"
    out = mod.handler({"action": "resume", "cluster_identifier": cluster}, None)
    assert out["changed"] and status(rs, cluster) == "available"


def test_a_repeated_schedule_changes_nothing_and_says_why(lam, monkeypatch):
    mod, rs, cluster = lam
    monkeypatch.setenv("REDSHIFT_CLUSTER_ID", cluster)  # the id from the function's environment
    assert mod.handler({"action": "pause"}, None)["changed"]
    again = mod.handler({"action": "pause"}, None)
    assert not again["changed"] and "paused" in again["reason"] and status(rs, cluster) == "paused"
    assert not mod.handler({"action": "pause", "cluster_identifier": cluster}, None)["changed"]
    assert mod.handler({"action": "resume"}, None)["changed"]


def test_bad_events_are_refused_naming_the_problem(lam):
    mod, rs, cluster = lam
    with pytest.raises(mod.PauseError, match="'stop'"):
        mod.handler({"action": "stop", "cluster_identifier": cluster}, None)
    with pytest.raises(mod.PauseError, match="cluster identifier"):
        mod.handler({"action": "pause", "cluster_identifier": "x; rm -rf /"}, None)
    assert status(rs, cluster) == "available"
