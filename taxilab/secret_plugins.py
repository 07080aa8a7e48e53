"""detect-secrets plugins for the credential forms the built-in plugins miss (issue 10), loaded by
taxilab/security.py and recorded in .secrets.baseline as `file://taxilab/secret_plugins.py`, with the
filter `is_documented_fake`.
Why: docs/adr/0018-postgres-roles-auth-and-spectrum-scan.md.
"""

from __future__ import annotations

import re
from collections.abc import Generator

from detect_secrets.plugins.base import RegexBasedDetector

# Fakes the lab documents (each is in taxilab/security.py's ALLOWED_VALUES with its reason).
_FAKES = {"testing", "taxilab"}


def _real(value: str) -> bool:
    v = value.strip("'\"")
    return bool(v) and v not in _FAKES and not v.startswith(("$", "{", "<", "%(", "***")) and v != "..."


def _is_scan_spec(value: str) -> bool:
    """The Spectrum emulation's scan spec: hex of a JSON object naming an s3:// location (it appears in
    the PostgreSQL log when a scan is refused); data, not a secret, though it is a long hex string."""
    import json

    try:
        spec = json.loads(bytes.fromhex(value).decode())
    except (ValueError, UnicodeDecodeError):
        return False
    return isinstance(spec, dict) and str(spec.get("location", "")).startswith("s3://")


_DIGEST_KEY = re.compile(
    r"(?i)[\"']?(?:sha-?256|sha-?1|md5|digest|checksum|e_?tag|content_?hash)[\"']?\s*[:=]"
)


def is_content_digest(secret: str, line: str) -> bool:
    """detect-secrets filter: a hex SHA-256/SHA-1/MD5 under a digest key (a run report's `"sha256": ...` of
    a landed file, a manifest's checksum) is a fingerprint of data, not a secret."""
    return (
        len(secret) in (32, 40, 64)
        and not secret.strip("0123456789abcdef")
        and _DIGEST_KEY.search(line) is not None
    )


_PARTITION_PATH = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=[^/=]*(/[A-Za-z_][A-Za-z0-9_]*=[^/=]*)*/?$")


def _is_partition_path(value: str) -> bool:
    """A Hive partition path (`pickup_date=2024-10-05/time_of_day_category=morning_rush`, as run reports
    list dropped stale partitions): long and varied enough for the entropy detectors, but lake layout."""
    return _PARTITION_PATH.match(value.strip("'\"")) is not None


def is_documented_fake(secret: str) -> bool:
    """detect-secrets filter: the lab's documented fakes, template placeholders, Spectrum scan specs and
    Hive partition paths."""
    return not _real(secret) or _is_scan_spec(secret) or _is_partition_path(secret)


class _Filtered(RegexBasedDetector):
    def analyze_string(self, string: str) -> Generator[str, None, None]:
        for value in super().analyze_string(string):
            if _real(value):
                yield value


class LibpqPasswordDetector(_Filtered):
    """libpq key=value connection strings (quoted or not)."""

    secret_type = "libpq password"  # pragma: allowlist secret
    denylist = (
        re.compile(r"(?<![A-Za-z_])password\s*=\s*('(?:[^'\\]|\\.)+'|[^\s'\",;)]+)"),
    )  # pragma: allowlist secret


class PgPasswordEnvDetector(_Filtered):
    """libpq's password variable in an environment assignment, a shell export, a YAML/JSON map or a log."""

    secret_type = "PGPASSWORD"  # pragma: allowlist secret
    denylist = (re.compile(r"PGPASSWORD[\"']?\s*[:=]\s*[\"']?([^\s\"',}]+)"),)  # pragma: allowlist secret


class AwsSecretFieldDetector(_Filtered):
    """AWS secret keys and session tokens by their field names in JSON (STS and credential-process
    output), INI files and environment variables."""

    secret_type = "AWS secret access key or session token"  # pragma: allowlist secret
    denylist = (
        re.compile(
            r"(?i)[\"']?(?:aws_?)?(?:secret_?access_?key|session_?token|security_?token)[\"']?"  # pragma: allowlist secret
            r"\s*[:=]\s*[\"']?([A-Za-z0-9/+=]{8,})"
        ),
    )

    def analyze_string(self, string: str) -> Generator[str, None, None]:
        # Real keys and tokens are random base64: they hold a digit. A bare word is a variable name.
        yield from (v for v in super().analyze_string(string) if any(c.isdigit() for c in v))


class DsnPasswordDetector(_Filtered):
    """A password in a URL's userinfo; it may hold `/`, `$`, `%` (percent-encoded characters) or any
    other character but whitespace, quotes and `@`."""

    secret_type = "DSN password"  # pragma: allowlist secret
    denylist = (
        re.compile(r"\b[a-z][a-z0-9+.-]*://[^\s:/@\"']+:([^\s@\"']+)@[^\s\"'@]+"),
    )  # pragma: allowlist secret
