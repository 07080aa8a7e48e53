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


def render_seconds(page: str, cold: bool) -> float:
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
    return seconds


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
    render_seconds("Pipeline", cold=False)  # process warm-up: imports (pandas, altair, streamlit), not a page cost
    print(f"dashboard render time per page, default month {month} (profile {s.profile}); target < {TARGET_S:g} s")
    print("cold: the page's named queries run (query cache emptied); warm: served from the 60 s query cache")
    print(f"{'page':<10} {'cold s':>8} {f'warm s (median of {repeats})':>22} {'warm / target':>14}")
    for page in ("Insights", "Pipeline"):
        cold = render_seconds(page, cold=True)
        warm = statistics.median(render_seconds(page, cold=False) for _ in range(repeats))
        print(f"{page:<10} {cold:>8.2f} {warm:>22.2f} {warm / TARGET_S:>13.2f}x"
              + ("" if cold < TARGET_S else "   (cold render over target)"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
