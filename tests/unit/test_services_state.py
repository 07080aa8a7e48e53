"""State the lab keeps beside the emulator follows the emulator's lifetime."""

from __future__ import annotations

from emulation import services
from taxilab.core.settings import load_settings


def test_bookmarks_are_retired_when_the_emulator_starts_with_an_empty_lake(tmp_path):
    s = load_settings(state_dir=tmp_path)
    (tmp_path / "bookmarks").mkdir()
    (tmp_path / "bookmarks" / "taxilab-etl.json").write_text('{"job": "taxilab-etl", "contexts": {}}')
    retired = services.retire_bookmarks(s)
    assert retired is not None and (retired / "taxilab-etl.json").exists()
    assert not (tmp_path / "bookmarks").exists()


def test_no_bookmarks_nothing_retired(tmp_path):
    s = load_settings(state_dir=tmp_path)
    assert services.retire_bookmarks(s) is None
    (tmp_path / "bookmarks").mkdir()
    assert services.retire_bookmarks(s) is None
