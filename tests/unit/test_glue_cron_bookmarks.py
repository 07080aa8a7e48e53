"""Glue cron evaluation and job bookmark state, on plain values and a temporary state dir."""

from __future__ import annotations

import re
from datetime import datetime

import pytest

from emulation.glue import bookmarks
from emulation.glue.bookmarks import S3Object
from taxilab.core import cron
from taxilab.core.settings import load_settings


@pytest.mark.parametrize(
    ("expr", "after", "expected"),
    [
        ("cron(15 12 * * ? *)", "2024-03-01 12:14", "2024-03-01 12:15"),
        ("cron(15 12 * * ? *)", "2024-03-01 12:15", "2024-03-02 12:15"),
        ("cron(0 */6 * * ? *)", "2024-03-01 13:00", "2024-03-01 18:00"),
        ("cron(30 2 1 * ? *)", "2024-01-31 00:00", "2024-02-01 02:30"),
        ("cron(0 9 ? * MON-FRI *)", "2024-03-01 10:00", "2024-03-04 09:00"),  # Fri after 9 -> Monday
        ("cron(0 9 ? * 1 *)", "2024-03-01 10:00", "2024-03-03 09:00"),  # 1 = Sunday in Glue
        ("cron(0 0 29 FEB ? 2024-2030)", "2024-03-01 00:00", "2028-02-29 00:00"),
    ],
)
def test_next_fire_time_follows_glue_cron(expr, after, expected):
    got = cron.parse(expr).next_after(datetime.fromisoformat(after))
    assert got == datetime.fromisoformat(expected)


@pytest.mark.parametrize(
    ("expr", "problem"),
    [
        ("15 12 * * ? *", "must look like cron("),
        ("cron(15 12 * * *)", "has 5 fields"),
        ("cron(15 12 * * * *)", "exactly one of day-of-month and day-of-week"),
        ("cron(15 12 L * ? *)", "L, W and # are not supported"),
        ("cron(61 12 * * ? *)", "within 0-59"),
    ],
)
def test_bad_cron_is_refused_naming_the_problem(expr, problem):
    with pytest.raises(ValueError, match=re.escape(problem)):
        cron.parse(expr)


def test_month_names_containing_l_are_not_mistaken_for_last():
    assert cron.parse("cron(0 0 1 JUL,APR ? *)").months == {4, 7}


@pytest.fixture()
def s(tmp_path):
    return load_settings(state_dir=tmp_path)


A, B = S3Object("raw/a.parquet", "e1", "t1"), S3Object("raw/b.parquet", "e2", "t2")


def test_enabled_bookmark_processes_only_new_objects_and_commits_on_success(s):
    with bookmarks.bookmarked(s, "etl", "src", [A], bookmarks.ENABLE) as todo:
        assert todo == [A]
    with bookmarks.bookmarked(s, "etl", "src", [A, B], bookmarks.ENABLE) as todo:
        assert todo == [B]
    assert bookmarks.pending(s, "etl", "src", [A, B]) == []
    # another transformation context has its own state
    assert bookmarks.pending(s, "etl", "other", [A, B]) == [A, B]


def test_changed_etag_is_processed_again(s):
    bookmarks.commit(s, "etl", "src", [A])
    a2 = S3Object(A.key, "e1-new", "t3")
    assert bookmarks.pending(s, "etl", "src", [a2]) == [a2]


def test_failed_run_leaves_state_untouched(s):
    bookmarks.commit(s, "etl", "src", [A])
    with pytest.raises(RuntimeError), bookmarks.bookmarked(s, "etl", "src", [A, B]) as todo:
        assert todo == [B]
        raise RuntimeError("job failed")
    assert bookmarks.pending(s, "etl", "src", [A, B]) == [B]


def test_pause_reads_from_the_bookmark_without_moving_it_and_disable_ignores_it(s):
    bookmarks.commit(s, "etl", "src", [A])
    with bookmarks.bookmarked(s, "etl", "src", [A, B], bookmarks.PAUSE) as todo:
        assert todo == [B]
    assert bookmarks.pending(s, "etl", "src", [A, B]) == [B]
    with bookmarks.bookmarked(s, "etl", "src", [A, B], bookmarks.DISABLE) as todo:
        assert todo == [A, B]
    assert bookmarks.pending(s, "etl", "src", [A, B]) == [B]


def test_state_survives_a_restart_and_reset_forgets_it(s, tmp_path):
    bookmarks.commit(s, "etl", "src", [A, B])
    fresh = load_settings(state_dir=tmp_path)  # a new process reading the same state dir
    assert bookmarks.pending(fresh, "etl", "src", [A, B]) == []
    assert bookmarks.describe(fresh)[0]["objects"] == 2
    assert bookmarks.reset(fresh, "etl") is True
    assert bookmarks.pending(fresh, "etl", "src", [A, B]) == [A, B]


def test_unknown_option_is_refused(s):
    with pytest.raises(bookmarks.BookmarkError, match="job-bookmark-enable"):
        bookmarks.pending(s, "etl", "src", [A], "enable")


@pytest.mark.parametrize(
    ("expr", "at", "expected"),
    [
        ("cron(15 12 * * ? *)", "2024-03-01 12:15", "2024-03-01 12:15"),  # a slot is its own latest
        ("cron(15 12 * * ? *)", "2024-03-01 12:14", "2024-02-29 12:15"),
        ("cron(0 9 ? * MON-FRI *)", "2024-03-04 08:00", "2024-03-01 09:00"),  # Monday early -> Friday
        ("cron(30 2 1 * ? *)", "2024-03-15 00:00", "2024-03-01 02:30"),
    ],
)
def test_latest_fire_time_at_or_before(expr, at, expected):
    assert cron.parse(expr).last_at_or_before(datetime.fromisoformat(at)) == datetime.fromisoformat(expected)


def test_no_fire_time_in_the_window_is_none_and_slots_between_are_counted():
    c = cron.parse("cron(15 12 * * ? *)")
    assert c.last_at_or_before(datetime(2024, 3, 1, 12, 0), not_before=datetime(2024, 3, 1, 0, 0)) is None
    assert c.count_between(datetime(2024, 3, 1, 12, 15), datetime(2024, 3, 4, 12, 15)) == 2
    assert c.count_between(datetime(2024, 3, 1), datetime(2025, 3, 1), cap=10) == 10
