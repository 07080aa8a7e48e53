"""The compose profile's containers: start, wait for health, stop (`taxilab up/down` with TAXILAB_PROFILE=compose).
Why: docs/adr/0014-containers-localstack-glue-image-compose.md.
"""

from __future__ import annotations

import importlib
import json
import re
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from taxilab.core.settings import PROJECT_ROOT

PROJECT = "taxilab"
LAB_BASE_IMAGE = "taxilab/debian-base:bookworm"
BASE_SCRIPT = PROJECT_ROOT / "docker" / "base" / "build-debian-base.sh"
_PROJECT_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
NO_ENGINE_HINT = "no Docker engine answers here; the embedded default needs none: make up (PROFILE=local)"


class ComposeError(RuntimeError):
    pass


def compose_tool() -> list[str] | None:
    """`docker compose` (v2) when the docker CLI has it, else `docker-compose` (1.29), else None."""
    docker = shutil.which("docker")
    if (
        docker
        and subprocess.run([docker, "compose", "version"], capture_output=True, timeout=30).returncode == 0
    ):
        return [docker, "compose"]
    legacy = shutil.which("docker-compose")
    return [legacy] if legacy else None


def engine_problem() -> str | None:
    """None when a Docker engine answers, else one line saying why not."""
    try:
        docker = importlib.import_module(
            "docker"
        )  # the SDK (the repository's docker/ folder is not a package)

        docker.from_env(timeout=10).ping()
        return None
    except Exception:  # noqa: BLE001 - any failure means "no engine"
        return NO_ENGINE_HINT


