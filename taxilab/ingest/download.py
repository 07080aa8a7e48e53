"""Download one TLC month file over HTTP, with retries and resume.
Why: docs/adr/0007-nothing-lost.md.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path

import pyarrow.parquet as pq
import requests
import urllib3
from tenacity import (
    RetryCallState,
    RetryError,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential_jitter,
)

from taxilab.core.runs import timed
from taxilab.core.state import write_text
from taxilab.ingest.manifest import sha256_file

log = logging.getLogger(__name__)

RETRYABLE_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})
# Only these statuses define Retry-After as "come back later"; on others the header means nothing.
_RETRY_AFTER_STATUS = frozenset({429, 503})
_MONTH_RE = re.compile(r"(\d{4}-\d{2})\.parquet$")
_CONTENT_RANGE_RE = re.compile(r"bytes\s+(\d+)-(\d+)/(\d+|\*)")
_SHA256_RE = re.compile(r"[0-9a-f]{64}")
_USER_AGENT = "taxilab/0.1 (+https://github.com/psf/requests)"

ProgressFn = Callable[[int, int | None], None]


class DownloadError(RuntimeError):
    """A download that cannot succeed without the user doing something; the message says what."""


class _Retryable(Exception):
    """A transient failure; ``retry_after`` is the server's hint in seconds, if it gave one."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


# Everything worth another attempt. Before the body, requests raises ConnectionError (refused,
# reset, connect timeout) or ReadTimeout (no headers in time; a Timeout, not a ConnectionError).
# ChunkedEncodingError is requests' name for a connection broken mid-body; _attempt reads the body
# through urllib3 and turns its errors into _Retryable itself, but keep it here for safety.
_TRANSIENT = (
    _Retryable,
    requests.ConnectionError,
    requests.Timeout,
    requests.exceptions.ChunkedEncodingError,
)


@dataclass(frozen=True)
class Downloaded:
    url: str
    path: Path
    bytes: int
    sha256: str
    rows: int | None  # None unless dest is a .parquet file
    seconds: float
    attempts: int  # HTTP requests made; 0 on a cache hit
    resumed: bool  # the final file includes bytes received before the last request (206 append)


@dataclass
class _State:
    """What the attempts of one download() share."""

    attempts: int = 0
    resumed: bool = False


def download(
    url: str,
    dest: Path,
    *,
    max_attempts: int = 5,
    timeout: float = 30.0,
    backoff_initial: float = 1.0,
    backoff_max: float = 20.0,
    progress: ProgressFn | None = None,
    chunk_size: int = 1 << 20,
) -> Downloaded:
    """Download ``url`` to ``dest``; see the module docstring for the files involved.

    ``timeout`` is both the connect timeout and the read timeout, i.e. the longest the server may
    stay silent, so a stalled transfer fails and is retried instead of hanging. ``progress`` gets
    absolute ``(bytes_done, total_or_None)``; ``bytes_done`` can go back to 0 when a server ignores
    the Range header and the download restarts.
    """
    if max_attempts < 1:
        raise ValueError(f"max_attempts must be >= 1, got {max_attempts}")
    dest = Path(dest)
    with timed() as clock:
        got = _from_cache(url, dest) or _fetch(
            url,
            dest,
            max_attempts=max_attempts,
            timeout=timeout,
            backoff_initial=backoff_initial,
            backoff_max=backoff_max,
            progress=progress,
            chunk_size=chunk_size,
        )
    if got.attempts:
        log.info(
            "%s: %d bytes in %.1fs, %d attempt(s), sha256 %s",
            dest,
            got.bytes,
            clock.seconds,
            got.attempts,
            got.sha256,
        )
    return replace(got, seconds=clock.seconds)


def _from_cache(url: str, dest: Path) -> Downloaded | None:
    """The cached file, when its sha256 sidecar vouches for it."""
    sidecar = _suffixed(dest, ".sha256")
    cached = _cached_sha256(dest, sidecar)
    if cached is None:
        return None
    log.info("%s: cached, sha256 matches %s; not downloading", dest, sidecar.name)
    return Downloaded(
        url=url,
        path=dest,
        bytes=dest.stat().st_size,
        sha256=cached,
        rows=_parquet_rows(dest, dest, url) if _is_parquet(dest) else None,
        seconds=0.0,
        attempts=0,
        resumed=False,
    )


