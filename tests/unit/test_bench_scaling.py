"""`make bench-scaling`'s report: the markdown table and the plot from the runs the bench recorded."""

from __future__ import annotations

import csv

import pytest

from taxilab.bench import SCALING_FIELDS, scaling_report


def record(path, runs: list[dict]) -> None:
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=SCALING_FIELDS)
        writer.writeheader()
        for run in runs:
            writer.writerow({k: run.get(k, "1") for k in SCALING_FIELDS})


def test_the_table_has_one_row_per_size_in_size_order_the_latest_run_of_a_size_winning(tmp_path):
    csv_path = tmp_path / "runs.csv"
    record(
        csv_path,
        [
            {"rows": "3000000", "e2e_s": "130.8", "at": "first"},
            {"rows": "1000000", "e2e_s": "50.0", "at": "small"},
            {"rows": "3000000", "e2e_s": "120.5", "at": "rerun"},
        ],
    )

    md, png = scaling_report(csv_path, tmp_path / "img")

    rows = [
        line
        for line in md.read_text().splitlines()
        if line.startswith("| 1,000,000") or line.startswith("| 3,000,000")
    ]
    assert [r.split(" | ")[0] for r in rows] == ["| 1,000,000", "| 3,000,000"]
    assert "120.5" in rows[1] and "rerun" in rows[1] and "130.8" not in md.read_text()
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_no_recorded_runs_is_an_error_naming_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="runs.csv"):
        scaling_report(tmp_path / "runs.csv", tmp_path / "img")

    (tmp_path / "empty.csv").write_text(",".join(SCALING_FIELDS) + "\n")
    with pytest.raises(ValueError, match="empty.csv holds no runs"):
        scaling_report(tmp_path / "empty.csv", tmp_path / "img")
