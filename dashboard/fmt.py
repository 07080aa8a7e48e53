"""How the dashboard writes numbers (the tests write the named queries' results the same way)."""

from __future__ import annotations


def num(v) -> str:
    return f"{int(v):,}"


def money(v) -> str:
    return f"${float(v):,.2f}"


def pct(v) -> str:
    return f"{float(v):.2f}%"
