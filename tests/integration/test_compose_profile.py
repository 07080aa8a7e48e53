"""The containers profile: docker-compose.yml agrees with the compose settings. The stack itself, the
schema and the compose tool's view of the file are tested in tests/containers (they need a Docker engine
or the compose tool; skipped with the reason printed where none answers)."""

from __future__ import annotations

from urllib.parse import urlsplit

import yaml

from taxilab.core.settings import PROJECT_ROOT, load_settings

COMPOSE = PROJECT_ROOT / "docker-compose.yml"


def test_compose_ports_match_the_compose_profile_and_bind_loopback_only(monkeypatch, tmp_path):
    monkeypatch.setenv("TAXILAB_PROFILE", "compose")
    s = load_settings(state_dir=tmp_path)
    spec = yaml.safe_load(COMPOSE.read_text())
    published = set()
    for svc in spec["services"].values():
        for p in svc.get("ports", []):
            host, hport, _cport = str(p).split(":")
            assert host == "127.0.0.1", p
            published.add(int(hport))
    for service in ("s3", "glue", "sqs", "sns", "cloudwatch"):
        assert urlsplit(s.endpoint(service)).port in published, service
    assert urlsplit(s.warehouse_dsn).port in published
    assert spec["services"]["localstack"]["image"] == "localstack/localstack:4.14.0"
