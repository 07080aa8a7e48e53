"""No credentials in the project's files; the scanner itself catches each kind it claims to."""

from __future__ import annotations

from taxilab.core.settings import PROJECT_ROOT
from taxilab.security import ALLOWED_VALUES, scan_paths, scan_text

# Built at run time so this file itself holds no secret-looking literal.
FAKE_KEY_ID = "AKIA" + "Q3EXAMPLE7ZXYWV2"
FAKE_PEM = "-----BEGIN " + "RSA PRIVATE KEY-----"


def test_scanner_finds_each_kind_of_secret_and_redacts_it():
    text = "\n".join([
        f"key = {FAKE_KEY_ID}",
        FAKE_PEM,
        "aws_secret_access_key = " + "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY",
        "dsn: postgresql://admin:" + "s3cr3tPass@db.example.com:5432/prod",
    ])
    found = scan_text(text)
    assert [f.kind for f in found] == ["aws-access-key-id", "private-key", "aws-secret-access-key", "dsn-password"]
    assert all("EXAMPLE" not in f.excerpt and "s3cr3t" not in f.excerpt for f in found)


def test_moto_testing_credentials_and_placeholders_are_allowlisted_explicitly():
    assert "testing" in ALLOWED_VALUES
    text = "AWS_SECRET_ACCESS_KEY=testing\nurl = postgresql://postgres:testing@127.0.0.1:5439/x\n" \
           "dsn = postgresql://user:${PASSWORD}@host/db\npostgresql://postgres@127.0.0.1:5432/taxilab"
    assert scan_text(text) == []


def test_project_files_hold_no_credentials():
    findings = scan_paths([PROJECT_ROOT / p for p in ("taxilab", "spark_jobs", "emulation", "tests", "sql", "docs")]
                          + [PROJECT_ROOT / f for f in ("README.md", "Makefile", "pyproject.toml", "docker-compose.yml")])
    assert findings == []


def test_developer_lab_logs_and_run_reports_hold_no_credentials():
    lab = PROJECT_ROOT / ".lab"
    assert scan_paths([lab / "logs", lab / "runs"]) == []
