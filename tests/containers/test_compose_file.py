"""docker-compose.yml (and the lab override) against the compose-spec JSON schema, parsed by the compose tool
available here, and in agreement with the compose profile's settings. Only the compose-tool check needs
the tool (not an engine); each check is shown failing once on a broken copy."""

from __future__ import annotations

import copy
import importlib.resources
import json
import re
import subprocess
from urllib.parse import urlsplit

import jsonschema
import pytest
import yaml

from taxilab.core.settings import PROJECT_ROOT, load_settings
from taxilab.resources import compose_stack

COMPOSE = PROJECT_ROOT / "docker-compose.yml"
LAB_OVERRIDE = PROJECT_ROOT / "docker-compose.lab.yml"


def _schema() -> dict:
    # The compose-spec schema as vendored by check-jsonschema (pinned in pyproject.toml's dev extra).
    path = importlib.resources.files("check_jsonschema") / "builtin_schemas" / "vendor" / "compose-spec.json"
    return json.loads(path.read_text())


def _schema_errors(spec: dict) -> list[str]:
    validator = jsonschema.Draft202012Validator(_schema())
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(spec)]


def _load(path) -> dict:
    return yaml.safe_load(path.read_text())


def _interpolated(spec: dict) -> dict:
    """`${NAME:-default}` resolved to its default, as the compose tool does with NAME unset."""
    text = json.dumps(spec)
    return json.loads(re.sub(r"\$\{[A-Za-z_][A-Za-z0-9_]*:-([^}]*)\}", r"\1", text))


def agreement_problems(spec: dict, settings) -> list[str]:
    """Where a (merged) compose configuration disagrees with the compose profile's settings."""
    problems = []
    published: dict[int, str] = {}
    for name, svc in spec["services"].items():
        for p in svc.get("ports", []):
            if isinstance(p, dict):  # `compose config` long syntax
                host, hport = p.get("host_ip"), int(p["published"])
            else:
                host, hport, _ = str(p).rsplit(":", 2)
                hport = int(hport)
            if host != "127.0.0.1":
                problems.append(f"{name}: port {p} is not bound to 127.0.0.1 only")
            published[hport] = name
    for service in ("s3", "glue", "sqs", "sns", "cloudwatch"):
        port = urlsplit(settings.endpoint(service)).port
        if port not in published:
            problems.append(f"settings' {service} endpoint port {port} is not published")
    dsn = urlsplit(settings.warehouse_dsn)
    if dsn.port not in published:
        problems.append(f"warehouse DSN port {dsn.port} is not published")
    wh = spec["services"]["warehouse"]
    env = wh.get("environment", {})
    env = dict(e.split("=", 1) for e in env) if isinstance(env, list) else env
    want = {
        "POSTGRES_USER": dsn.username,
        "POSTGRES_PASSWORD": dsn.password,
        "POSTGRES_DB": dsn.path.lstrip("/"),
    }
    for key, value in want.items():
        if str(env.get(key)) != value:
            problems.append(f"warehouse {key}={env.get(key)!r} but the settings' DSN has {value!r}")
    cmd = " ".join(map(str, wh.get("command", [])))
    if f"port={dsn.port}" not in cmd:
        problems.append(f"warehouse command {cmd!r} does not listen on the DSN's port {dsn.port}")
    # Every service reaches the others at the settings' 127.0.0.1 endpoints: one shared network namespace.
    for name, svc in spec["services"].items():
        mode = svc.get("network_mode", "")
        if name != "net" and mode not in ("service:net", "host"):
            problems.append(
                f"{name}: network_mode {mode!r}: the settings' 127.0.0.1 endpoints would not reach it"
            )
    jupyter_env = spec["services"]["jupyter"].get("environment", {})
    if jupyter_env.get("TAXILAB_PROFILE") != "compose":
        problems.append("jupyter does not run the lab on the compose profile")
    if jupyter_env.get("TAXILAB_BUCKET") != settings.bucket:
        problems.append(
            f"jupyter's TAXILAB_BUCKET {jupyter_env.get('TAXILAB_BUCKET')!r} is not the settings' "
            f"bucket {settings.bucket!r}"
        )
    ls_image = spec["services"]["localstack"].get("image", "")
    if not re.fullmatch(r"localstack/localstack:4\.14\.0|taxilab/moto:[\d.]+", ls_image):
        problems.append(
            f"localstack image {ls_image!r} is neither LocalStack 4.14.0 nor the lab's moto stand-in"
        )
    return problems


