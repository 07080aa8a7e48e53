"""The notebooks (notebooks/*.py, jupytext percent format) executed top to bottom by nbclient in a real
Jupyter kernel against the embedded test lab (two small synthetic months, dashboard_lab.py); any cell
error fails the test. The kernel finds the lab only through load_settings() (the lab's environment)."""

from __future__ import annotations

from pathlib import Path

import jupytext
import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

from tests.integration.dashboard_lab import MONTHS, lab_env, load_months

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.py"))


def execute(nb, env: dict, month: str | None = None):
    """Run every cell in order (the `parameters` cell gets MONTH); CellExecutionError on any error."""
    if month:
        cell = next(c for c in nb.cells if "parameters" in c.get("metadata", {}).get("tags", []))
        cell.source = f"MONTH = {month!r}"
    client = NotebookClient(
        nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(ROOT)}}
    )
    client.execute(env=env)
    return nb


@pytest.fixture(scope="module")
def months(lab_settings, spark):
    return load_months(lab_settings)


def test_the_three_notebooks_are_there_as_percent_scripts():
    assert [p.name for p in NOTEBOOKS] == ["01_lake.py", "02_warehouse_analytics.py", "03_data_quality.py"]
    for p in NOTEBOOKS:
        assert jupytext.read(p).metadata["jupytext"]["text_representation"]["format_name"] == "percent"
        assert "outputs" not in p.read_text()  # the source in git holds no outputs


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_top_to_bottom_against_the_lab(path, months, lab_settings, tmp_path):
    nb = execute(jupytext.read(path), lab_env(lab_settings), MONTHS[1])
    nbformat.write(nb, tmp_path / f"{path.stem}.ipynb")  # kept for inspection of a failing run
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.get("execution_count") for c in code)
    errors = [o for c in code for o in c.outputs if o.output_type == "error"]
    assert not errors
    text = "\n".join(o.get("text", "") for c in code for o in c.outputs if o.output_type == "stream")
    if path.stem.startswith("01"):
        assert f"exploring {MONTHS[1]}" in text
    if path.stem.startswith("02"):
        assert sum("image/png" in o.get("data", {}) for c in code for o in c.outputs) >= 4  # inline plots
    if path.stem.startswith("03"):
        import re

        n = re.search(r"(\d+) of (\d+) checks match", text)
        assert n and n.group(1) == n.group(2) and int(n.group(2)) > 0, text


def test_a_failing_cell_fails_the_run(lab_settings, tmp_path):
    nb = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_code_cell("x = 1"),
            nbformat.v4.new_code_cell("raise ValueError('broken cell')"),
        ]
    )
    with pytest.raises(CellExecutionError, match="broken cell"):
        execute(nb, lab_env(lab_settings))
