"""The dashboard in a real browser: `streamlit run` headless on loopback, Debian's Chromium
(/usr/bin/chromium, installed by .ci/run; never a browser downloaded by Playwright) driven by Playwright.
Loads each page, changes the month and waits for the figures to become that month's (from the named
queries, run here on the warehouse), finds no exception element, collects every request the page makes
(none may leave 127.0.0.1: no CDN, no map tiles, no usage stats) and saves screenshots."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

from dashboard import launch
from dashboard.fmt import money, num
from taxilab.warehouse import queries
from tests.integration.dashboard_lab import MONTHS, lab_env, load_months

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
WAIT_MS = 60_000


def start_streamlit(env: dict, log: Path) -> tuple[subprocess.Popen, str]:
    """The product's start (dashboard.launch) on a free loopback port, its output in `log`."""
    try:
        return launch.start_streamlit(launch.free_port(None), env=env, log=log.open("w"))
    except launch.StartFailed as e:
        raise AssertionError(f"{e}: {log.read_text()[-2000:]}") from e


@pytest.fixture(scope="module")
def dashboard_url(lab_settings, spark, tmp_path_factory):
    if not Path(CHROMIUM).exists():
        pytest.fail(
            f"{CHROMIUM} is missing: install Debian's Chromium (`apt-get install -y chromium`, as .ci/run does)"
        )
    load_months(lab_settings)
    log = tmp_path_factory.mktemp("streamlit") / "streamlit.log"
    proc, url = start_streamlit(lab_env(lab_settings), log)
    yield url
    launch.stop(proc, timeout_s=20)


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture(scope="module")
def shots(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("screenshots")


def expected(lab_settings, month: str) -> dict[str, str]:
    import psycopg

    with psycopg.connect(lab_settings.warehouse_dsn) as conn:
        res = queries.run(conn, "executive_summary", {"month": month})
    s = dict(zip(res.columns, res.rows[0], strict=True))
    return {
        "Trips": num(s["trip_count"]),
        "Revenue": money(s["total_revenue"]),
        "Revenue per trip": money(s["revenue_per_trip"]),
    }


def metric_value(page, label: str):
    return (
        page.locator('[data-testid="stMetric"]')
        .filter(has=page.locator('[data-testid="stMetricLabel"]', has_text=label))
        .first.locator('[data-testid="stMetricValue"]')
    )


def wait_for_metrics(page, want: dict[str, str]) -> None:
    for label, value in want.items():
        expect(metric_value(page, label)).to_have_text(value, timeout=WAIT_MS)


def wait_idle(page) -> None:
    """Until Streamlit finished the script run (its status widget gone) and the charts drew."""
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=WAIT_MS
    )
    page.wait_for_timeout(500)


def choose(page, label: str, option: str) -> None:
    """Pick `option` in the sidebar's select box `label` (a combobox and its listbox of options)."""
    page.locator('[data-testid="stSidebar"]').get_by_role("combobox", name=label).click()
    page.get_by_role("option", name=option, exact=True).click()


@pytest.mark.slow
def test_pages_render_month_changes_and_nothing_leaves_loopback(dashboard_url, browser, lab_settings, shots):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    outside: list[str] = []
    page.on(
        "request",
        lambda r: (
            outside.append(r.url)
            if urlsplit(r.url).hostname not in ("127.0.0.1", None)
            and not r.url.startswith(("data:", "blob:"))
            else None
        ),
    )
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))

    page.goto(dashboard_url, wait_until="domcontentloaded")
    page.get_by_text("NYC taxi insights").wait_for(timeout=WAIT_MS)
    for month in (MONTHS[0], MONTHS[1]):
        choose(page, "Month", month)
        wait_for_metrics(page, expected(lab_settings, month))
        wait_idle(page)
        assert page.locator('[data-testid="stException"]').count() == 0
        assert page.locator('[data-testid="stVegaLiteChart"]').count() >= 4  # the Altair charts drew
        page.screenshot(path=str(shots / f"insights-{month}.png"), full_page=True)
    first, second = expected(lab_settings, MONTHS[0]), expected(lab_settings, MONTHS[1])
    assert first["Revenue"] != second["Revenue"]

    page.locator('[data-testid="stSidebar"]').get_by_text("Pipeline", exact=True).click()
    page.get_by_text("Pipeline runs").wait_for(timeout=WAIT_MS)
    wait_idle(page)
    assert page.locator('[data-testid="stException"]').count() == 0, page.locator(
        '[data-testid="stException"]'
    ).first.inner_text()[:500]
    page.get_by_text("Quarantined rows by reason").wait_for(timeout=WAIT_MS)
    expect(page.get_by_text(re.compile(r"^(\d+) of \1 checks match"))).to_be_visible()
    page.screenshot(path=str(shots / "pipeline.png"), full_page=True)

    assert outside == [], f"requests left loopback: {outside[:10]}"
    assert errors == [], errors
    keep = Path(lab_settings.state_dir) / "screenshots"  # kept with the lab state of a failing session
    keep.mkdir(exist_ok=True)
    for p in shots.glob("*.png"):
        shutil.copy(p, keep / p.name)
    assert len(list(shots.glob("*.png"))) == 3
