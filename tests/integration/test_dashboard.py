"""The Streamlit dashboard (dashboard/app.py) under Streamlit's AppTest: every page and widget, the values
it shows against the named queries' results over the same month (run here directly on the warehouse),
and the messages for a stopped PostgreSQL and an empty warehouse.

The warehouse holds two small synthetic months run through the real pipeline (dashboard_lab.py)."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from streamlit.testing.v1 import AppTest

from dashboard.fmt import money, num, pct
from taxilab.warehouse import queries
from tests.integration.dashboard_lab import MONTHS, lab_env, load_months

pytestmark = pytest.mark.integration

APP = str(Path(__file__).resolve().parents[2] / "dashboard" / "app.py")
TIMEOUT = 60


@pytest.fixture(scope="module")
def months(lab_settings, spark):
    return load_months(lab_settings)


@pytest.fixture()
def lab(months, lab_settings, monkeypatch):
    for k, v in lab_env(lab_settings).items():
        if k.startswith("TAXILAB_"):
            monkeypatch.setenv(k, v)
    monkeypatch.delenv("TAXILAB_WAREHOUSE_DSN", raising=False)
    return lab_settings


def q(conn, name, **params):
    res = queries.run(conn, name, {k: str(v) for k, v in params.items()})
    return [dict(zip(res.columns, r, strict=True)) for r in res.rows]


def app(page: str | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.run()
    if page:
        at.sidebar.radio(key="page").set_value(page).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def metric(at, label: str) -> str:
    found = [m.value for m in at.metric if m.label == label]
    assert len(found) == 1, (label, [m.label for m in at.metric])
    return found[0]


def frame(at, columns: list[str]):
    """The one dataframe on the page with exactly these columns."""
    found = [d.value for d in at.dataframe if list(d.value.columns) == columns]
    assert len(found) == 1, (columns, [list(d.value.columns) for d in at.dataframe])
    return found[0]


def rows(df) -> list[list]:
    return [[None if v != v else v for v in r] for r in df.astype(object).values.tolist()]


def as_shown(records: list[dict], drop=()) -> list[list]:
    """Query rows as the dashboard's tables hold them (DECIMAL as float)."""
    return [
        [float(v) if hasattr(v, "as_tuple") else v for k, v in r.items() if k not in drop] for r in records
    ]


def pick_month(at: AppTest, month: str) -> AppTest:
    at.sidebar.selectbox(key="month").set_value(month).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


# ---- Insights -----------------------------------------------------------------------------------------
def test_month_picker_lists_the_loaded_months_newest_first(lab, pg):
    at = app()
    expected = [r["pickup_month"] for r in q(pg, "loaded_months")]
    assert set(MONTHS) <= set(expected)
    assert at.sidebar.selectbox(key="month").options == expected
    assert at.sidebar.selectbox(key="month").value == expected[0]  # the default month: the newest