@pytest.fixture
def compose_settings_here(tmp_path):
    return load_settings(profile="compose", state_dir=tmp_path)


def test_compose_file_and_lab_override_follow_the_compose_spec_schema():
    assert _schema_errors(_load(COMPOSE)) == []
    assert _schema_errors(_load(LAB_OVERRIDE)) == []


def test_schema_check_rejects_a_misspelt_service_key():
    spec = _load(COMPOSE)
    spec["services"]["warehouse"]["healthchek"] = spec["services"]["warehouse"].pop("healthcheck")
    errors = _schema_errors(spec)
    assert errors and any("healthchek" in e for e in errors), errors


def test_compose_file_has_no_top_level_name_so_docker_compose_1_29_reads_it():
    assert "name" not in _load(COMPOSE)


def test_compose_file_agrees_with_the_compose_profile_settings(compose_settings_here):
    spec = _interpolated(_load(COMPOSE))
    assert spec["services"]["localstack"]["image"] == "localstack/localstack:4.14.0"
    assert agreement_problems(spec, compose_settings_here) == []


def test_agreement_check_names_a_port_password_or_binding_that_differs(compose_settings_here):
    broken = copy.deepcopy(_interpolated(_load(COMPOSE)))
    broken["services"]["net"]["ports"] = [
        p.replace("127.0.0.1:5439", "0.0.0.0:5440") for p in broken["services"]["net"]["ports"]
    ]
    broken["services"]["warehouse"]["environment"]["POSTGRES_PASSWORD"] = "other"
    broken["services"]["jupyter"]["environment"]["TAXILAB_BUCKET"] = "another-bucket"
    problems = agreement_problems(broken, compose_settings_here)
    assert any("not bound to 127.0.0.1" in p for p in problems), problems
    assert any("DSN port 5439 is not published" in p for p in problems), problems
    assert any("POSTGRES_PASSWORD" in p for p in problems), problems
    assert any("TAXILAB_BUCKET" in p for p in problems), problems


@pytest.mark.parametrize(
    "files",
    [("docker-compose.yml",), ("docker-compose.yml", "docker-compose.lab.yml")],
    ids=["laptop", "lab-override"],
)
def test_the_compose_tool_here_parses_the_files_and_the_result_agrees_with_settings(
    files, compose_settings_here
):
    tool = compose_stack.compose_tool()
    if tool is None:
        pytest.skip("no compose tool installed (docker compose / docker-compose)")
    stack = compose_stack.ComposeStack(project="taxilabcheck", files=files)
    merged = stack.config()  # raises ComposeError with the tool's message on a file it rejects
    assert agreement_problems(merged, compose_settings_here) == []
    if len(files) == 2:
        modes = {name: svc.get("network_mode") for name, svc in merged["services"].items()}
        assert modes.pop("net") == "none" and set(modes.values()) == {"host"}, modes
        assert merged["services"]["localstack"]["image"] == "taxilab/moto:5.2.5"


def test_the_compose_tool_rejects_a_file_with_an_unknown_service_key(tmp_path):
    tool = compose_stack.compose_tool()
    if tool is None:
        pytest.skip("no compose tool installed (docker compose / docker-compose)")
    spec = _load(COMPOSE)
    spec["services"]["glue"]["imagez"] = "x"
    bad = tmp_path / "docker-compose.yml"
    bad.write_text(yaml.safe_dump(spec))
    proc = subprocess.run([*tool, "-f", str(bad), "config"], capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0 and "imagez" in (proc.stderr + proc.stdout)
