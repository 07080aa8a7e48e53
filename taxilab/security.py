"""A small secret scanner: AWS access keys, private keys, AWS secret assignments and DSN passwords.

Used by tests/unit/test_secrets.py on the project's files and by the integration tests on the logs and
run reports a pipeline run writes. Fake values that are not secrets are allowlisted explicitly below.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

PATTERNS: dict[str, re.Pattern] = {
    "aws-access-key-id": re.compile(r"\b(?:AKIA|ASIA|AGPA|AIDA|AROA)[0-9A-Z]{16}\b"),
    "private-key": re.compile(r"-----BEGIN (?:RSA |EC |DSA |OPENSSH |ENCRYPTED |PGP )?PRIVATE KEY(?: BLOCK)?-----"),
    "aws-secret-access-key": re.compile(
        r"(?i)aws_?secret_?access_?key[\"']?\s*[:=]\s*[\"']?([A-Za-z0-9/+=]{16,})"),
    "dsn-password": re.compile(r"\b[a-z][a-z0-9+.-]*://[^\s:/@\"']+:([^\s@/\"']+)@[^\s/\"']+"),
}

# Values that look like secrets but are not, each with its reason.
ALLOWED_VALUES = {
    "testing": "moto's documented fake credentials (AWS_ACCESS_KEY_ID=testing) for the local emulator",
    "taxilab": "the compose profile's throwaway PostgreSQL password for a loopback-only dev container",
}

SKIP_DIRS = {".git", ".venv", "__pycache__", ".pytest_cache", ".ruff_cache", "jars", "node_modules", "pg"}
MAX_BYTES = 2 << 20


@dataclass(frozen=True)
class Finding:
    path: str
    line: int
    kind: str
    excerpt: str  # redacted


def _redact(text: str) -> str:
    return text[:4] + "…" if len(text) > 4 else "…"


def scan_text(text: str, path: str = "<text>") -> list[Finding]:
    out = []
    for lineno, line in enumerate(text.splitlines(), start=1):
        for kind, pat in PATTERNS.items():
            for m in pat.finditer(line):
                value = m.group(1) if m.groups() else m.group(0)
                if value in ALLOWED_VALUES or value.startswith(("$", "{", "<", "%")):
                    continue  # allowlisted fake, or a template placeholder, not a value
                out.append(Finding(path, lineno, kind, _redact(value)))
    return out


def iter_files(roots: Iterable[Path]) -> Iterable[Path]:
    for root in roots:
        root = Path(root)
        if root.is_file():
            yield root
            continue
        if not root.exists():
            continue
        for p in sorted(root.rglob("*")):
            if any(part in SKIP_DIRS or part.endswith(".egg-info") for part in p.relative_to(root).parts[:-1]):
                continue
            if p.is_file() and p.stat().st_size <= MAX_BYTES:
                yield p


def scan_paths(roots: Iterable[Path]) -> list[Finding]:
    """Scan text files under roots (binary files skipped); findings carry redacted excerpts only."""
    findings = []
    for p in iter_files(roots):
        data = p.read_bytes()
        if b"\0" in data[:8192]:
            continue  # binary (Parquet, images): not where a credential is written by hand
        findings += scan_text(data.decode("utf-8", errors="replace"), str(p))
    return findings
