"""The README's Layout section is the tree: every top-level folder and every package of the three code rooms
is listed, and everything listed exists."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ROOMS = ("taxilab", "emulation", "spark_jobs")


def _layout_entries() -> list[str]:
    text = (ROOT / "README.md").read_text()
    block = text.split("## Layout\n", 1)[1].split("```\n", 2)[1]
    entries, parent = [], ""
    for line in block.splitlines():
        m = re.match(r"^( *)(\S+)", line)
        if not m:
            continue
        indent, name = len(m.group(1)), m.group(2)
        if indent == 0:
            parent = name.rstrip("/")
            entries.append(name)
        else:
            entries.append(f"{parent}/{name}")
    return entries


def _tracked_top_level() -> set[str]:
    files = subprocess.run(
        ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    return {f.split("/", 1)[0] + ("/" if "/" in f else "") for f in files if not f.startswith(".")}


def test_every_listed_path_exists():
    missing = [e for e in _layout_entries() if not (ROOT / e.rstrip("/")).exists()]
    assert missing == [], f"README Layout lists paths that do not exist: {missing}"


def test_every_top_level_entry_of_the_repository_is_listed():
    listed = {e for e in _layout_entries() if "/" not in e.rstrip("/")}
    assert _tracked_top_level() - listed == set(), "top-level entries missing from the README's Layout"


def test_every_package_of_the_code_rooms_is_listed():
    listed = {e.rstrip("/") for e in _layout_entries()}
    packages = {
        str(p.parent.relative_to(ROOT)) for room in ROOMS for p in (ROOT / room).glob("*/__init__.py")
    }
    assert packages - listed == set(), "packages missing from the README's Layout"
