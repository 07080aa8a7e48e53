"""Module docstrings stay short (docs/adr/0012-layout-and-layers.md, "Module docstrings"). The rule: every
module under taxilab/, emulation/, spark_jobs/ and dashboard/ that has a docstring has ONE paragraph (no blank
line) of at most MAX_LINES lines; the why goes to an ADR, which the docstring names."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("taxilab", "emulation", "spark_jobs", "dashboard")
MAX_LINES = 6


def docstring_problem(source: str) -> str | None:
    """What is wrong with the module docstring of `source` under the rule, or None."""
    doc = ast.get_docstring(ast.parse(source), clean=True)
    if doc is None:
        return None
    lines = doc.strip().splitlines()
    if any(not line.strip() for line in lines):
        return "more than one paragraph"
    if len(lines) > MAX_LINES:
        return f"{len(lines)} lines (at most {MAX_LINES})"
    return None


def _modules() -> list[str]:
    out = []
    for pkg in PACKAGES:
        for f in sorted((ROOT / pkg).rglob("*.py")):
            out.append(f.relative_to(ROOT).as_posix())
    return out


def test_every_module_docstring_is_one_short_paragraph():
    problems = {m: p for m in _modules() if (p := docstring_problem((ROOT / m).read_text()))}
    assert problems == {}, "shorten these, moving the why to an ADR: " + "; ".join(
        f"{m}: {p}" for m, p in problems.items()
    )


@pytest.mark.parametrize(
    ("source", "problem"),
    [
        ('"""One line."""\n', None),
        ('"""Two lines,\nstill one paragraph."""\n', None),
        ('"""First.\n\nSecond paragraph."""\n', "more than one paragraph"),
        ('"""' + "\n".join(["x"] * 7) + '"""\n', "7 lines (at most 6)"),
        ("x = 1\n", None),
    ],
)
def test_the_rule_flags_several_paragraphs_and_long_docstrings(source, problem):
    assert docstring_problem(source) == problem
