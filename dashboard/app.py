"""taxilab dashboard: `make dashboard` (streamlit run dashboard/app.py on 127.0.0.1).
Why: docs/adr/0016-dashboard-and-notebooks.md.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # `streamlit run dashboard/app.py` puts only dashboard/ on the path
    sys.path.insert(0, str(ROOT))

import altair as alt  # noqa: E402
import pandas as pd  # noqa: E402
import streamlit as st  # noqa: E402

from dashboard import data  # noqa: E402
from dashboard.fmt import money, num, pct  # noqa: E402

PAGES = ("Insights", "Pipeline")
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
CACHE_TTL_S = 60
BUILT_PREFIX = "page built in"


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False)
def _query(target: str, name: str, params: tuple[tuple[str, str], ...]) -> pd.DataFrame:
    """A named query's result, cached per warehouse target, name and parameters for a minute."""
    with data.Warehouse(data.settings()) as wh:
        return wh.query(name, **dict(params))


def query(s, name: str, cached: bool = True, **params) -> pd.DataFrame:
    if not cached:  # e.g. the loaded months: a month loaded a moment ago shows on the next reload
        with data.Warehouse(s) as wh:
            return wh.query(name, **params)
    target = f"{s.profile}|{s.warehouse_dsn or s.redshift_workgroup or s.redshift_cluster_id}"
    return _query(target, name, tuple(sorted((k, str(v)) for k, v in params.items()))).copy()


def show_unavailable(e: data.Unavailable) -> None:
    box = st.warning if isinstance(e, data.EmptyWarehouse) else st.error
    box(f"**{e.problem}**\n\n{e.hint}")


