"""Container tests: the compose stack, the job scripts in the Glue container, the pipeline on the compose
profile. They need a Docker engine and skip, with the reason printed, where none answers.

Here (no registry): COMPOSE_FILE adds docker-compose.lab.yml, so every image is built FROM the debootstrap
base (docker/base/build-debian-base.sh, cached by the engine). The session prints the base image's
build time, the first (cold) image build's time and a warm rebuild's time, and names the laptop images
it could not use. Set TAXILAB_TEST_COMPOSE_FILE=docker-compose.yml to test with the real images instead
(GitHub Actions does).
"""

from __future__ import annotations

import os
import socket
import time

import pytest

from taxilab.core.settings import PROJECT_ROOT, load_settings
from taxilab.resources import compose_stack

TEST_PROJECT = "taxilabtest"
LAB_FILES = "docker-compose.yml:docker-compose.lab.yml"
# Laptop images and what docker-compose.lab.yml builds in their place here.
LAPTOP_IMAGES = {
    "localstack/localstack:4.14.0": "the lab's moto entry point (taxilab/moto:5.2.5) on port 4566",
    "public.ecr.aws/glue/aws-glue-libs:5": "pyspark 3.5.8 + Java 17 FROM the debootstrap base (taxilab/glue:pyspark-3.5.8)",
    "postgres:16": "PostgreSQL 16.2 of the pgserver wheel FROM the debootstrap base (taxilab/warehouse:16-lab)",
    "python:3.11-slim-bookworm": "the debootstrap base (moto and jupyter images)",
}
SERVICE_PORTS = (4566, 5000, 5439, 8888)

# testcontainers' reaper image cannot be pulled here; the tests remove their containers themselves.
os.environ.setdefault("TESTCONTAINERS_RYUK_DISABLED", "true")


def _say(config, line: str) -> None:
    """A line on the terminal even under -q and output capture (figures the session must print)."""
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    capman = config.pluginmanager.get_plugin("capturemanager")
    if reporter is None:  # pragma: no cover
        print(line, flush=True)
        return
    if capman is not None:
        with capman.global_and_fixture_disabled():
            reporter.write_line(line)
    else:  # pragma: no cover
        reporter.write_line(line)
    reporter.flush()


@pytest.fixture(scope="session")
def docker_engine(request):
    problem = compose_stack.engine_problem()
    if problem:
        _say(request.config, f"container tests skipped: {problem}")
        pytest.skip(problem)
    import docker

    return docker.from_env(timeout=60)


@pytest.fixture(scope="session")
def compose_files() -> str:
    return os.environ.get("TAXILAB_TEST_COMPOSE_FILE", LAB_FILES)


@pytest.fixture(scope="session")
def lab_stack_def(docker_engine, compose_files, request, monkeypatch_session):
    monkeypatch_session.setenv("COMPOSE_FILE", compose_files)
    stack = compose_stack.ComposeStack(project=TEST_PROJECT)
    return stack


@pytest.fixture(scope="session")
def monkeypatch_session():
    mp = pytest.MonkeyPatch()
    yield mp
    mp.undo()


@pytest.fixture(scope="session")
def lab_images(lab_stack_def, docker_engine, request):
    """Every image of the stack built (cached): prints base, cold and warm build times."""
    stack = lab_stack_def
    cached_before = {t for img in docker_engine.images.list() for t in img.tags}
    t0 = time.monotonic()
    base_s = stack.ensure_lab_base()
    t1 = time.monotonic()
    stack.run("build", timeout=3600)
    first_s = time.monotonic() - t1
    t2 = time.monotonic()
    stack.run("build", timeout=3600)
    warm_s = time.monotonic() - t2
    images = sorted({svc["image"] for svc in stack.config()["services"].values() if "image" in svc})
    cold = not any(i in cached_before for i in images)
    _say(
        request.config,
        f"\ncontainer images ({stack.tool[-1]}; COMPOSE_FILE={os.environ.get('COMPOSE_FILE')}):"
        f" debootstrap base {base_s:.1f} s{'' if base_s > 5 else ' (cached)'}, "
        f"first build {first_s:.1f} s ({'cold: nothing cached' if cold else 'some layers cached'}), "
        f"warm rebuild {warm_s:.1f} s; total {time.monotonic() - t0:.1f} s",
    )
    if stack.needs_lab_base():
        unusable = [i for i in LAPTOP_IMAGES if not docker_engine.images.list(name=i)]
        for img in unusable:
            _say(
                request.config, f"  laptop image not usable here (no registry): {img} -> {LAPTOP_IMAGES[img]}"
            )
    return images


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) != 0


@pytest.fixture(scope="session")
def stack(lab_images, lab_stack_def, request):
    """The compose stack up and healthy under project taxilabtest; removed with its volumes afterwards."""
    s = lab_stack_def
    s.down(volumes=True)
    busy = [p for p in SERVICE_PORTS if not _port_free(p)]
    if busy:
        pytest.fail(
            f"127.0.0.1 ports {busy} are taken (another compose stack? `make down PROFILE=compose`); "
            "the compose profile needs them"
        )
    t0 = time.monotonic()
    try:
        states = s.up(build=False, timeout=600)
        _say(request.config, f"compose stack healthy in {time.monotonic() - t0:.1f} s: {states}")
        yield s
    finally:
        s.down(volumes=True)


@pytest.fixture(scope="session")
def compose_settings(tmp_path_factory):
    """Settings of the compose profile with the tests' own state dir (the environment is left alone)."""
    state = tmp_path_factory.mktemp("compose-lab")
    return load_settings(profile="compose", state_dir=state, compose_project=TEST_PROJECT)


@pytest.fixture(scope="session")
def repo_root():
    return PROJECT_ROOT
