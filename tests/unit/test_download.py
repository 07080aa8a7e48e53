"""download() against a real HTTP server on 127.0.0.1 whose misbehaviour each test scripts."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from taxilab.ingest.download import DownloadError, download
from taxilab.ingest.manifest import describe_parquet, sha256_file, write_manifest

pytestmark = pytest.mark.timeout(30)

ROWS = 3000
FAST = {"backoff_initial": 0.01, "backoff_max": 0.05, "timeout": 5.0, "chunk_size": 4096}
ETAG = '"v1"'


def _parquet_bytes() -> bytes:
    table = pa.table(
        {
            "VendorID": pa.array([i % 3 for i in range(ROWS)], pa.int32()),
            "trip_distance": pa.array([i * 0.1 for i in range(ROWS)], pa.float64()),
            "store_and_fwd_flag": pa.array(["N" if i % 7 else "Y" for i in range(ROWS)], pa.large_string()),
        }
    )
    buf = io.BytesIO()
    # No compression/dictionary, so the file spans several chunks and "half" is a real midpoint.
    pq.write_table(table, buf, compression="none", use_dictionary=False)
    return buf.getvalue()


BODY = _parquet_bytes()
BODY_SHA = hashlib.sha256(BODY).hexdigest()


class Script:
    """What the server does: one action per request from ``plan``, then ``default``."""

    def __init__(self, body: bytes) -> None:
        self.body = body
        self.plan: list = []
        self.default = "ok"
        self.requests: list[dict] = []
        self.base = ""

    def url(self, name: str = "yellow_tripdata_2024-01.parquet") -> str:
        return f"{self.base}/trip-data/{name}"

    def next_action(self):
        return self.plan.pop(0) if self.plan else self.default


class Handler(BaseHTTPRequestHandler):
    # HTTP/1.0: one request per connection, so "close the socket" needs no keep-alive handling.
    protocol_version = "HTTP/1.0"

    def do_GET(self) -> None:  # noqa: N802 (http.server naming)
        script: Script = self.server.script  # type: ignore[attr-defined]
        script.requests.append(
            {
                "path": self.path,
                "range": self.headers.get("Range"),
                "if_range": self.headers.get("If-Range"),
                "accept_encoding": self.headers.get("Accept-Encoding"),
            }
        )
        action = script.next_action()
        kind, arg = (action, None) if isinstance(action, str) else action
        body = script.body
        if kind == "ok":
            self._serve(body, honour_range=True)
        elif kind == "ignore_range":
            self._serve(body, honour_range=False)
        elif kind == "503":
            self._send(503, b"busy", {"Retry-After": str(arg if arg is not None else 0)})
        elif kind == "404":
            self._send(404, b"<Error>NoSuchKey</Error>")
        elif kind == "drop_half":
            # Promise the whole body, deliver half, hang up.
            self._head(200, {"Content-Length": str(len(body)), "ETag": ETAG})
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
        elif kind == "stall":
            # Half the body, then silence longer than the client's read timeout.
            self._head(200, {"Content-Length": str(len(body)), "ETag": ETAG})
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            time.sleep(arg)
            self.close_connection = True
        elif kind == "gzip":
            # Compresses although the client asked for identity.
            self._send(200, gzip.compress(body), {"Content-Encoding": "gzip"})
        elif kind == "bad_range":
            # 206 for a range the client did not ask for.
            self._send(206, body, {"Content-Range": f"bytes 0-{len(body) - 1}/{len(body)}"})
        else:  # pragma: no cover - a typo in a test plan
            raise AssertionError(kind)

    def _serve(self, body: bytes, *, honour_range: bool) -> None:
        rng = self.headers.get("Range")
        if_range = self.headers.get("If-Range")
        if honour_range and rng and (if_range is None or if_range == ETAG):
            start = int(rng.removeprefix("bytes=").removesuffix("-"))
            if start >= len(body):
                self._send(416, b"", {"Content-Range": f"bytes */{len(body)}"})
                return
            headers = {"Content-Range": f"bytes {start}-{len(body) - 1}/{len(body)}", "ETag": ETAG}
            self._send(206, body[start:], headers)
        else:
            self._send(200, body, {"ETag": ETAG})

    def _head(self, status: int, headers: dict[str, str]) -> None:
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        self.end_headers()

    def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self._head(status, {"Content-Length": str(len(body)), **(headers or {})})
        try:
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - keep pytest output quiet
        pass


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    # A proxy from the environment would swallow requests meant for 127.0.0.1.
    for var in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(var, raising=False)


@pytest.fixture
def server():
    script = Script(BODY)
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.script = script  # type: ignore[attr-defined]
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    script.base = f"http://127.0.0.1:{httpd.server_address[1]}"
    try:
        yield script
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)


@pytest.fixture
def dest(tmp_path: Path) -> Path:
    return tmp_path / "raw" / "yellow_tripdata_2024-01.parquet"


def _sibling(path: Path, suffix: str) -> Path:
    return path.with_name(path.name + suffix)


def test_plain_download_checks_hash_rows_and_reports_progress(server: Script, dest: Path) -> None:
    calls: list[tuple[int, int | None]] = []
    got = download(server.url(), dest, progress=lambda done, total: calls.append((done, total)), **FAST)

    assert dest.read_bytes() == BODY
    assert got.sha256 == BODY_SHA == sha256_file(dest)
    assert (got.rows, got.bytes, got.attempts, got.resumed) == (ROWS, len(BODY), 1, False)
    assert got.path == dest and got.url == server.url()
    assert _sibling(dest, ".sha256").read_text().split() == [BODY_SHA, dest.name]
    assert not _sibling(dest, ".part").exists()
    assert not _sibling(dest, ".part.validator").exists()
    # Several chunks, monotonic, ending at (size, size).
    assert len(calls) > 2
    assert [d for d, _ in calls] == sorted(d for d, _ in calls)
    assert calls[-1] == (len(BODY), len(BODY))
    assert server.requests[0]["range"] is None


def test_retries_503_honouring_retry_after_then_succeeds(server: Script, dest: Path) -> None:
    server.plan = [("503", 0), ("503", 0)]
    got = download(server.url(), dest, max_attempts=5, **FAST)

    assert got.sha256 == BODY_SHA and got.rows == ROWS
    assert got.attempts == 3
    assert len(server.requests) == 3


def test_retry_after_is_capped_by_backoff_max(server: Script, dest: Path) -> None:
    server.plan = [("503", 3600)]  # an hour, honoured only up to backoff_max
    started = time.monotonic()
    got = download(server.url(), dest, **FAST)

    assert got.attempts == 2
    assert time.monotonic() - started < 5


def test_gives_up_after_max_attempts(server: Script, dest: Path) -> None:
    server.default = ("503", 0)
    with pytest.raises(DownloadError) as err:
        download(server.url(), dest, max_attempts=3, **FAST)

    msg = str(err.value)
    assert "gave up" in msg and "after 3 attempts" in msg
    assert server.url() in msg and "503" in msg
    assert len(server.requests) == 3
    assert not dest.exists()


def test_dropped_connection_resumes_with_range(server: Script, dest: Path) -> None:
    server.plan = ["drop_half"]
    got = download(server.url(), dest, **FAST)

    assert got.sha256 == BODY_SHA and got.rows == ROWS
    assert (got.attempts, got.resumed) == (2, True)
    first, second = server.requests
    assert first["range"] is None
    start = int(second["range"].removeprefix("bytes=").removesuffix("-"))
    assert 0 < start <= len(BODY) // 2
    assert second["if_range"] == ETAG  # resumes only the same version of the file


def test_dropped_connection_with_one_big_chunk_still_resumes(server: Script, dest: Path) -> None:
    # Default 1 MiB chunks: the whole body fits in one read, so the half must still reach .part.
    server.plan = ["drop_half"]
    got = download(server.url(), dest, backoff_initial=0.01, backoff_max=0.05, timeout=5.0)

    assert got.sha256 == BODY_SHA
    assert (got.attempts, got.resumed) == (2, True)
    assert server.requests[1]["range"] is not None


def test_read_timeout_is_retried_and_resumed(server: Script, dest: Path) -> None:
    server.plan = [("stall", 1.5)]
    got = download(server.url(), dest, **{**FAST, "timeout": 0.3})

    assert got.sha256 == BODY_SHA
    assert (got.attempts, got.resumed) == (2, True)
    assert server.requests[1]["range"] is not None


def test_server_ignoring_range_restarts_from_zero(server: Script, dest: Path) -> None:
    server.plan = ["drop_half", "ignore_range"]
    got = download(server.url(), dest, **FAST)

    assert dest.read_bytes() == BODY  # not half + full
    assert got.sha256 == BODY_SHA
    assert (got.attempts, got.resumed) == (2, False)
    assert server.requests[1]["range"] is not None


def test_mismatched_content_range_discards_part(server: Script, dest: Path) -> None:
    server.plan = ["drop_half", "bad_range"]
    got = download(server.url(), dest, **FAST)

    assert got.sha256 == BODY_SHA
    assert got.attempts == 3
    assert server.requests[2]["range"] is None  # .part was thrown away, fresh start


def test_resumes_a_part_left_by_an_earlier_run(server: Script, dest: Path) -> None:
    dest.parent.mkdir(parents=True)
    _sibling(dest, ".part").write_bytes(BODY[:1000])
    _sibling(dest, ".part.validator").write_text(ETAG + "\n")
    got = download(server.url(), dest, **FAST)

    assert got.sha256 == BODY_SHA
    assert (got.attempts, got.resumed) == (1, True)
    assert server.requests[0]["range"] == "bytes=1000-"


def test_part_of_an_older_version_is_not_spliced(server: Script, dest: Path) -> None:
    # The .part came from a version of the file the server no longer has (TLC re-published).
    dest.parent.mkdir(parents=True)
    _sibling(dest, ".part").write_bytes(b"x" * 1000)
    _sibling(dest, ".part.validator").write_text('"v0"\n')
    got = download(server.url(), dest, **FAST)

    assert dest.read_bytes() == BODY
    assert (got.attempts, got.resumed) == (1, False)
    assert server.requests[0]["if_range"] == '"v0"'


def test_complete_part_is_finished_without_refetching(server: Script, dest: Path) -> None:
    # An earlier run received every byte, then died before the rename: the server answers 416.
    dest.parent.mkdir(parents=True)
    _sibling(dest, ".part").write_bytes(BODY)
    got = download(server.url(), dest, **FAST)

    assert got.sha256 == BODY_SHA and got.rows == ROWS
    assert got.attempts == 1
    assert server.requests[0]["range"] == f"bytes={len(BODY)}-"


def test_404_fails_at_once_with_a_clear_message(server: Script, dest: Path) -> None:
    server.default = "404"
    url = server.url("yellow_tripdata_2031-01.parquet")
    with pytest.raises(DownloadError) as err:
        download(url, dest, **FAST)

    msg = str(err.value)
    assert "not published 2031-01" in msg
    assert "HTTP 404" in msg and url in msg
    assert len(server.requests) == 1  # not retried
    assert not dest.exists()


def test_404_on_a_non_month_url(server: Script, tmp_path: Path) -> None:
    server.default = "404"
    url = server.url("misc/taxi_zone_lookup.csv")
    with pytest.raises(DownloadError, match=r"HTTP 404.*taxi_zone_lookup\.csv.*check the URL"):
        download(url, tmp_path / "zones.csv", **FAST)


def test_unrequested_content_encoding_is_refused(server: Script, dest: Path) -> None:
    server.default = "gzip"
    with pytest.raises(DownloadError, match="Content-Encoding 'gzip'"):
        download(server.url(), dest, **FAST)
    assert server.requests[0]["accept_encoding"] == "identity"
    assert len(server.requests) == 1 and not dest.exists()


def test_non_parquet_body_is_kept_as_invalid(server: Script, dest: Path) -> None:
    server.body = b"<html><body>Service unavailable</body></html>"
    with pytest.raises(DownloadError) as err:
        download(server.url(), dest, **FAST)

    invalid = _sibling(dest, ".invalid")
    assert str(invalid) in str(err.value) and "not" in str(err.value) and "Parquet" in str(err.value)
    assert invalid.read_bytes() == server.body
    assert not dest.exists()
    assert not _sibling(dest, ".part").exists()
    assert not _sibling(dest, ".part.validator").exists()
    assert not _sibling(dest, ".sha256").exists()


def test_non_parquet_destination_is_not_parsed(server: Script, tmp_path: Path) -> None:
    server.body = b"LocationID,Borough\n1,EWR\n"
    got = download(server.url("taxi_zone_lookup.csv"), tmp_path / "zones.csv", **FAST)

    assert got.rows is None
    assert got.sha256 == hashlib.sha256(server.body).hexdigest()


def test_cache_hit_skips_the_network(server: Script, dest: Path) -> None:
    download(server.url(), dest, **FAST)
    server.requests.clear()

    got = download(server.url(), dest, **FAST)

    assert server.requests == []
    assert (got.attempts, got.resumed) == (0, False)
    assert got.sha256 == BODY_SHA and got.rows == ROWS and got.bytes == len(BODY)


def test_sidecar_mismatch_downloads_again(server: Script, dest: Path) -> None:
    download(server.url(), dest, **FAST)
    dest.write_bytes(b"corrupted")
    server.requests.clear()

    got = download(server.url(), dest, **FAST)

    assert got.attempts == 1 and len(server.requests) == 1
    assert dest.read_bytes() == BODY


def test_manifest_entry_and_file(server: Script, dest: Path, tmp_path: Path) -> None:
    download(server.url(), dest, **FAST)
    entry = describe_parquet(dest, server.url())

    assert entry["source"] == server.url() and entry["file"] == dest.name
    assert (entry["bytes"], entry["sha256"], entry["rows"]) == (len(BODY), BODY_SHA, ROWS)
    assert entry["schema"] == [
        ["VendorID", "int32"],
        ["trip_distance", "double"],
        ["store_and_fwd_flag", "large_string"],
    ]
    assert entry["recorded_at"].endswith("+00:00")

    manifest = tmp_path / "out" / "manifest.json"
    write_manifest(manifest, [entry])
    assert json.loads(manifest.read_text()) == {"entries": [entry]}
    assert list(manifest.parent.iterdir()) == [manifest]  # no temp file left behind

    with pytest.raises(ValueError, match="lacks keys"):
        write_manifest(manifest, [{"file": "x"}])