# ---- Insights ---------------------------------------------------------------------------------------
def insights(s) -> None:
    st.title("NYC taxi insights")
    months = list(query(s, "loaded_months", cached=False)["pickup_month"])
    if not months:
        raise data.EmptyWarehouse("The warehouse is up but no month is loaded.", data.LOAD_HINT)
    month = st.sidebar.selectbox(
        "Month", months, key="month", help="Months loaded in the warehouse (newest first)"
    )
    boroughs = ["All", *sorted(query(s, "borough_revenue", month=month)["pu_borough"].dropna())]
    borough = st.sidebar.selectbox(
        "Pickup borough", boroughs, key="borough", help="Filters the daily chart and the top pickup zones"
    )

    summary = query(s, "executive_summary", month=month).iloc[0]
    c = st.columns(4)
    c[0].metric("Trips", num(summary["trip_count"]))
    c[1].metric("Revenue", money(summary["total_revenue"]))
    c[2].metric("Revenue per trip", money(summary["revenue_per_trip"]))
    c[3].metric("Airport share of trips", pct(summary["airport_share_pct"]))
    st.caption(f"{month}: {num(summary['days'])} days with trips; busiest day {summary['busiest_day']}.")

    st.header("Daily trips and revenue")
    daily = query(s, "daily_trips_by_borough", month=month, borough=borough)
    daily["day type"] = daily["is_weekend"].map({True: "Weekend", False: "Weekday"})
    daily["weekday"] = daily["iso_weekday"].map(lambda d: WEEKDAYS[int(d) - 1])
    base = alt.Chart(daily).encode(x=alt.X("pickup_date:T", title="pickup date"))
    st.altair_chart(
        alt.layer(
            base.mark_bar().encode(
                y=alt.Y("trip_count:Q", title="trips"),
                color=alt.Color("day type:N", scale=alt.Scale(domain=["Weekday", "Weekend"])),
                tooltip=["pickup_date:T", "weekday:N", "trip_count:Q", "total_revenue:Q"],
            ),
        ).properties(height=260, title=f"Trips per day ({borough})"),
        width="stretch",
    )
    c = st.columns(2)
    c[0].metric(f"Trips ({borough})", num(daily["trip_count"].sum()))
    c[1].metric(f"Revenue ({borough})", money(daily["total_revenue"].sum()))
    ww = query(s, "weekday_vs_weekend", month=month)
    ww.insert(0, "day type", ww.pop("is_weekend").map({True: "Weekend", False: "Weekday"}))
    st.caption("Weekday against weekend (all boroughs)")
    st.dataframe(ww, hide_index=True, key="weekday_vs_weekend")

    st.header("Demand by hour and weekday")
    heat = query(s, "peak_hour_heatmap", month=month)
    table = (
        heat.pivot_table(index="pickup_weekday", columns="pickup_hour", values="trip_count", aggfunc="sum")
        .reindex(index=range(1, 8), columns=range(24))
        .fillna(0)
        .astype("int64")
    )
    table.index = list(WEEKDAYS)
    table.columns = [f"{h:02d}" for h in table.columns]
    st.caption("Trips per pickup hour (columns) and weekday (rows); darker = busier.")
    st.dataframe(
        table.style.background_gradient(cmap="Blues", axis=None),
        key="heat_table",
        width="stretch",
        column_config={h: st.column_config.NumberColumn(h, width=40) for h in table.columns},
    )

    st.header("Where trips start")
    st.subheader(f"Top pickup zones ({borough})")
    zones = query(s, "top_pickup_zones_by_borough", month=month, borough=borough, top_n=10)
    st.dataframe(zones.drop(columns=["pu_location_id"]), hide_index=True, key="top_zones")
    st.subheader("Airports")
    airports = query(s, "airport_share", month=month)
    st.dataframe(airports, hide_index=True, key="airports")
    st.caption("Trips to or from JFK, LaGuardia and Newark; shares of all the month's trips and revenue.")

    st.header("Payments and tips")
    pay = query(s, "payment_mix", month=month)
    c = st.columns([3, 2])
    c[0].altair_chart(
        alt.Chart(pay)
        .mark_bar()
        .encode(
            x=alt.X("trip_count:Q", title="trips"),
            y=alt.Y("payment_type_name:N", sort="-x", title=None),
            tooltip=["payment_type_name:N", "trip_count:Q", "trip_share_pct:Q", "total_revenue:Q"],
        )
        .properties(height=180),
        width="stretch",
    )
    c[0].dataframe(pay, hide_index=True, key="payment_mix")
    tips = query(s, "tipping_by_payment", month=month)
    card = tips[tips["payment_type_name"] == "Credit card"]
    if card.empty:
        c[1].metric("Card tip % of fare", "no card trips")
    else:
        c[1].metric("Card tip % of fare", pct(card.iloc[0]["tips_pct_of_fare"]))
        c[1].metric("Card trips with a tip", pct(card.iloc[0]["tipped_share_pct"]))
    c[1].info(
        "Tips are shown for card payments only: cash tips are not recorded in the TLC data "
        "(tip_amount is 0 for cash trips), so a cash tip % would be meaningless."
    )

    st.header("Fare per mile and speed by distance")
    dist = query(s, "distance_category_speed", month=month)
    st.dataframe(dist, hide_index=True, key="distance")
    order = list(dist["distance_category"])
    c = st.columns(2)
    c[0].altair_chart(
        alt.Chart(dist)
        .mark_bar()
        .encode(
            x=alt.X("distance_category:N", sort=order, title=None),
            y=alt.Y("fare_per_mile:Q", title="fare per mile ($)"),
        )
        .properties(height=220),
        width="stretch",
    )
    c[1].altair_chart(
        alt.Chart(dist)
        .mark_bar(color="#e45756")
        .encode(
            x=alt.X("distance_category:N", sort=order, title=None),
            y=alt.Y("avg_speed_mph:Q", title="average speed (mph)"),
        )
        .properties(height=220),
        width="stretch",
    )

    st.header("Congestion relief zone fee")
    # Only TLC files of the 2025- era carry cbd_congestion_fee (spark_jobs/schemas/tlc.py): for an earlier
    # month the answer is known without scanning the month's trips (the one query without a pre-aggregate).
    fee = query(s, "congestion_fee", month=month).iloc[0] if data.records_congestion_fee(month) else None
    if fee is None or not fee["fee_recorded_trips"]:
        st.info(
            f"No congestion fee in {month}: Manhattan's congestion relief zone fee is charged from "
            "5 January 2025 and recorded in the TLC files from 2025 (cbd_congestion_fee)."
        )
    else:
        c = st.columns(3)
        c[0].metric("Trips charged the fee", num(fee["charged_trips"]))
        c[1].metric("Share of trips charged", pct(fee["charged_share_pct"]))
        c[2].metric("Congestion fees collected", money(fee["total_fee"]))


