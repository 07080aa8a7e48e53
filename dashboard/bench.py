"""Render time of each dashboard page on the default month (the newest loaded), printed, never asserted
(`make bench-dashboard`). Each page runs through Streamlit's AppTest (the app script as the server runs
it, without a browser): cold = query cache emptied first, warm = the same render again. Target: < 2 s."""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

APP = str(ROOT / "dashboard" / "app.py")
TARGET_S = 2.0


def render_seconds(page: str, cold: bool) -> tuple[float, float]:
    """(the page's build time as the app measured it in its script run, the AppTest run's wall time)."""
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    if cold:
        st.cache_data.clear()
    at = AppTest.from_file(APP, default_timeout=300)
    at.query_params["page"] = page.lower()
    t0 = time.perf_counter()
    at.run()
    seconds = time.perf_counter() - t0
    problems = [e.value for e in at.exception] + [e.value for e in at.error]
    if problems:
        raise SystemExit(f"{page} page did not render: {problems[0]}")
    built = [c.value for c in at.sidebar.caption if c.value.startswith("page built in")]
    return float(built[0].split()[3]), seconds


def main(repeats: int = 3) -> int:
    from dashboard import data

    s = data.settings()
    try:
        with data.Warehouse(s) as wh:
            month = data.loaded_months(wh)[0]
    except data.Unavailable as e:
        print(f"cannot benchmark: {e}")
        return 1
    import logging

    logging.getLogger("streamlit").setLevel(logging.ERROR)
    for page in (
        "Insights",
        "Pipeline",
    ):  # process warm-up: first imports (pyarrow, sqlglot, altair), once a server
        render_seconds(page, cold=True)
    print(
        f"dashboard render time per page, default month {month} (profile {s.profile}); target < {TARGET_S:g} s"
    )
    print(
        "page build = the app's script run as the server runs it (named queries + elements), measured by the app;"
    )
    print(
        "cold: query cache emptied first; warm: results from the 60 s query cache. AppTest wall time adds the"
    )
    print(
        "test harness's own start-up (it scans installed packages for components on every run): shown apart."
    )
    print(
        f"{'page':<10} {'cold build s':>13} {'warm build s':>13} {'cold/target':>12} {'AppTest wall s':>15}"
    )
    for page in ("Insights", "Pipeline"):
        cold, wall = render_seconds(page, cold=True)
        warm = statistics.median(render_seconds(page, cold=False)[0] for _ in range(repeats))
        print(f"{page:<10} {cold:>13.3f} {warm:>13.3f} {cold / TARGET_S:>11.2f}x {wall:>15.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
