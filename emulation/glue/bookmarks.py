"""Glue job bookmarks, kept by the lab: which raw objects a job (and transformation context) has
already processed, tracked by key + ETag + last-modified as Glue does for S3 sources.
Why: docs/adr/0006-glue-crawler-bookmarks-workflow-run-by-the-lab.md.
"""

from __future__ import annotations

import json
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime

from taxilab.core.clients import client
from taxilab.core.jobgraph import BOOKMARK_DISABLE, BOOKMARK_ENABLE, BOOKMARK_OPTIONS, BOOKMARK_PAUSE
from taxilab.core.settings import Settings
from taxilab.core.state import write_text

ENABLE, DISABLE, PAUSE = BOOKMARK_ENABLE, BOOKMARK_DISABLE, BOOKMARK_PAUSE
OPTIONS = BOOKMARK_OPTIONS


class BookmarkError(ValueError):
    pass


@dataclass(frozen=True)
class S3Object:
    key: str
    etag: str
    last_modified: str  # ISO 8601

    @property
    def token(self) -> dict:
        return {"etag": self.etag, "last_modified": self.last_modified}


def list_objects(settings: Settings, prefix: str, suffix: str = ".parquet") -> list[S3Object]:
    """Data objects under prefix (hidden `_`/`.` names skipped, as Spark and Glue skip them), sorted by key."""
    s3 = client("s3", settings)
    out = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=settings.bucket, Prefix=prefix):
        for o in page.get("Contents", []):
            name = o["Key"].rsplit("/", 1)[-1]
            if name.endswith(suffix) and not name.startswith(("_", ".")):
                # The key is the full URL: one job's state may cover several buckets (tests, environments).
                out.append(
                    S3Object(
                        f"s3://{settings.bucket}/{o['Key']}",
                        o["ETag"].strip('"'),
                        o["LastModified"].isoformat(),
                    )
                )
    return sorted(out, key=lambda o: o.key)


def _path(settings: Settings, job: str):
    if not job or "/" in job or job.startswith("."):
        raise BookmarkError(f"bookmark job name {job!r} is not a plain name")
    return settings.state_dir / "bookmarks" / f"{job}.json"


def load(settings: Settings, job: str) -> dict:
    p = _path(settings, job)
    if not p.exists():
        return {"job": job, "contexts": {}}
    try:
        return json.loads(p.read_text())
    except ValueError as e:
        raise BookmarkError(
            f"bookmark state {p} is corrupt ({e}); `taxilab glue bookmarks reset {job}` "
            "starts the job from scratch"
        ) from None


def _save(settings: Settings, job: str, state: dict) -> None:
    # Atomic: a crash mid-write leaves the previous state, never a torn file.
    write_text(_path(settings, job), json.dumps(state, indent=1, sort_keys=True))


def pending(
    settings: Settings, job: str, context: str, objects: list[S3Object], option: str = ENABLE
) -> list[S3Object]:
    """The objects a run with this option processes."""
    if option not in OPTIONS:
        raise BookmarkError(f"--job-bookmark-option must be one of {', '.join(OPTIONS)}, got {option!r}")
    if option == DISABLE:
        return list(objects)
    done = load(settings, job)["contexts"].get(context, {}).get("objects", {})
    return [o for o in objects if done.get(o.key, {}).get("etag") != o.etag]


def changed(settings: Settings, job: str, context: str, objects: list[S3Object]) -> list[S3Object]:
    """Objects committed before with a different ETag: their earlier output must be replaced, not added to."""
    done = load(settings, job)["contexts"].get(context, {}).get("objects", {})
    return [o for o in objects if o.key in done and done[o.key].get("etag") != o.etag]


def commit(
    settings: Settings, job: str, context: str, objects: list[S3Object], run_id: str | None = None
) -> None:
    state = load(settings, job)
    ctx = state["contexts"].setdefault(context, {"objects": {}})
    ctx["objects"].update({o.key: o.token for o in objects})
    ctx["run_id"] = run_id
    ctx["committed_at"] = datetime.now(UTC).isoformat()
    _save(settings, job, state)


@contextmanager
def bookmarked(
    settings: Settings,
    job: str,
    context: str,
    objects: list[S3Object],
    option: str = ENABLE,
    run_id: str | None = None,
):
    """Yield the objects to process; commit them (enable only) when the block ends without an exception."""
    todo = pending(settings, job, context, objects, option)
    yield todo
    if option == ENABLE and todo:
        commit(settings, job, context, todo, run_id)


def reset(settings: Settings, job: str, context: str | None = None) -> bool:
    """Forget what the job (or one of its transformation contexts) processed; True if there was state."""
    p = _path(settings, job)
    if not p.exists():
        return False
    if context is None:
        p.unlink()
        return True
    state = load(settings, job)
    had = state["contexts"].pop(context, None) is not None
    _save(settings, job, state)
    return had


def describe(settings: Settings) -> list[dict]:
    d = settings.state_dir / "bookmarks"
    out = []
    for p in sorted(d.glob("*.json")) if d.exists() else []:
        state = load(settings, p.stem)
        for ctx, v in sorted(state["contexts"].items()):
            out.append(
                {
                    "job": p.stem,
                    "context": ctx,
                    "objects": len(v.get("objects", {})),
                    "committed_at": v.get("committed_at"),
                    "run_id": v.get("run_id"),
                }
            )
    return out