# ---- Pipeline ---------------------------------------------------------------------------------------
def pipeline(s) -> None:
    st.title("Pipeline runs")
    reports = data.run_reports(s.runs_dir)
    if not reports:
        st.warning(
            f"**No run report in {s.runs_dir}.**\n\nRun the pipeline: `make pipeline` (or `make demo`)."
        )
        return
    st.subheader("Latest runs")
    runs = pd.DataFrame(
        [
            {
                "run": r["run_id"],
                "month": r["month"],
                "source": r["source"],
                "status": r["status"],
                "seconds": r["seconds"],
                "started": r["started_at"],
                "checks ok": f"{sum(c['ok'] for c in r.get('checks', []))}/{len(r.get('checks', []))}",
            }
            for r in reports
        ]
    )
    st.dataframe(runs, hide_index=True, key="runs")
    latest = data.latest_report(s.runs_dir)
    ids = [r["run_id"] for r in reports]
    default = ids.index(latest["run_id"]) if latest and latest["run_id"] in ids else 0
    run_id = st.selectbox("Run", ids, index=default, key="run")
    rep = reports[ids.index(run_id)]
    status = st.success if rep["status"] == "succeeded" else st.error
    status(
        f"run {rep['run_id']}: month {rep['month']}, {rep['status']} in {rep['seconds']:.1f} s end to end"
        + (f" — {rep['error']}" if rep.get("error") else "")
    )

    st.subheader("Stages")
    stages = pd.DataFrame(
        [
            {
                "stage": x["name"],
                "status": x["status"],
                "seconds": x["seconds"],
                "rows in": x["rows_in"],
                "rows out": x["rows_out"],
                "quarantined": x["quarantined"],
                "sum(total_amount)": x["total_amount"],
            }
            for x in rep["stages"]
        ]
    )
    st.dataframe(stages, hide_index=True, key="stages")
    if not stages.empty:
        st.altair_chart(
            alt.Chart(stages)
            .mark_bar()
            .encode(
                x=alt.X("seconds:Q", title="wall seconds"),
                y=alt.Y("stage:N", sort=list(stages["stage"]), title=None),
            )
            .properties(height=28 * len(stages)),
            width="stretch",
        )

    reasons: dict[str, int] = {}
    for x in rep["stages"]:
        for k, v in (x.get("quarantined_by_reason") or {}).items():
            reasons[k] = reasons.get(k, 0) + int(v)
    st.subheader("Quarantined rows by reason")
    if reasons:
        st.dataframe(
            pd.DataFrame(sorted(reasons.items(), key=lambda kv: -kv[1]), columns=["reason", "rows"]),
            hide_index=True,
            key="reasons",
        )
        st.caption("A row may carry several reasons.")
    else:
        st.write("No row quarantined in this run.")

    st.subheader("Reconciliation")
    checks = rep.get("checks", [])
    if checks:
        bad = [c for c in checks if not c["ok"]]
        (st.error if bad else st.success)(
            f"{len(checks) - len(bad)} of {len(checks)} checks match"
            + (f"; mismatched: {', '.join(c['name'] for c in bad)}" if bad else "")
        )
        st.dataframe(
            pd.DataFrame(
                [
                    {
                        "check": c["name"],
                        "expected": str(c["expected"]),
                        "actual": str(c["actual"]),
                        "ok": c["ok"],
                    }
                    for c in checks
                ]
            ),
            hide_index=True,
            key="checks",
        )
    else:
        st.write("This run recorded no reconciliation check.")

    st.subheader("Freshness of the latest daily drops")
    drop_run, drops = data.latest_drops(reports)
    if drops:
        st.caption(
            f"run {drop_run['run_id']} (month {drop_run['month']}): raw object created -> rows queryable"
        )
        st.dataframe(
            pd.DataFrame(
                [
                    {
                        "drop": d["key"].rsplit("/", 1)[-1],
                        "dates": ",".join(d["dates"]),
                        "rows visible": d["rows_visible"],
                        "freshness s": d["freshness_s"],
                    }
                    for d in drops
                ]
            ),
            hide_index=True,
            key="drops",
        )
    else:
        st.write("No daily drop among these runs (`make simulate` lands some).")

    st.subheader("Operations: alarms and estimated cost")
    ops = data.operations_summary(s)
    if ops is None:
        st.info(
            "The operations module (taxilab.ops: alarms, cost model) is not installed in this lab; "
            "its alarms and estimated cost appear here once it is."
        )
    elif "error" in ops:
        st.warning(f"Operations status unavailable: {ops['error']}")
    else:
        alarms = pd.DataFrame(ops.get("alarms") or [])
        if not alarms.empty:
            firing = alarms[alarms["state"] == "ALARM"] if "state" in alarms else alarms.iloc[0:0]
            (st.error if len(firing) else st.success)(
                f"{len(firing)} of {len(alarms)} alarms in ALARM"
                + (f": {', '.join(firing['alarm'])}" if len(firing) else "")
            )
            st.dataframe(alarms.astype(str), hide_index=True, key="alarms")
        cost = ops.get("cost") or {}
        if cost:
            c = st.columns(3)
            c[0].metric(
                f"Estimated AWS cost, {cost.get('month', '')} to date",
                f"${float(cost['month_to_date_usd']):,.4f}",
            )
            c[1].metric("Projected for the month", f"${float(cost['projected_month_usd']):,.4f}")
            c[2].metric("Budget used", f"{cost['budget_used_percent']}% of ${cost['budget_usd']}")


def main() -> None:
    t0 = time.perf_counter()
    st.set_page_config(page_title="taxilab", page_icon=None, layout="wide")
    wanted = str(st.query_params.get("page", "Insights")).capitalize()
    page = st.sidebar.radio("Page", PAGES, index=PAGES.index(wanted) if wanted in PAGES else 0, key="page")
    s = data.settings()
    st.sidebar.caption(f"profile `{s.profile}`")
    try:
        if page == "Insights":
            insights(s)
        else:
            pipeline(s)
    except data.Unavailable as e:
        show_unavailable(e)
    except data.QueryFailed as e:  # e.g. a role without the grant: the message, not a traceback
        st.error(f"**A named query failed.**\n\n{e}")
    # The server-side build time of this run (queries + elements), read by dashboard/bench.py.
    st.sidebar.caption(f"{BUILT_PREFIX} {time.perf_counter() - t0:.3f} s")


main()