def _fetch(
    url: str,
    dest: Path,
    *,
    max_attempts: int,
    timeout: float,
    backoff_initial: float,
    backoff_max: float,
    progress: ProgressFn | None,
    chunk_size: int,
) -> Downloaded:
    """Download into <dest>.part (resuming it), check it, rename it to dest and write the sidecar."""
    sidecar = _suffixed(dest, ".sha256")
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = _suffixed(dest, ".part")
    state = _State()
    retrying = Retrying(
        stop=stop_after_attempt(max_attempts),
        wait=_make_wait(backoff_initial, backoff_max),
        retry=retry_if_exception_type(_TRANSIENT),
        before_sleep=_log_retry(url),
    )
    with requests.Session() as session:
        session.headers["User-Agent"] = _USER_AGENT
        try:
            retrying(
                _attempt,
                session,
                url,
                part,
                state,
                timeout=timeout,
                chunk_size=chunk_size,
                progress=progress,
            )
        except RetryError as exc:
            last = exc.last_attempt.exception()
            raise DownloadError(
                f"gave up on {url} after {state.attempts} attempts; last error: {_describe(last)}. "
                f"The {part.stat().st_size if part.exists() else 0} bytes received are kept in {part} "
                f"and the next run resumes from them; check the network or try again later."
            ) from last

    _suffixed(part, ".validator").unlink(missing_ok=True)  # .part is complete: nothing left to resume
    # Hash and validate before the rename, so <dest> never holds bytes that failed a check.
    digest = sha256_file(part)
    rows = _parquet_rows(part, dest, url) if _is_parquet(dest) else None
    size = part.stat().st_size
    # .part keeps its fixed name while it grows (that is what a later run resumes from), so it is
    # renamed here itself rather than written through taxilab.core.state.
    os.replace(part, dest)
    write_text(sidecar, f"{digest}  {dest.name}\n")
    return Downloaded(
        url=url,
        path=dest,
        bytes=size,
        sha256=digest,
        rows=rows,
        seconds=0.0,
        attempts=state.attempts,
        resumed=state.resumed,
    )


def _attempt(
    session: requests.Session,
    url: str,
    part: Path,
    state: _State,
    *,
    timeout: float,
    chunk_size: int,
    progress: ProgressFn | None,
) -> None:
    """One HTTP request: continue ``part`` (or start it) and leave it complete, or raise.

    Raises _Retryable / a requests error for transient trouble and DownloadError otherwise.
    """
    state.attempts += 1
    validator_file = _suffixed(part, ".validator")
    offset = part.stat().st_size if part.exists() else 0
    # identity: byte offsets for Range and the Content-Length check must refer to the file itself,
    # not to a gzip stream of it.
    headers = {"Accept-Encoding": "identity"}
    if offset:
        headers["Range"] = f"bytes={offset}-"
        if validator_file.exists():
            headers["If-Range"] = validator_file.read_text(encoding="utf-8").strip()

    with session.get(url, headers=headers, stream=True, timeout=(timeout, timeout)) as resp:
        status = resp.status_code
        if status == 416 and offset:
            # Our .part is at or past the end of the remote file. At the end exactly means an earlier
            # run received every byte but stopped before the rename: nothing left to fetch.
            _, _, total = _parse_content_range(resp.headers.get("Content-Range", ""))
            if total == offset:
                state.resumed = True
                return
            _discard(part)
            raise _Retryable(
                f"HTTP 416 for Range bytes={offset}- (remote size {total}); restarting from zero"
            )
        if status in RETRYABLE_STATUS:
            hint = _retry_after(resp.headers.get("Retry-After")) if status in _RETRY_AFTER_STATUS else None
            raise _Retryable(f"HTTP {status} {resp.reason}", retry_after=hint)
        if status not in (200, 206):
            raise DownloadError(_status_message(url, status, resp.reason))
        encoding = resp.headers.get("Content-Encoding", "identity").lower()
        if encoding != "identity":
            # Range offsets and Content-Length would count encoded bytes, not file bytes.
            raise DownloadError(
                f"{url} was sent with Content-Encoding {encoding!r} although identity was asked for; "
                f"its size cannot be checked nor a download resumed; fetch it another way"
            )

        if status == 206:
            content_range = resp.headers.get("Content-Range", "")
            start, _, total = _parse_content_range(content_range)
            if start != offset:
                _discard(part)
                raise _Retryable(
                    f"asked for bytes={offset}- but got Content-Range {content_range!r}; restarting from zero"
                )
            mode = "ab"
            state.resumed = True
        else:
            if offset:
                log.info("%s: server ignored Range (or the file changed); restarting from zero", url)
            offset, mode = 0, "wb"
            state.resumed = False
            total = _content_length(resp)
            _save_validator(validator_file, resp)

        done = offset
        with open(part, mode) as fh:
            if progress:
                progress(done, total)
            try:
                # Raw undecoded reads, not iter_content: when the connection breaks, urllib3's
                # decoding reader drops what it had buffered towards a full chunk (up to chunk_size
                # bytes, i.e. a whole small file), while a raw read hands over every byte received
                # before the error, so all of it lands in .part and is not fetched again.
                for chunk in resp.raw.stream(chunk_size, decode_content=False):
                    fh.write(chunk)
                    done += len(chunk)
                    if progress:
                        progress(done, total)
            except urllib3.exceptions.HTTPError as exc:  # broken connection, read timeout, short body
                raise _Retryable(f"connection broke after byte {done}: {exc}") from exc
            finally:
                fh.flush()
                os.fsync(fh.fileno())  # what resumption relies on must be on disk

    # urllib3 already rejects a body shorter than its Content-Length; this also checks against the
    # total from Content-Range, and covers a body sent without Content-Length (ended by a close).
    if total is not None and done != total:
        if done > total:  # more than the file holds: the .part cannot be trusted
            _discard(part)
        raise _Retryable(f"body ended at byte {done} of {total}")