@pytest.mark.parametrize("month", MONTHS)
def test_insights_show_the_named_queries_results_for_the_picked_month(lab, pg, month):
    at = pick_month(app(), month)
    s = q(pg, "executive_summary", month=month)[0]
    assert metric(at, "Trips") == num(s["trip_count"])
    assert metric(at, "Revenue") == money(s["total_revenue"])
    assert metric(at, "Revenue per trip") == money(s["revenue_per_trip"])
    assert metric(at, "Airport share of trips") == pct(s["airport_share_pct"])

    daily = q(pg, "daily_trips_by_borough", month=month, borough="All")
    assert metric(at, "Trips (All)") == num(sum(r["trip_count"] for r in daily)) == num(s["trip_count"])
    assert metric(at, "Revenue (All)") == money(sum(r["total_revenue"] for r in daily))
    ww = q(pg, "weekday_vs_weekend", month=month)
    shown = frame(at, ["day type", "days", "trip_count", "trips_per_day", "revenue_per_trip"])
    assert rows(shown) == [
        ["Weekend" if r["is_weekend"] else "Weekday", *as_shown([r], drop={"is_weekend"})[0]] for r in ww
    ]

    heat = frame(at, [f"{h:02d}" for h in range(24)])
    cells = {
        (r["pickup_weekday"], r["pickup_hour"]): r["trip_count"]
        for r in q(pg, "peak_hour_heatmap", month=month)
    }
    assert heat.shape == (7, 24) and list(heat.index) == ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
    assert {(wd, h): int(heat.iat[wd - 1, h]) for wd in range(1, 8) for h in range(24)} == {
        (wd, h): cells.get((wd, h), 0) for wd in range(1, 8) for h in range(24)
    }
    assert int(heat.to_numpy().sum()) == s["trip_count"]

    zones = q(pg, "top_pickup_zones_by_borough", month=month, borough="All", top_n=10)
    assert rows(
        frame(at, ["zone_rank", "pu_borough", "pu_zone", "trip_count", "total_revenue", "trip_share_pct"])
    ) == as_shown(zones, drop={"pu_location_id"})
    airports = q(pg, "airport_share", month=month)
    assert len(airports) == 3
    assert rows(
        frame(at, ["airport", "trip_count", "total_revenue", "trip_share_pct", "revenue_share_pct"])
    ) == as_shown(airports)

    pay = q(pg, "payment_mix", month=month)
    assert rows(
        frame(at, ["payment_type", "payment_type_name", "trip_count", "trip_share_pct", "total_revenue"])
    ) == as_shown(pay)
    card = next(
        r for r in q(pg, "tipping_by_payment", month=month) if r["payment_type_name"] == "Credit card"
    )
    assert metric(at, "Card tip % of fare") == pct(card["tips_pct_of_fare"])
    assert metric(at, "Card trips with a tip") == pct(card["tipped_share_pct"])
    assert any("cash tips are not recorded" in i.value for i in at.info)

    dist = q(pg, "distance_category_speed", month=month)
    assert rows(
        frame(at, ["distance_category", "trip_count", "fare_per_mile", "avg_speed_mph", "avg_duration_min"])
    ) == as_shown(dist)

    fee = q(pg, "congestion_fee", month=month)[0]
    assert (
        fee["trip_count"] == s["trip_count"] and fee["fee_recorded_trips"] == 0
    )  # synthetic files carry no fee
    assert any(f"No congestion fee in {month}" in i.value for i in at.info)
    assert not [m for m in at.metric if m.label == "Trips charged the fee"]


def test_congestion_fee_is_looked_up_only_for_months_whose_files_carry_it():
    from dashboard.data import records_congestion_fee

    assert [records_congestion_fee(m) for m in ("2019-05", "2024-12", "2025-01", "2025-02")] == [
        False,
        False,
        True,
        True,
    ]


def test_changing_the_month_changes_every_figure_to_that_months(lab, pg):
    at = pick_month(app(), MONTHS[0])
    first = {label: metric(at, label) for label in ("Trips", "Revenue", "Revenue per trip")}
    pick_month(at, MONTHS[1])
    s = q(pg, "executive_summary", month=MONTHS[1])[0]
    second = {
        "Trips": num(s["trip_count"]),
        "Revenue": money(s["total_revenue"]),
        "Revenue per trip": money(s["revenue_per_trip"]),
    }
    assert {label: metric(at, label) for label in second} == second
    assert first["Revenue"] != second["Revenue"]  # the months differ, so the page did change


def test_borough_filter_narrows_daily_trips_and_top_zones(lab, pg):
    month = MONTHS[0]
    at = pick_month(app(), month)
    boroughs = ["All", *sorted(r["pu_borough"] for r in q(pg, "borough_revenue", month=month))]
    assert at.sidebar.selectbox(key="borough").options == boroughs
    at.sidebar.selectbox(key="borough").set_value("Manhattan").run()
    assert not at.exception
    daily = q(pg, "daily_trips_by_borough", month=month, borough="Manhattan")
    total = q(pg, "executive_summary", month=month)[0]["trip_count"]
    assert 0 < sum(r["trip_count"] for r in daily) < total
    assert metric(at, "Trips (Manhattan)") == num(sum(r["trip_count"] for r in daily))
    assert metric(at, "Revenue (Manhattan)") == money(sum(r["total_revenue"] for r in daily))
    zones = q(pg, "top_pickup_zones_by_borough", month=month, borough="Manhattan", top_n=10)
    shown = frame(at, ["zone_rank", "pu_borough", "pu_zone", "trip_count", "total_revenue", "trip_share_pct"])
    assert rows(shown) == as_shown(zones, drop={"pu_location_id"})
    assert set(shown["pu_borough"]) == {"Manhattan"}
    assert metric(at, "Trips") == num(total)  # the month's summary is not filtered


