"""Secret scanning with detect-secrets (a kept library) and the lab's plugins for the forms its built-in
plugins miss (taxilab/secret_plugins.py: libpq `password=`, PGPASSWORD, JSON/INI SecretAccessKey and
session tokens, DSN passwords holding `/`, `$` or `%`).
Why: docs/adr/0018-postgres-roles-auth-and-spectrum-scan.md.
"""

from __future__ import annotations

import json
import subprocess
import tempfile
from collections.abc import Iterable
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from taxilab.core.settings import PROJECT_ROOT

if TYPE_CHECKING:
    from detect_secrets.core.potential_secret import PotentialSecret

BASELINE = PROJECT_ROOT / ".secrets.baseline"
PLUGINS_FILE = PROJECT_ROOT / "taxilab" / "secret_plugins.py"

# Values that look like secrets but are not, each with its reason (the plugins skip them too).
ALLOWED_VALUES = {
    "testing": "moto's documented fake credentials (AWS_ACCESS_KEY_ID=testing) for the local emulator",
    "taxilab": "the compose profile's throwaway PostgreSQL password for a loopback-only dev container",
}

SKIP_DIRS = {
    ".git",
    ".venv",
    "__pycache__",
    ".pytest_cache",
    ".ruff_cache",
    ".mypy_cache",
    "jars",
    "node_modules",
    "pg",
}
MAX_BYTES = 2 << 20


@dataclass(frozen=True)
class Finding:
    path: str
    line: int
    kind: str
    excerpt: str  # redacted


def _redact(text: str | None) -> str:
    if not text:
        return "…"
    return text[:4] + "…" if len(text) > 4 else "…"


def _config() -> dict:
    """The baseline's plugins and filters, the lab's plugin file addressed absolutely (cwd-independent)."""
    data = json.loads(BASELINE.read_text())
    plugins = []
    for p in data["plugins_used"]:
        p = dict(p)
        if "path" in p:
            p["path"] = f"file://{PLUGINS_FILE}"
        plugins.append(p)
    filters = []
    for f in data.get("filters_used", []):
        f = dict(f)
        if f["path"].startswith("file://"):
            f["path"] = f"file://{PLUGINS_FILE}::" + f["path"].split("::", 1)[1]
        filters.append(f)
    return {"plugins_used": plugins, "filters_used": filters}


@contextmanager
def _settings():
    from detect_secrets.settings import transient_settings

    with transient_settings(_config()) as s:
        yield s


def _scan_files(files: Iterable[Path], root: Path | None = None) -> list[tuple[str, PotentialSecret]]:
    """[(file name as reported, PotentialSecret)] for the files (binary ones skipped)."""
    from detect_secrets import SecretsCollection

    out = []
    with _settings():
        for p in files:
            try:
                head = p.read_bytes()[:8192]
            except OSError:
                continue
            if b"\0" in head:
                continue  # binary (Parquet, images): not where a credential is written by hand
            collection = SecretsCollection(root=str(root) if root else "")
            collection.scan_file(str(p.relative_to(root)) if root else str(p))
            for filename, secret in collection:
                out.append((filename, secret))
    return out


def _finding(filename: str, secret: PotentialSecret) -> Finding:
    return Finding(filename, secret.line_number or 0, secret.type, _redact(secret.secret_value))


def iter_files(roots: Iterable[Path]) -> Iterable[Path]:
    for root in roots:
        root = Path(root)
        if root.is_file():
            yield root
            continue
        if not root.exists():
            continue
        for p in sorted(root.rglob("*")):
            if any(
                part in SKIP_DIRS or part.endswith(".egg-info") for part in p.relative_to(root).parts[:-1]
            ):
                continue
            if p.is_file() and p.stat().st_size <= MAX_BYTES:
                yield p


def scan_paths(roots: Iterable[Path]) -> list[Finding]:
    """Every secret in the text files under roots (no baseline applies)."""
    return [_finding(f, s) for f, s in _scan_files(iter_files(roots))]


def scan_text(text: str, path: str = "<text>") -> list[Finding]:
    with tempfile.TemporaryDirectory(prefix="taxilab-scan-") as d:
        f = Path(d) / "scanned.txt"
        f.write_text(text)
        return [
            Finding(path, s.line_number or 0, s.type, _redact(s.secret_value)) for _, s in _scan_files([f])
        ]


def repository_files(root: Path = PROJECT_ROOT) -> list[Path]:
    """The repository's files: tracked ones and untracked ones git does not ignore."""
    r = subprocess.run(
        ["git", "-C", str(root), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        capture_output=True,
        check=True,
        timeout=60,
    )
    names = sorted({n for n in r.stdout.decode().split("\0") if n})
    return [root / n for n in names if (root / n).is_file() and (root / n).stat().st_size <= MAX_BYTES]


def scan_repository(root: Path = PROJECT_ROOT) -> list[Finding]:
    """Secrets in the repository's files that the committed, audited baseline does not list."""
    known = set()
    for filename, entries in json.loads(BASELINE.read_text())["results"].items():
        for e in entries:
            known.add((filename, e["type"], e["hashed_secret"]))
    files = [p for p in repository_files(root) if p != BASELINE]
    return [_finding(f, s) for f, s in _scan_files(files, root) if (f, s.type, s.secret_hash) not in known]