def _make_wait(initial: float, cap: float) -> Callable[[RetryCallState], float]:
    """Exponential backoff with jitter, unless the server said when to come back (capped too)."""
    backoff = wait_exponential_jitter(multiplier=initial, max=cap, jitter=initial)

    def wait(retry_state: RetryCallState) -> float:
        exc = retry_state.outcome.exception() if retry_state.outcome else None
        hint = getattr(exc, "retry_after", None)
        if hint is not None:
            return min(hint, cap)
        return backoff(retry_state)

    return wait


def _log_retry(url: str) -> Callable[[RetryCallState], None]:
    def before_sleep(retry_state: RetryCallState) -> None:
        exc = retry_state.outcome.exception() if retry_state.outcome else None
        sleep = retry_state.next_action.sleep if retry_state.next_action else 0.0
        log.warning(
            "%s: attempt %d failed (%s); retrying in %.2fs",
            url,
            retry_state.attempt_number,
            _describe(exc),
            sleep,
        )

    return before_sleep


def _status_message(url: str, status: int, reason: str) -> str:
    if status in (403, 404):
        # The TLC CDN (CloudFront over S3) answers 403, not 404, for a file that does not exist.
        month = _MONTH_RE.search(url)
        if month:
            return (
                f"TLC has not published {month.group(1)} yet (HTTP {status} for {url}); check the month "
                f"(the TLC publishes with a lag of a couple of months) or try again later"
            )
        return f"HTTP {status} {reason} for {url}: no such file, or not public; check the URL"
    return f"HTTP {status} {reason} for {url}; not a transient error, so not retried; check the URL"


def _describe(exc: BaseException | None) -> str:
    if exc is None:
        return "unknown error"
    return f"{type(exc).__name__}: {exc}" if not isinstance(exc, _Retryable) else str(exc)


def _parse_content_range(value: str) -> tuple[int | None, int | None, int | None]:
    """``bytes a-b/total`` -> (a, b, total); ``bytes */total`` -> (None, None, total)."""
    m = _CONTENT_RANGE_RE.fullmatch(value.strip())
    if m:
        total = None if m.group(3) == "*" else int(m.group(3))
        return int(m.group(1)), int(m.group(2)), total
    m = re.fullmatch(r"bytes\s+\*/(\d+)", value.strip())
    return (None, None, int(m.group(1))) if m else (None, None, None)


def _content_length(resp: requests.Response) -> int | None:
    try:
        return int(resp.headers["Content-Length"])
    except (KeyError, ValueError):
        return None


def _retry_after(value: str | None) -> float | None:
    """Retry-After as seconds from now; it is either delta-seconds or an HTTP-date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def _save_validator(validator_file: Path, resp: requests.Response) -> None:
    """Remember what identifies this body, for If-Range on a later resume; forget a stale one."""
    etag = resp.headers.get("ETag", "")
    # If-Range requires a strong validator: a weak ETag (W/"...") must not be used.
    validator = etag if etag and not etag.startswith("W/") else resp.headers.get("Last-Modified", "")
    if validator:
        write_text(validator_file, validator + "\n")
    else:
        validator_file.unlink(missing_ok=True)


def _discard(part: Path) -> None:
    part.unlink(missing_ok=True)
    _suffixed(part, ".validator").unlink(missing_ok=True)


def _cached_sha256(dest: Path, sidecar: Path) -> str | None:
    """The sha256 of ``dest`` if its sidecar vouches for it, else None (download again)."""
    if not (dest.is_file() and sidecar.is_file()):
        return None
    fields = sidecar.read_text(encoding="utf-8").split()
    expected = fields[0].lower() if fields else ""
    if not _SHA256_RE.fullmatch(expected):
        return None
    actual = sha256_file(dest)
    if actual != expected:
        log.warning("%s does not match %s; downloading again", dest, sidecar.name)
        return None
    return actual


def _parquet_rows(path: Path, dest: Path, url: str) -> int:
    """Row count from the Parquet footer; an invalid file is moved aside to <dest>.invalid."""
    try:
        with pq.ParquetFile(path) as pf:
            return pf.metadata.num_rows
    except (OSError, ValueError) as exc:  # ArrowInvalid is a ValueError, ArrowIOError an OSError
        invalid = _suffixed(dest, ".invalid")
        os.replace(path, invalid)
        raise DownloadError(
            f"{url} did not give a valid Parquet file ({exc}); kept it as {invalid} for inspection "
            f"(an HTML error page or a truncated upload are the usual causes); delete it and retry"
        ) from exc


def _is_parquet(path: Path) -> bool:
    return path.suffix.lower() == ".parquet"


def _suffixed(path: Path, suffix: str) -> Path:
    return path.with_name(path.name + suffix)