# ---- Pipeline -----------------------------------------------------------------------------------------
def test_pipeline_page_shows_the_run_reports(lab, months):
    at = app("Pipeline")
    assert not at.exception
    # The only error box allowed is the operations panel's alarm summary: other tests of the session leave
    # failed runs behind, whose alarms are rightly in ALARM.
    assert all("alarms in ALARM" in e.value for e in at.error), [e.value for e in at.error]
    runs = frame(at, ["run", "month", "source", "status", "seconds", "started", "checks ok"])
    for rep in months.values():
        assert rep.run_id in set(runs["run"])
    latest = json.loads((lab.runs_dir / "latest.json").read_text())
    assert at.selectbox(key="run").value == latest["run_id"]
    rep = months[MONTHS[0]]
    at.selectbox(key="run").set_value(rep.run_id).run()
    assert not at.exception
    report = json.loads((lab.runs_dir / f"{rep.run_id}.json").read_text())
    stages = frame(
        at, ["stage", "status", "seconds", "rows in", "rows out", "quarantined", "sum(total_amount)"]
    )
    assert list(stages["stage"]) == [x["name"] for x in report["stages"]]
    assert list(stages["seconds"]) == [x["seconds"] for x in report["stages"]]
    etl = next(x for x in report["stages"] if x["name"] == "etl")
    shown_etl = stages[stages["stage"] == "etl"].iloc[0]
    assert (shown_etl["rows in"], shown_etl["rows out"], shown_etl["quarantined"]) == (
        etl["rows_in"],
        etl["rows_out"],
        etl["quarantined"],
    )
    reasons = frame(at, ["reason", "rows"])
    assert dict(zip(reasons["reason"], reasons["rows"], strict=True)) == etl["quarantined_by_reason"]
    n = len(report["checks"])
    assert n > 0 and any(s.value.startswith(f"{n} of {n} checks match") for s in at.success)
    from dashboard import data

    ops = data.operations_summary(lab)  # the operations panel shows what taxilab.ops reports, if installed
    if ops is None:
        assert any(
            "operations module (taxilab.ops" in i.value and "not installed" in i.value for i in at.info
        )
    elif "error" in ops:
        assert any(ops["error"] in w.value for w in at.warning)
    else:
        cost = ops["cost"]
        assert metric(at, "Budget used") == f"{cost['budget_used_percent']}% of ${cost['budget_usd']}"


def test_pipeline_page_without_reports_says_what_to_run(lab, monkeypatch, tmp_path):
    monkeypatch.setenv("TAXILAB_STATE_DIR", str(tmp_path))
    at = app("Pipeline")
    assert [w.value for w in at.warning] and "make pipeline" in at.warning[0].value


# ---- no database, empty warehouse ---------------------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("how", ["no services started", "PostgreSQL stopped"])
def test_no_database_shows_what_to_run_not_a_traceback(monkeypatch, tmp_path, how):
    monkeypatch.setenv("TAXILAB_PROFILE", "local")
    monkeypatch.setenv("TAXILAB_STATE_DIR", str(tmp_path))  # no services.json there
    if how == "PostgreSQL stopped":
        monkeypatch.setenv("TAXILAB_WAREHOUSE_DSN", f"postgresql://taxilab@127.0.0.1:{_free_port()}/taxilab")
    else:
        monkeypatch.delenv("TAXILAB_WAREHOUSE_DSN", raising=False)
    at = app()
    assert not at.exception
    assert len(at.error) == 1 and "make up" in at.error[0].value and "not reachable" in at.error[0].value
    assert not at.metric


@pytest.fixture()
def empty_db(lab_settings):
    """A database of its own on the lab's PostgreSQL, created (and read) by the role that may create one."""
    admin_dsn = getattr(lab_settings, "warehouse_admin_dsn", None) or lab_settings.warehouse_dsn
    with psycopg.connect(admin_dsn, autocommit=True) as admin:
        admin.execute("DROP DATABASE IF EXISTS taxilab_dash_empty")
        admin.execute("CREATE DATABASE taxilab_dash_empty")
    yield make_conninfo(**{**conninfo_to_dict(admin_dsn), "dbname": "taxilab_dash_empty"})
    with psycopg.connect(admin_dsn, autocommit=True) as admin:
        admin.execute("DROP DATABASE IF EXISTS taxilab_dash_empty WITH (FORCE)")


