"""The containers profile: docker-compose.yml agrees with the compose settings; the stack itself runs
only where a Docker engine answers (skipped cleanly elsewhere, e.g. this project's CI machine)."""

from __future__ import annotations

import shutil
import subprocess
from urllib.parse import urlsplit

import pytest
import yaml

from taxilab.core.settings import PROJECT_ROOT, load_settings

COMPOSE = PROJECT_ROOT / "docker-compose.yml"


def _docker_engine() -> bool:
    if not shutil.which("docker"):
        return False
    return subprocess.run(["docker", "info"], capture_output=True, timeout=20).returncode == 0


def test_compose_ports_match_the_compose_profile_and_bind_loopback_only(monkeypatch, tmp_path):
    monkeypatch.setenv("TAXILAB_PROFILE", "compose")
    s = load_settings(state_dir=tmp_path)
    spec = yaml.safe_load(COMPOSE.read_text())
    published = {}
    for svc in spec["services"].values():
        for p in svc.get("ports", []):
            host, hport, _cport = p.split(":")
            assert host == "127.0.0.1", p
            published[int(hport)] = svc["image"]
    for service in ("s3", "glue", "sqs", "sns", "cloudwatch"):
        assert urlsplit(s.endpoint(service)).port in published, service
    assert urlsplit(s.warehouse_dsn).port in published
    assert "localstack/localstack:4.14.0" in published.values()


@pytest.mark.docker
@pytest.mark.skipif(not _docker_engine(), reason="no Docker engine answers here (docker client only)")
def test_compose_stack_starts_and_answers():  # pragma: no cover - needs a Docker engine
    subprocess.run(["docker", "compose", "-f", str(COMPOSE), "up", "-d", "--wait"], check=True, timeout=600)
    try:
        import boto3

        s3 = boto3.client("s3", endpoint_url="http://127.0.0.1:4566", region_name="us-east-1",
                          aws_access_key_id="testing", aws_secret_access_key="testing")
        s3.create_bucket(Bucket="compose-smoke")
        assert "compose-smoke" in [b["Name"] for b in s3.list_buckets()["Buckets"]]
    finally:
        subprocess.run(["docker", "compose", "-f", str(COMPOSE), "down", "-v"], timeout=300)
