"""The S3A jars are verified against SHA-256 sums committed in the repository (emulation/jars.sha256),
never against a checksum fetched from the same server as the jar: a server (or a man in the middle) that
serves a tampered jar together with a matching .sha1 is refused."""

from __future__ import annotations

import hashlib
import http.server
import threading

import pytest

from emulation import spark
from taxilab.core.settings import PROJECT_ROOT, load_settings

SUMS = PROJECT_ROOT / "emulation" / "jars.sha256"


@pytest.fixture()
def evil_maven(tmp_path):
    """A loopback 'Maven repository' serving tampered jars, each with a .sha1 that matches the tampered bytes."""
    settings = load_settings(state_dir=tmp_path / "state")
    root = tmp_path / "repo"
    for group, artifact, version in spark._jar_specs(settings):
        d = root / group.replace(".", "/") / artifact / version
        d.mkdir(parents=True)
        body = b"PK\x03\x04 not the real " + artifact.encode()
        (d / f"{artifact}-{version}.jar").write_bytes(body)
        (d / f"{artifact}-{version}.jar.sha1").write_text(hashlib.sha1(body).hexdigest())

    handler = lambda *a, **k: http.server.SimpleHTTPRequestHandler(*a, directory=str(root), **k)  # noqa: E731
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield settings.model_copy(
        update={
            "spark": settings.spark.model_copy(
                update={"maven_repo": f"http://127.0.0.1:{server.server_address[1]}"}
            )
        }
    )
    server.shutdown()


def test_committed_sums_cover_every_jar_the_lab_uses():
    settings = load_settings()
    sums = spark.committed_jar_sums()
    for _, artifact, version in spark._jar_specs(settings):
        name = f"{artifact}-{version}.jar"
        assert name in sums and len(sums[name]) == 64, f"{name} has no SHA-256 in {SUMS}"


def test_a_tampered_jar_with_a_matching_sha1_from_the_same_server_is_refused(
    evil_maven, tmp_path, monkeypatch
):
    jars = tmp_path / "jars"
    monkeypatch.setattr(
        spark, "jars_dir", lambda settings: jars
    )  # keep the checkout's real jar cache untouched
    with pytest.raises(spark.JarError, match=r"SHA-256 .* does not match .*jars\.sha256"):
        spark.ensure_jars(evil_maven, progress=False)
    assert not list(jars.glob("*.jar")), "a jar that failed verification was kept"


def test_a_cached_jar_whose_bytes_changed_is_not_trusted_for_its_marker(tmp_path, monkeypatch):
    settings = load_settings(state_dir=tmp_path / "state")
    settings = settings.model_copy(
        update={"spark": settings.spark.model_copy(update={"maven_repo": "http://127.0.0.1:9"})}
    )
    jars = tmp_path / "jars"
    jars.mkdir()
    monkeypatch.setattr(spark, "jars_dir", lambda settings: jars)
    _, artifact, version = spark._jar_specs(settings)[0]
    name = f"{artifact}-{version}.jar"
    (jars / name).write_bytes(b"swapped after verification")
    (jars / (name + ".verified")).write_text(hashlib.sha1(b"swapped after verification").hexdigest())
    with pytest.raises(spark.JarError):
        spark.ensure_jars(settings, progress=False)