@dataclass
class ComposeStack:
    project: str = PROJECT
    project_dir: Path = PROJECT_ROOT
    files: tuple[str, ...] = ()  # empty: the tool's own choice (COMPOSE_FILE, else docker-compose.yml)

    def __post_init__(self):
        if not _PROJECT_NAME.match(self.project):
            raise ComposeError(
                f"compose project name {self.project!r}: lowercase letters, digits, '-' or '_' only"
            )
        tool = compose_tool()
        if tool is None:
            raise ComposeError("no compose tool: install Compose v2 (docker compose) or docker-compose")
        self.tool: list[str] = tool

    def command(self, *args: str) -> list[str]:
        cmd = [*self.tool, "--project-directory", str(self.project_dir), "-p", self.project]
        for f in self.files:
            cmd += ["-f", str(f)]
        return [*cmd, *args]

    def run(self, *args: str, timeout: float = 1800, capture: bool = True) -> subprocess.CompletedProcess:
        proc = subprocess.run(
            self.command(*args), cwd=self.project_dir, capture_output=capture, text=True, timeout=timeout
        )
        if proc.returncode != 0:
            err = (proc.stderr or proc.stdout or "").strip().splitlines()[-5:] if capture else []
            raise ComposeError(
                f"`{' '.join(self.command(*args)[len(self.tool) :])}` failed "
                f"(exit {proc.returncode}): {' | '.join(err)}"
            )
        return proc

    def config(self) -> dict:
        """The merged, interpolated configuration as the compose tool sees it."""
        import yaml

        return yaml.safe_load(self.run("config").stdout)

    def needs_lab_base(self) -> bool:
        """True when a service builds FROM the debootstrap base image (docker-compose.lab.yml in use)."""
        for svc in self.config().get("services", {}).values():
            build = svc.get("build")
            if isinstance(build, dict) and (build.get("args") or {}).get("BASE_IMAGE") == LAB_BASE_IMAGE:
                return True
        return False

    def ensure_lab_base(self) -> float:
        """Build the debootstrap base image when the files need it and the engine lacks it; seconds spent."""
        if not self.needs_lab_base():
            return 0.0
        t0 = time.monotonic()
        proc = subprocess.run(
            [str(BASE_SCRIPT), LAB_BASE_IMAGE], capture_output=True, text=True, timeout=1800
        )
        if proc.returncode != 0:
            raise ComposeError(
                f"building {LAB_BASE_IMAGE} failed: {(proc.stderr or proc.stdout).strip()[-600:]}"
            )
        return time.monotonic() - t0

    def build(self, *services: str) -> float:
        t0 = time.monotonic()
        self.ensure_lab_base()
        self.run("build", *services, timeout=3600)
        return time.monotonic() - t0

    def up(self, *services: str, build: bool = True, timeout: float = 600) -> dict[str, str]:
        """Build (cached) and start the services, then wait until every healthcheck passes."""
        if build:
            self.build(*services)
        self.run("up", "-d", "--no-build", *services, timeout=timeout)
        return self.wait_healthy(timeout=timeout)

    def down(self, volumes: bool = False, timeout: float = 300) -> None:
        self.run("down", *(["-v"] if volumes else []), "--remove-orphans", timeout=timeout)

    def containers(self) -> dict[str, Any]:
        """service name -> docker SDK container (all states)."""
        docker = importlib.import_module(
            "docker"
        )  # the SDK (the repository's docker/ folder is not a package)

        client = docker.from_env(timeout=30)
        found = client.containers.list(
            all=True, filters={"label": f"com.docker.compose.project={self.project}"}
        )
        return {c.labels.get("com.docker.compose.service", c.name): c for c in found}

    def states(self) -> dict[str, str]:
        """service -> 'healthy' | 'running' (no healthcheck) | 'starting' | 'unhealthy' | 'exited' ..."""
        out = {}
        for name, c in self.containers().items():
            c.reload()
            health = (c.attrs.get("State") or {}).get("Health")
            out[name] = health["Status"] if health and c.status == "running" else c.status
        return out

    def wait_healthy(self, timeout: float = 600, services: tuple[str, ...] = ()) -> dict[str, str]:
        deadline = time.monotonic() + timeout
        while True:
            states = self.states()
            watched = {k: v for k, v in states.items() if not services or k in services}
            bad = {k: v for k, v in watched.items() if v in ("exited", "dead", "unhealthy")}
            if bad:
                raise ComposeError(f"services not healthy: {json.dumps(bad)}; `docker logs` them for why")
            if watched and all(v in ("healthy", "running") for v in watched.values()):
                return states
            if time.monotonic() > deadline:
                raise ComposeError(f"services still starting after {timeout:.0f} s: {json.dumps(watched)}")
            time.sleep(1)


def cli_action(action: str, settings) -> list[str]:
    """`taxilab up` / `taxilab down` on the compose profile: the lines to print (ComposeError on failure)."""
    problem = engine_problem()
    if problem:
        raise ComposeError(problem)
    project = getattr(settings, "compose_project", PROJECT)
    stack = ComposeStack(project=project)
    if action == "down":
        stack.down()
        return [f"compose project {project!r} stopped (named volumes kept; `docker volume ls` lists them)"]
    if action != "up":
        raise ComposeError(f"unknown compose action {action!r}")
    t0 = time.monotonic()
    states = stack.up()
    lines = [
        f"compose project {project!r} up in {time.monotonic() - t0:.0f} s ({' '.join(stack.tool)}): "
        + ", ".join(f"{k} {v}" for k, v in sorted(states.items()))
    ]
    lines.append(
        f"S3/SQS/SNS/CloudWatch: {settings.endpoint('s3')}   Glue Data Catalog: {settings.endpoint('glue')}"
    )
    lines.append(f"warehouse (PostgreSQL 16): {settings.warehouse_dsn}")
    jupyter = stack.containers().get("jupyter")
    lines.append(
        f"Jupyter: http://127.0.0.1:8888 (its token: `docker logs {jupyter.name if jupyter else 'the jupyter container'}`)"
    )
    lines.append("jobs run in the `glue` container; stop with `make down PROFILE=compose`")
    return lines
