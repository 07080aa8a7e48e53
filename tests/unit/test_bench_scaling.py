"""`make bench-scaling`'s report: the markdown table and the plot from the runs the bench recorded."""

from __future__ import annotations

import csv

import pytest

from taxilab.bench import SCALING_FIELDS, append_record, scaling_report


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


OLD_FIELDS = SCALING_FIELDS[: SCALING_FIELDS.index("loadavg_end") + 1]  # the columns before the drop's


def test_a_run_appended_to_a_csv_of_the_old_columns_keeps_the_old_runs_and_reads_back_by_name(tmp_path):
    csv_path = tmp_path / "runs.csv"
    with csv_path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=OLD_FIELDS)
        writer.writeheader()
        writer.writerow(
            {k: {"rows": "1000000", "e2e_s": "401.65", "at": "old"}.get(k, "2") for k in OLD_FIELDS}
        )

    append_record(
        csv_path,
        {
            **{k: "3" for k in OLD_FIELDS},
            "rows": "200000",
            "at": "new",
            "drop_rows": 100000,
            "drop_s": 41.5,
            "drop_freshness_s": 30.2,
            "drop_duckdb_s": 0.83,
            "drop_x_duckdb": 50.0,
            "drop_rows_ok": True,
        },
    )

    with csv_path.open(newline="") as f:
        reader = csv.DictReader(f)
        assert reader.fieldnames == SCALING_FIELDS
        old, new = list(reader)
    assert (old["at"], old["rows"], old["e2e_s"], old["drop_s"], old["drop_x_duckdb"]) == (
        "old",
        "1000000",
        "401.65",
        "",
        "",
    )
    assert (new["at"], new["drop_rows"], new["drop_s"], new["drop_x_duckdb"], new["drop_rows_ok"]) == (
        "new",
        "100000",
        "41.5",
        "50.0",
        "True",
    )

    md, _ = scaling_report(csv_path, tmp_path / "img")
    lines = md.read_text().splitlines()
    header = [h.strip() for h in lines[1].strip("|").split("|")]
    by_rows = {r.split(" | ")[0]: [c.strip() for c in r.strip("|").split("|")] for r in lines[3:]}
    col = header.index("drop / DuckDB")
    assert by_rows["| 1,000,000"][col] == "-" and by_rows["| 200,000"][col] == "50.0"


def test_a_csv_with_columns_the_bench_does_not_know_is_left_as_it_is(tmp_path):
    csv_path = tmp_path / "runs.csv"
    csv_path.write_text("rows,mystery\n1,2\n")

    with pytest.raises(ValueError, match="mystery"):
        append_record(csv_path, {k: "1" for k in SCALING_FIELDS})
    assert csv_path.read_text() == "rows,mystery\n1,2\n"