def test_empty_warehouse_shows_what_to_load(monkeypatch, tmp_path, empty_db):
    from emulation.redshift.dialect import apply_ddl

    monkeypatch.setenv("TAXILAB_PROFILE", "compose")  # the DSN as given, no services file consulted
    monkeypatch.setenv("TAXILAB_STATE_DIR", str(tmp_path))
    monkeypatch.setenv("TAXILAB_WAREHOUSE_DSN", empty_db)
    at = app()  # a database without the taxi schema
    assert not at.exception and len(at.warning) == 1
    assert "no taxi tables" in at.warning[0].value and "make pipeline" in at.warning[0].value
    with psycopg.connect(empty_db) as conn:  # the schema, but no month loaded
        apply_ddl(conn, Path(__file__).resolve().parents[2] / "sql" / "ddl")
        conn.commit()
    at = app()
    assert not at.exception and len(at.warning) == 1
    assert "no month is loaded" in at.warning[0].value and "make pipeline" in at.warning[0].value
    assert not at.metric
    with psycopg.connect(empty_db, autocommit=True) as conn:  # a query that fails for another reason
        conn.execute("ALTER TABLE taxi.daily_summary DROP COLUMN pickup_month")
    at = app()
    assert not at.exception and len(at.error) == 1
    assert "A named query failed" in at.error[0].value and "loaded_months" in at.error[0].value


# ---- a 2025 month whose trips carry the congestion fee ---------------------------------------------------
# (pickup, PU zone, DO zone, payment, fare, tip, cbd_congestion_fee): Manhattan pickups pay 0.75 from 2025-01-05.
FEE_TRIPS = [
    ("2025-01-06 08:10", 161, 236, 1, "12.00", "3.00", "0.75"),
    ("2025-01-06 09:20", 236, 161, 2, "9.50", "0.00", "0.75"),
    ("2025-01-06 22:40", 132, 161, 1, "70.00", "14.00", "0.00"),
    ("2025-01-07 07:05", 79, 230, 1, "15.00", "3.00", "0.75"),
    ("2025-01-07 13:30", 138, 7, 2, "30.00", "0.00", "0.00"),
]


def test_a_month_with_the_congestion_fee_shows_it(monkeypatch, tmp_path, empty_db, lab_settings):
    from datetime import datetime
    from decimal import Decimal

    from emulation.redshift.dialect import apply_ddl
    from taxilab.warehouse.aggregates_wh import build_aggregates
    from taxilab.warehouse.dims import load_dims
    from tests.integration.test_analytics_queries import CURATED_SQL, ZONES_CSV, _zones

    zones = _zones()
    with psycopg.connect(empty_db) as conn:
        apply_ddl(conn, Path(__file__).resolve().parents[2] / "sql" / "ddl")
        load_dims(conn, ZONES_CSV, "2025-01")
        for when, pu, do, pay, fare, tip, fee in FEE_TRIPS:
            t = datetime.fromisoformat(when)
            conn.execute(
                "INSERT INTO taxi.fct_trips (pickup_datetime, pickup_date, time_of_day_category, pickup_hour,"
                " pickup_weekday, is_weekend, pu_location_id, do_location_id, pu_borough, pu_zone, do_borough,"
                " do_zone, payment_type, fare_amount, tip_amount, total_amount, cbd_congestion_fee, trip_distance,"
                " avg_speed_mph, trip_duration_min, distance_category, is_airport_trip)"
                " VALUES (%s, %s, 'midday', %s, %s, false, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, 3.0, 12.0,"
                " 15.0, '1-3 mi', %s)",
                (
                    t,
                    t.date(),
                    t.hour,
                    t.isoweekday(),
                    pu,
                    do,
                    *zones[pu],
                    *zones[do],
                    pay,
                    Decimal(fare),
                    Decimal(tip),
                    Decimal(fare) + Decimal(tip) + Decimal(fee),
                    Decimal(fee),
                    pu in (1, 132, 138) or do in (1, 132, 138),
                ),
            )
        for statement in CURATED_SQL:
            conn.execute(statement)
        build_aggregates(conn, "2025-01")
        conn.commit()
        fee = q(conn, "congestion_fee", month="2025-01")[0]
    charged = [t for t in FEE_TRIPS if Decimal(t[6]) > 0]
    assert (fee["fee_recorded_trips"], fee["charged_trips"], fee["total_fee"]) == (
        len(FEE_TRIPS),
        len(charged),
        sum(Decimal(t[6]) for t in charged),
    )
    monkeypatch.setenv("TAXILAB_PROFILE", "compose")
    monkeypatch.setenv("TAXILAB_STATE_DIR", str(tmp_path))
    monkeypatch.setenv("TAXILAB_WAREHOUSE_DSN", empty_db)
    at = app()
    assert at.sidebar.selectbox(key="month").options == ["2025-01"]
    assert metric(at, "Trips") == num(len(FEE_TRIPS))
    assert metric(at, "Trips charged the fee") == num(fee["charged_trips"])
    assert metric(at, "Share of trips charged") == pct(fee["charged_share_pct"])
    assert metric(at, "Congestion fees collected") == money(fee["total_fee"])
    assert not any("No congestion fee" in i.value for i in at.info)
