"""The secret scanner (detect-secrets + the lab's plugins, taxilab/security.py): each form it claims is
found in inline fake data and redacted; documented fakes and placeholders are not findings; the
repository holds nothing beyond the audited .secrets.baseline."""

from __future__ import annotations

import json

import pytest

from taxilab.core.settings import PROJECT_ROOT
from taxilab.security import ALLOWED_VALUES, BASELINE, scan_paths, scan_repository, scan_text

# Built at run time so this file itself holds no secret-looking literal.
FAKE_KEY_ID = "AKIA" + "Q3EXAMPLE7ZXYWV2"
FAKE_PEM = "-----BEGIN " + "RSA PRIVATE KEY-----\nMIIEow" + "IBAAKCAQEA\n-----END RSA PRIVATE KEY-----"
FAKE_SECRET = "wJalrXUtnFEMI/K7MDENG/" + "bPxRfiCYzEXAMPLEKEY"
FAKE_TOKEN = "IQoJb3JpZ2luX2VjEOr//" + "////////wEaCXVzLWVhc3QtMSJHMEUCIQD"

FORMS = {
    "aws access key id": (f"key = {FAKE_KEY_ID}", FAKE_KEY_ID),
    "private key": (FAKE_PEM, None),
    "aws_secret_access_key assignment": ("aws_secret_access_key = " + FAKE_SECRET, FAKE_SECRET),
    "DSN password": ("dsn: postgresql://admin:" + "s3cr3tPass@db.example.com:5432/prod", "s3cr3tPass"),
    "libpq password=": (
        "conninfo = host=127.0.0.1 port=5432 user=app pass" + "word=Zq8xP0wnd2 dbname=t",
        "Zq8xP0wnd2",
    ),
    "libpq quoted password=": ("host=db user=app password=" + "'Zq8 xP\\'0w'", "Zq8 xP\\'0w"),
    "PGPASSWORD": ("export PGPASS" + "WORD=hunter2hunter2", "hunter2hunter2"),
    "PGPASSWORD in JSON env": ('{"env": {"PGPASS' + 'WORD": "Tr0ub4dor3"}}', "Tr0ub4dor3"),
    "JSON SecretAccessKey": (
        '{"AccessKeyId": "ASIA' + 'XXXX", "SecretAccess' + 'Key": "' + FAKE_SECRET + '"}',
        FAKE_SECRET,
    ),
    "JSON SessionToken": ('{"Session' + 'Token": "' + FAKE_TOKEN + '"}', FAKE_TOKEN),
    "aws_session_token in INI": ("aws_session" + "_token = " + FAKE_TOKEN, FAKE_TOKEN),
    "DSN password with /": ("postgresql://app:" + "ab/cd9ef@127.0.0.1:5432/taxilab", "ab/cd9ef"),
    "DSN password with $": ("postgresql://app:" + "p4$$word@127.0.0.1:5432/taxilab", "p4$$word"),
    "DSN password with %": ("postgresql://app:" + "p%40ss%2Fw0rd@127.0.0.1:5432/taxilab", "p%40ss%2Fw0rd"),
}


@pytest.mark.parametrize("form", list(FORMS))
def test_each_form_of_secret_is_found_and_redacted(form):
    text, value = FORMS[form]
    found = scan_text(text)
    assert found, f"{form} was not found in {text!r}"
    for f in found:
        assert value is None or value[4:] not in f.excerpt, f"{form}: the finding is not redacted: {f}"


def test_moto_testing_credentials_and_placeholders_are_allowlisted_explicitly():
    assert "testing" in ALLOWED_VALUES
    text = (
        "AWS_SECRET_ACCESS_KEY=testing\nurl = postgresql://postgres:testing@127.0.0.1:5439/x\n"
        "dsn = postgresql://user:${PASSWORD}@host/db\npostgresql://postgres@127.0.0.1:5432/taxilab\n"
        "host=127.0.0.1 user=taxilab_app passfile=/x/.lab/pg/pgpass dbname=taxilab\n"
        "AWS_SECRET_ACCESS_KEY: settings.emulator_secret_key\nPGPASSWORD=$PGPASSWORD\n"
    )
    assert scan_text(text) == []


def test_log_and_run_report_folders_are_scanned_file_by_file(tmp_path):
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "pipeline.log").write_text(
        "connecting to postgresql://taxilab_app:" + "Gx9/q$w%2Fz@127.0.0.1/t\n"
    )
    (tmp_path / "runs").mkdir()
    (tmp_path / "runs" / "r.json").write_text(json.dumps({"warehouse": "host=h password=" + "Pw0rd9x7"}))
    found = scan_paths([tmp_path / "logs", tmp_path / "runs"])
    assert sorted((f.path.rsplit("/", 1)[-1], f.line) for f in found) == [("pipeline.log", 1), ("r.json", 1)]


def test_the_baseline_is_committed_audited_and_uses_the_lab_plugins():
    data = json.loads(BASELINE.read_text())
    names = {p["name"] for p in data["plugins_used"]}
    assert {
        "LibpqPasswordDetector",
        "PgPasswordEnvDetector",
        "AwsSecretFieldDetector",
        "DsnPasswordDetector",
        "AWSKeyDetector",
        "PrivateKeyDetector",
    } <= names
    unaudited = [
        (f, e["line_number"])
        for f, es in data["results"].items()
        for e in es
        if e.get("is_secret") is not False
    ]
    assert unaudited == [], "baseline entries must be audited fakes (is_secret: false)"


def test_repository_files_hold_no_credentials_beyond_the_audited_baseline():
    findings = scan_repository(PROJECT_ROOT)
    assert findings == [], "\n".join(f"{f.path}:{f.line} {f.kind} {f.excerpt}" for f in findings)


def test_a_spectrum_scan_spec_in_a_log_is_data_but_a_hex_key_is_not():
    spec = (
        b'{"location": "s3://taxilab-lake/staging/nyc_taxi/", "columns": ["vendorid", "total_amount"]}'.hex()
    )
    assert scan_text(f"STATEMENT:  SELECT * FROM lab_meta.spectrum_scan('s3://x/', 'a', '{spec}')") == []
    assert scan_text(
        "secret_key = '" + "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08" + "'"
    )


def test_a_file_digest_in_a_run_report_is_data_but_the_same_hex_as_a_token_is_not():
    digest = "cd2dc47c749904bc02eeec142b8df10c" + "579bd4101c6d2e63440130982b6ff7a8"
    assert scan_text('{"raw_key": "raw/x.parquet", "sha256": "' + digest + '", "action": "uploaded"}') == []
    assert scan_text('{"api_token": "' + digest + '"}')


def test_hive_partition_paths_in_run_reports_are_lake_layout_not_secrets(tmp_path):
    """Run reports list the stale partitions an etl run dropped; their long key=value paths once tripped the
    entropy detector (found by a full CI run). A real high-entropy value beside them is still caught."""
    from taxilab import security

    report = tmp_path / "run.json"
    report.write_text(
        '{"stale_partitions_dropped": ["pickup_date=2024-10-05/time_of_day_category=morning_rush",\n'
        ' "pickup_date=2024-10-07/time_of_day_category=evening_rush"]}\n'
    )
    assert security.scan_paths([tmp_path]) == []
    leaked = '{"api_token": "aB3xQ9zK7mPq2LwR8tYv5NcE1hGj4SdF"}\n'  # pragma: allowlist secret
    report.write_text(report.read_text() + leaked)
    assert security.scan_paths([tmp_path]) != []
