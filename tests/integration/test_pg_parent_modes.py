"""Starting the services as root leaves every directory above the state dir as it was: the PostgreSQL OS
user gets traversal of the lab's own state dir and nothing else (pgserver's ensure_prefix_permissions made
every parent world-readable). A parent that blocks that user fails the start, naming it, unchanged."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

from emulation import services
from taxilab.core.settings import load_settings

pytestmark = pytest.mark.integration


def _modes(path: Path) -> dict[str, int]:
    return {str(p): p.stat().st_mode for p in [path, *path.parents]}


@pytest.fixture()
def parent():
    d = Path(tempfile.mkdtemp(prefix="taxilab-it-parent-"))  # /tmp: traversable by every user
    yield d
    shutil.rmtree(d, ignore_errors=True)


def test_modes_of_every_parent_are_unchanged_after_the_services_start(parent):
    parent.chmod(0o711)  # others may traverse, not list: the start must not make it 0755
    outer = parent / "a"
    outer.mkdir(mode=0o751)
    state = outer / "lab-state"
    state.mkdir(mode=0o700)
    before = _modes(outer)
    settings = load_settings(state_dir=state, bucket="taxilab-it-modes")
    try:
        live = services.ensure_running(settings)
        assert live.pg_port and _modes(outer) == before
    finally:
        services.stop(settings)
    assert _modes(outer) == before


@pytest.mark.skipif(os.geteuid() != 0, reason="only as root does PostgreSQL run as another OS user")
def test_a_parent_the_postgres_user_cannot_traverse_fails_the_start_naming_it_unchanged(parent):
    parent.chmod(0o700)
    state = parent / "lab-state"
    state.mkdir()
    before = _modes(state)
    settings = load_settings(state_dir=state, bucket="taxilab-it-modes")
    try:
        with pytest.raises(services.ServiceError, match=f"cannot traverse {parent}"):
            services.ensure_running(settings)
    finally:
        services.stop(settings)
    assert _modes(state) == before
    assert _emulators_logging_under(state) == [], "the failed start left its moto server running"


def _emulators_logging_under(state: Path) -> list[int]:
    import psutil

    found = []
    for proc in psutil.process_iter(["pid", "cmdline"]):
        try:
            if "emulation.moto_server" in " ".join(proc.info["cmdline"] or []) and any(
                f.path.startswith(str(state)) for f in proc.open_files()
            ):
                found.append(proc.pid)
        except psutil.Error:
            continue
    return found
