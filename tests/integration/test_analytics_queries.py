"""Every named analytics query (sql/analytics) on a fixed small dataset, against an exact expected
result computed independently in Python from the same hand-written trips (never by running SQL).

The dataset: 40 trips of November 2023 (+ 2 in December, which no November query may count) in a
scratch database; the curated tables are built from them with plain SQL as the Glue job would, the
dimensions by taxilab.warehouse.dims. Money is compared exactly (Decimal); a ROUND(double, 2) column
as PostgreSQL computes it (the double's 15 significant digits, then half away from zero).
"""

from __future__ import annotations

import csv
import statistics
from collections import defaultdict
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import psycopg
import pytest

from emulation.redshift.dialect import apply_ddl
from spark_jobs.schemas.contracts import AIRPORT_ZONES, DISTANCE_CATEGORIES, PAYMENT_TYPES, TIME_OF_DAY
from taxilab.warehouse import queries
from taxilab.warehouse.aggregates_wh import build_aggregates
from taxilab.warehouse.dims import RATE_CODES, load_dims

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
ZONES_CSV = ROOT.parent / "shared" / "data" / "taxi_zone_lookup.csv"
MONTH = "2023-11"
CENT = Decimal("0.01")
D = Decimal

# (date, HH:MM, minutes, miles, PU, DO, payment, ratecode, vendor, passengers, fare, tip, airport_fee)
TRIPS_SPEC = [
    ("2023-11-03", "07:10", 12.0, 2.1, 161, 236, 1, 1, 2, 1, "12.10", "3.00", None),
    ("2023-11-03", "07:45", 25.5, 5.4, 236, 79, 1, 1, 2, 2, "24.70", "5.00", None),
    ("2023-11-03", "08:05", 40.0, 17.3, 132, 161, 1, 2, 2, 1, "70.00", "15.00", "1.75"),
    ("2023-11-03", "08:30", 9.0, 1.2, 79, 161, 2, 1, 1, 1, "9.30", "0.00", None),
    ("2023-11-03", "12:00", 18.0, 3.0, 161, 230, 1, 1, 2, 3, "16.30", "4.10", None),
    ("2023-11-03", "17:20", 33.0, 9.8, 161, 138, 1, 1, 2, 1, "38.00", "9.00", None),
    ("2023-11-03", "17:55", 4.0, 0.6, 230, 161, 2, 1, 1, 1, "5.80", "0.00", None),
    ("2023-11-03", "22:40", 15.0, 3.6, 79, 61, 1, 1, 2, 2, "19.10", "2.00", None),
    ("2023-11-04", "01:15", 20.0, 6.2, 79, 7, 1, 1, 2, 1, "26.80", "6.00", None),
    ("2023-11-04", "10:30", 55.0, 18.9, 138, 1, 1, 3, 2, 1, "85.00", "0.00", "1.75"),
    ("2023-11-04", "11:05", 7.5, 1.5, 236, 161, 1, 1, 1, None, "9.00", "2.50", None),
    ("2023-11-04", "13:40", 16.0, 2.9, 161, 79, 4, 1, 2, 1, "15.60", "0.00", None),
    ("2023-11-04", "18:10", 28.0, 8.1, 161, 132, 1, 2, 2, 2, "70.00", "14.00", None),
    ("2023-11-04", "20:20", 11.0, 2.4, 230, 236, 2, 1, 1, 4, "12.80", "0.00", None),
    ("2023-11-04", "23:50", 13.0, 0.0, 79, 79, 3, 1, 2, 1, "3.00", "0.00", None),
    ("2023-11-05", "02:30", 21.0, 5.0, 61, 79, 1, 1, 2, 1, "24.00", "30.00", None),
    ("2023-11-05", "09:15", 35.0, 11.4, 7, 132, 1, 2, 2, 1, "70.00", "10.00", None),
    ("2023-11-05", "14:45", 19.0, 3.3, 161, 236, 1, 1, 2, 2, "18.40", "3.70", None),
    ("2023-11-05", "16:00", 6.0, 0.9, 236, 236, 2, 1, 1, 1, "7.20", "0.00", None),
    ("2023-11-05", "19:35", 200.0, 4.4, 79, 161, 1, 1, 2, 1, "45.00", "5.00", None),
    ("2023-11-06", "06:50", 14.0, 2.7, 236, 161, 1, 1, 2, 1, "14.90", "3.50", None),
    ("2023-11-06", "07:20", 30.0, 10.6, 132, 230, 1, 2, 2, 1, "70.00", "16.50", "1.75"),
    ("2023-11-06", "08:00", 10.0, 1.8, 161, 79, 1, 1, 2, 1, "11.40", "2.00", None),
    ("2023-11-06", "08:40", 8.0, 1.1, 79, 230, 2, 1, 1, 1, "9.30", "0.00", None),
    ("2023-11-06", "12:30", 2.0, 6.0, 161, 7, 1, 1, 2, 1, "25.00", "5.00", None),
    ("2023-11-06", "17:00", 45.0, 12.2, 138, 61, 1, 1, 2, 1, "52.70", "11.00", "1.75"),
    ("2023-11-06", "18:25", 16.0, 3.1, 230, 161, 0, None, 2, None, "17.50", "0.00", None),
    ("2023-11-13", "07:05", 13.0, 2.2, 161, 236, 1, 1, 2, 1, "13.50", "3.00", None),
    ("2023-11-13", "08:15", 24.0, 4.9, 236, 161, 1, 1, 2, 1, "23.30", "4.70", None),
    ("2023-11-13", "09:50", 38.0, 16.8, 161, 132, 2, 2, 1, 1, "70.00", "0.00", None),
    ("2023-11-13", "12:10", 9.0, 1.6, 79, 161, 1, 1, 2, 1, "10.00", "2.00", None),
    ("2023-11-13", "15:30", 22.0, 3.8, 161, 79, 1, 1, 2, 2, "20.50", "4.00", None),
    ("2023-11-13", "17:40", 27.0, 6.6, 7, 161, 1, 1, 2, 1, "30.30", "6.50", None),
    ("2023-11-13", "21:00", 12.0, 2.5, 230, 236, 1, 1, 2, 1, "13.50", "2.70", None),
    ("2023-11-20", "03:00", 17.0, 7.7, 1, 161, 1, 3, 2, 1, "95.00", "20.00", "1.75"),
    ("2023-11-20", "08:20", 15.0, 2.6, 161, 236, 1, 1, 2, 1, "15.60", "3.20", None),
    ("2023-11-20", "18:45", 31.0, 5.2, 236, 61, 2, 1, 1, 1, "27.50", "0.00", None),
    ("2023-11-30", "23:10", 26.0, 9.9, 79, 138, 1, 1, 2, 3, "38.70", "8.00", None),
    ("2023-11-30", "10:00", 3.0, 0.4, 161, 161, 1, 5, 6, 1, "6.00", "1.00", None),
    ("2023-11-30", "16:30", 12.5, 2.0, 161, 230, 1, 1, 2, 1, "13.00", "2.60", None),
    # December: outside the month every query is asked about.
    ("2023-12-01", "08:00", 20.0, 4.0, 161, 236, 1, 1, 2, 1, "20.00", "4.00", None),
    ("2023-12-01", "09:00", 30.0, 18.0, 132, 161, 1, 2, 2, 1, "70.00", "14.00", "1.75"),
]


def _zones() -> dict[int, tuple[str, str]]:
    with ZONES_CSV.open(newline="") as f:
        return {int(r["LocationID"]): (r["Borough"], r["Zone"]) for r in csv.DictReader(f)}


def _category(miles: float) -> str:
    return next(n for n, lo, hi in DISTANCE_CATEGORIES if miles >= lo and (hi is None or miles < hi))


def _time_of_day(hour: int) -> str:
    return next(n for n, lo, hi in TIME_OF_DAY if lo <= hour <= hi)


def build_trips() -> list[dict]:
    """The staging rows (fct_trips columns) of TRIPS_SPEC, enriched in plain Python."""
    zones = _zones()
    trips = []
    for day, hhmm, minutes, miles, pu, do, pay, rate, vendor, pax, fare, tip, afee in TRIPS_SPEC:
        pickup = datetime.fromisoformat(f"{day}T{hhmm}:00")
        fare, tip = D(fare), D(tip)
        afee = D(afee) if afee else None
        total = fare + tip + (afee or 0) + D("1.00")  # + mta_tax 0.50 + improvement 0.50
        trips.append(
            {
                "vendor_id": vendor,
                "pickup_datetime": pickup,
                "dropoff_datetime": pickup + timedelta(minutes=minutes),
                "passenger_count": pax,
                "trip_distance": miles,
                "ratecode_id": rate,
                "pu_location_id": pu,
                "do_location_id": do,
                "payment_type": pay,
                "fare_amount": fare,
                "mta_tax": D("0.50"),
                "tip_amount": tip,
                "improvement_surcharge": D("0.50"),
                "total_amount": total,
                "airport_fee": afee,
                "trip_duration_min": minutes,
                "avg_speed_mph": miles / (minutes / 60),
                "pickup_hour": pickup.hour,
                "pickup_weekday": pickup.isoweekday(),
                "is_weekend": pickup.isoweekday() >= 6,
                "tip_pct": float(tip) / float(fare) * 100 if fare > 0 else None,
                "fare_per_mile": float(fare) / miles if miles > 0 else None,
                "distance_category": _category(miles),
                "pu_borough": zones[pu][0],
                "pu_zone": zones[pu][1],
                "do_borough": zones[do][0],
                "do_zone": zones[do][1],
                "is_airport_trip": pu in AIRPORT_ZONES or do in AIRPORT_ZONES,
                "pickup_date": pickup.date(),
                "time_of_day_category": _time_of_day(pickup.hour),
                "source_file": "fixture",
            }
        )
    return trips


TRIPS = build_trips()
NOV = [t for t in TRIPS if t["pickup_date"].month == 11]

# The curated tables from fct_trips, as the Glue aggregates job builds them (only the columns the
# queries read need to be exact; the fixture checks its own totals below).
CURATED_SQL = [
    """INSERT INTO taxi.daily_summary (pickup_date, pickup_weekday, is_weekend, trip_count, total_revenue, total_fare,
         total_tips, total_passengers, total_distance, avg_fare, avg_distance, avg_duration_min, avg_tip_pct,
         airport_trips, pickup_month)
       SELECT pickup_date, pickup_weekday, is_weekend, count(*), sum(total_amount), sum(fare_amount), sum(tip_amount),
         sum(passenger_count), sum(trip_distance), avg(fare_amount), avg(trip_distance), avg(trip_duration_min),
         avg(tip_pct), sum(CASE WHEN is_airport_trip THEN 1 ELSE 0 END), to_char(pickup_date, 'YYYY-MM')
       FROM taxi.fct_trips GROUP BY 1, 2, 3""",
    """INSERT INTO taxi.hourly_patterns (pickup_date, pickup_hour, pickup_weekday, is_weekend, time_of_day_category,
         trip_count, total_revenue, total_fare, total_tips, avg_fare, avg_duration_min, avg_speed_mph, pickup_month)
       SELECT pickup_date, pickup_hour, pickup_weekday, is_weekend, time_of_day_category, count(*), sum(total_amount),
         sum(fare_amount), sum(tip_amount), avg(fare_amount), avg(trip_duration_min), avg(avg_speed_mph),
         to_char(pickup_date, 'YYYY-MM')
       FROM taxi.fct_trips GROUP BY 1, 2, 3, 4, 5""",
    """INSERT INTO taxi.payment_analysis (pickup_date, payment_type, payment_type_name, trip_count, total_revenue,
         total_fare, total_tips, tipped_trips, avg_tip_pct, pickup_month)
       SELECT f.pickup_date, f.payment_type, p.payment_type_name, count(*), sum(total_amount), sum(fare_amount),
         sum(tip_amount), sum(CASE WHEN tip_amount > 0 THEN 1 ELSE 0 END), avg(tip_pct), to_char(f.pickup_date, 'YYYY-MM')
       FROM taxi.fct_trips f JOIN taxi.dim_payment_type p USING (payment_type) GROUP BY 1, 2, 3""",
    """INSERT INTO taxi.distance_analysis (pickup_date, distance_category, trip_count, total_revenue, total_fare,
         total_tips, total_distance, avg_fare_per_mile, avg_duration_min, avg_speed_mph, pickup_month)
       SELECT pickup_date, distance_category, count(*), sum(total_amount), sum(fare_amount), sum(tip_amount),
         sum(trip_distance), avg(fare_per_mile), avg(trip_duration_min), avg(avg_speed_mph),
         to_char(pickup_date, 'YYYY-MM')
       FROM taxi.fct_trips GROUP BY 1, 2""",
    """INSERT INTO taxi.location_analysis (pickup_date, pu_location_id, pu_borough, pu_zone, trip_count, total_revenue,
         total_fare, total_tips, avg_fare, avg_distance, avg_tip_pct, pickup_month)
       SELECT pickup_date, pu_location_id, pu_borough, pu_zone, count(*), sum(total_amount), sum(fare_amount),
         sum(tip_amount), avg(fare_amount), avg(trip_distance), avg(tip_pct), to_char(pickup_date, 'YYYY-MM')
       FROM taxi.fct_trips GROUP BY 1, 2, 3, 4""",
]


@pytest.fixture(scope="module")
def wh(pg_conn_factory):
    """The scratch warehouse with the fixed dataset loaded (fct_trips, curated tables, dimensions)."""
    with pg_conn_factory() as conn:
        conn.execute("DROP SCHEMA IF EXISTS taxi CASCADE")
        apply_ddl(conn, ROOT / "sql" / "ddl")
        for month in (MONTH, "2023-12"):
            load_dims(conn, ZONES_CSV, month)
        cols = list(TRIPS[0])
        with conn.cursor() as cur:
            cur.executemany(
                f"INSERT INTO taxi.fct_trips ({', '.join(cols)}) VALUES ({', '.join(['%s'] * len(cols))})",
                [[t[c] for c in cols] for t in TRIPS],
            )
        for statement in CURATED_SQL:
            conn.execute(statement)
        for month in (MONTH, "2023-12"):  # the pre-aggregates, as the month load builds them
            build_aggregates(conn, month)
        conn.commit()
        yield conn


def run(conn, name: str, **params) -> list[tuple]:
    return queries.run(conn, name, {k: str(v) for k, v in params.items()}).rows


# ---- independent helpers ----------------------------------------------------------------------
def m2(x: Decimal) -> Decimal:
    return D(x).quantize(CENT, rounding=ROUND_HALF_UP)


def f2(x: float) -> Decimal:
    """ROUND(double, 2) as the lab computes it: the double's 15 significant digits, half away from zero."""
    return D(f"{x:.15g}").quantize(CENT, rounding=ROUND_HALF_UP)


def pct(a, b) -> Decimal:
    return m2(D(100) * D(a) / D(b))


def group(rows, key):
    out = defaultdict(list)
    for r in rows:
        out[key(r)].append(r)
    return out


def money(rows, col="total_amount") -> Decimal:
    return sum((r[col] or D(0) for r in rows), D(0))


def mean(values) -> float:
    values = list(values)
    return sum(values) / len(values)


def test_fixture_has_the_trips_and_curated_tables_agree_with_them(wh):
    assert wh.execute("SELECT count(*), sum(total_amount) FROM taxi.fct_trips").fetchone() == (
        len(TRIPS),
        money(TRIPS),
    )
    for table in (
        "daily_summary",
        "hourly_patterns",
        "payment_analysis",
        "distance_analysis",
        "location_analysis",
    ):
        assert wh.execute(f"SELECT sum(trip_count), sum(total_revenue) FROM taxi.{table}").fetchone() == (
            len(TRIPS),
            money(TRIPS),
        ), table


def test_every_analytics_query_has_a_test_here():
    tested = {n[len("test_") :] for n in globals() if n.startswith("test_")}
    assert set(queries.list_names()) <= tested, set(queries.list_names()) - tested
    assert len(queries.list_names()) >= 25


# ---- one test per query -----------------------------------------------------------------------
def test_daily_revenue(wh):
    rows = [t for t in TRIPS if date(2023, 11, 4) <= t["pickup_date"] <= date(2023, 11, 13)]
    exp = [
        (d, len(g), money(g), money(g, "tip_amount"), m2(money(g) / len(g)))
        for d, g in sorted(group(rows, lambda t: t["pickup_date"]).items())
    ]
    assert run(wh, "daily_revenue", start_date="2023-11-04", end_date="2023-11-13") == exp


def test_weekly_revenue(wh):
    g = group(NOV, lambda t: t["pickup_date"] - timedelta(days=t["pickup_date"].weekday()))
    exp = [
        (w, len({t["pickup_date"] for t in ts}), len(ts), money(ts), m2(money(ts) / len(ts)))
        for w, ts in sorted(g.items())
    ]
    assert run(wh, "weekly_revenue", month=MONTH) == exp


def test_revenue_moving_average(wh):
    daily = sorted((d, money(g)) for d, g in group(NOV, lambda t: t["pickup_date"]).items())
    exp = []
    for i, (d, rev) in enumerate(daily):
        window = [r for _, r in daily[max(0, i - 6) : i + 1]]
        exp.append((d, rev, m2(sum(window) / len(window))))
    assert run(wh, "revenue_moving_average", month=MONTH) == exp


def test_day_over_day_change(wh):
    daily = sorted((d, len(g)) for d, g in group(NOV, lambda t: t["pickup_date"]).items())
    exp = [
        (
            d,
            n,
            None if i == 0 else daily[i - 1][1],
            None if i == 0 else pct(n - daily[i - 1][1], daily[i - 1][1]),
        )
        for i, (d, n) in enumerate(daily)
    ]
    assert run(wh, "day_over_day_change", month=MONTH) == exp


def test_peak_hour_heatmap(wh):
    g = group(NOV, lambda t: (t["pickup_weekday"], t["pickup_hour"]))
    assert run(wh, "peak_hour_heatmap", month=MONTH) == [
        (*k, len(ts), money(ts)) for k, ts in sorted(g.items())
    ]


def test_busiest_hours(wh):
    g = sorted(group(NOV, lambda t: t["pickup_hour"]).items(), key=lambda kv: (-len(kv[1]), kv[0]))
    exp = [(h, len(ts), money(ts), i + 1) for i, (h, ts) in enumerate(g[:3])]
    assert run(wh, "busiest_hours", month=MONTH, top_n=3) == exp


def test_time_of_day_revenue(wh):
    g = group(NOV, lambda t: t["time_of_day_category"])
    order = [n for n, _, _ in TIME_OF_DAY if n in g]
    exp = [(n, len(g[n]), money(g[n]), pct(len(g[n]), len(NOV))) for n in order]
    assert run(wh, "time_of_day_revenue", month=MONTH) == exp


def test_top_pickup_zones(wh):
    g = sorted(
        group(NOV, lambda t: (t["pu_location_id"], t["pu_borough"], t["pu_zone"])).items(),
        key=lambda kv: (-len(kv[1]), kv[0][0]),
    )
    exp = [
        (i + 1, *k, len(ts), money(ts), m2(money(ts, "fare_amount") / len(ts)))
        for i, (k, ts) in enumerate(g[:4])
    ]
    assert run(wh, "top_pickup_zones", month=MONTH, top_n=4) == exp


def test_borough_revenue(wh):
    g = group(NOV, lambda t: t["pu_borough"])
    total = money(NOV)
    exp = sorted(
        ((b, len(ts), money(ts), pct(money(ts), total)) for b, ts in g.items()), key=lambda r: (-r[2], r[0])
    )
    assert run(wh, "borough_revenue", month=MONTH) == exp


def test_borough_flows(wh):
    g = group(NOV, lambda t: (t["pu_borough"], t["do_borough"]))
    exp = sorted(((*k, len(ts), money(ts)) for k, ts in g.items()), key=lambda r: (-r[2], r[0], r[1]))
    assert run(wh, "borough_flows", month=MONTH) == exp


def test_top_routes(wh):
    g = sorted(
        group(NOV, lambda t: (t["pu_location_id"], t["pu_zone"], t["do_location_id"], t["do_zone"])).items(),
        key=lambda kv: (-len(kv[1]), kv[0][0], kv[0][2]),
    )
    exp = [(i + 1, *k, len(ts), m2(money(ts) / len(ts))) for i, (k, ts) in enumerate(g[:5])]
    assert run(wh, "top_routes", month=MONTH, top_n=5) == exp


def test_airport_trips(wh):
    zones = _zones()

    def key(t):
        frm = t["pu_location_id"] in AIRPORT_ZONES
        return zones[t["pu_location_id"] if frm else t["do_location_id"]][1], "from" if frm else "to"

    g = group([t for t in NOV if t["is_airport_trip"]], key)
    exp = [
        (
            *k,
            len(ts),
            money(ts),
            sum((t["airport_fee"] for t in ts if t["airport_fee"]), D(0))
            if any(t["airport_fee"] for t in ts)
            else None,
            m2(money(ts) / len(ts)),
        )
        for k, ts in sorted(g.items())
    ]
    assert run(wh, "airport_trips", month=MONTH) == exp


def test_airport_fees_daily(wh):
    exp = []
    for d, ts in sorted(group(NOV, lambda t: t["pickup_date"]).items()):
        ap = sum(t["is_airport_trip"] for t in ts)
        exp.append((d, len(ts), ap, pct(ap, len(ts)), money(ts, "airport_fee")))
    assert run(wh, "airport_fees_daily", month=MONTH) == exp


def test_payment_mix(wh):
    g = group(NOV, lambda t: t["payment_type"])
    exp = [(p, PAYMENT_TYPES[p], len(ts), pct(len(ts), len(NOV)), money(ts)) for p, ts in sorted(g.items())]
    assert run(wh, "payment_mix", month=MONTH) == exp


def test_tipping_by_payment(wh):
    exp = []
    for p, ts in sorted(group(NOV, lambda t: t["payment_type"]).items()):
        tipped = sum(t["tip_amount"] > 0 for t in ts)
        tips, fares = money(ts, "tip_amount"), money(ts, "fare_amount")
        exp.append((PAYMENT_TYPES[p], len(ts), tipped, pct(tipped, len(ts)), tips, pct(tips, fares)))
    assert run(wh, "tipping_by_payment", month=MONTH) == exp


def test_tip_pct_by_hour(wh):
    g = group([t for t in NOV if t["payment_type"] == 1], lambda t: t["pickup_hour"])
    exp = [(h, len(ts), f2(mean(t["tip_pct"] for t in ts))) for h, ts in sorted(g.items())]
    assert run(wh, "tip_pct_by_hour", month=MONTH) == exp


def test_distance_categories(wh):
    g = group(NOV, lambda t: t["distance_category"])
    rows = []
    for c, ts in g.items():
        miles = sum(t["trip_distance"] for t in ts)
        rows.append(
            (miles / len(ts), (c, len(ts), money(ts), f2(miles), f2(float(money(ts, "fare_amount")) / miles)))
        )
    assert run(wh, "distance_categories", month=MONTH) == [r for _, r in sorted(rows)]


def test_fare_per_mile_by_borough(wh):
    g = group([t for t in NOV if t["trip_distance"] > 0], lambda t: t["pu_borough"])
    exp = []
    for b, ts in sorted(g.items()):
        miles = sum(t["trip_distance"] for t in ts)
        exp.append((b, len(ts), f2(miles), f2(float(money(ts, "fare_amount")) / miles)))
    assert run(wh, "fare_per_mile_by_borough", month=MONTH) == exp


def test_speed_by_hour(wh):
    g = group(NOV, lambda t: t["pickup_hour"])
    exp = [
        (h, len(ts), f2(mean(t["avg_speed_mph"] for t in ts)), f2(mean(t["trip_duration_min"] for t in ts)))
        for h, ts in sorted(g.items())
    ]
    assert run(wh, "speed_by_hour", month=MONTH) == exp


def test_speed_by_zone(wh):
    g = {k: ts for k, ts in group(NOV, lambda t: (t["pu_location_id"], t["pu_zone"])).items() if len(ts) >= 3}
    rows = sorted(
        ((mean(t["avg_speed_mph"] for t in ts), k, len(ts)) for k, ts in g.items()),
        key=lambda r: (r[0], r[1][0]),
    )
    assert run(wh, "speed_by_zone", month=MONTH, min_trips=3) == [(*k, n, f2(s)) for s, k, n in rows]


def test_anomaly_days(wh):
    daily = sorted((d, len(g)) for d, g in group(NOV, lambda t: t["pickup_date"]).items())
    mu, sd = statistics.mean(n for _, n in daily), statistics.stdev(n for _, n in daily)
    exp = [(d, n, f2((n - mu) / sd)) for d, n in daily if abs((n - mu) / sd) > 1.0]
    assert exp  # the fixture has at least one anomalous day at z = 1
    assert run(wh, "anomaly_days", month=MONTH, z="1.0") == exp


def test_anomalous_trips(wh):
    exp = (
        len(NOV),
        sum(t["avg_speed_mph"] > 60 for t in NOV),
        sum(t["trip_distance"] == 0 for t in NOV),
        sum(t["trip_duration_min"] > 180 for t in NOV),
        sum(t["tip_amount"] > t["fare_amount"] for t in NOV),
    )
    assert exp[1:] == (1, 1, 1, 1)  # each anomaly occurs once in the fixture
    assert run(wh, "anomalous_trips", month=MONTH, max_speed_mph=60) == [exp]


def test_executive_summary(wh):
    daily = group(NOV, lambda t: t["pickup_date"])
    busiest = sorted(daily.items(), key=lambda kv: (-len(kv[1]), kv[0]))[0][0]
    exp = (
        len(daily),
        len(NOV),
        money(NOV),
        money(NOV, "tip_amount"),
        m2(money(NOV) / len(NOV)),
        m2(D(len(NOV)) / len(daily)),
        pct(sum(t["is_airport_trip"] for t in NOV), len(NOV)),
        busiest,
    )
    assert run(wh, "executive_summary", month=MONTH) == [exp]


def test_weekday_vs_weekend(wh):
    exp = []
    for w, ts in sorted(group(NOV, lambda t: t["is_weekend"]).items()):
        days = len({t["pickup_date"] for t in ts})
        exp.append((w, days, len(ts), m2(D(len(ts)) / days), m2(money(ts) / len(ts))))
    assert run(wh, "weekday_vs_weekend", month=MONTH) == exp


def test_revenue_by_weekday(wh):
    names = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
    exp = []
    for wd, ts in sorted(group(NOV, lambda t: t["pickup_weekday"]).items()):
        days = len({t["pickup_date"] for t in ts})
        exp.append((wd, names[wd - 1], days, len(ts), money(ts), m2(money(ts) / days)))
    assert run(wh, "revenue_by_weekday", month=MONTH) == exp


def test_rate_code_mix(wh):
    g = group(NOV, lambda t: RATE_CODES[t["ratecode_id"]] if t["ratecode_id"] else "Not recorded")
    exp = sorted(((k, len(ts), money(ts)) for k, ts in g.items()), key=lambda r: (-r[1], r[0]))
    assert run(wh, "rate_code_mix", month=MONTH) == exp


def test_vendor_share(wh):
    g = group(NOV, lambda t: t["vendor_id"])
    exp = [(v, len(ts), pct(len(ts), len(NOV)), money(ts)) for v, ts in sorted(g.items())]
    assert run(wh, "vendor_share", month=MONTH) == exp


def test_passenger_count_mix(wh):
    g = group(NOV, lambda t: t["passenger_count"])
    keys = sorted(k for k in g if k is not None) + ([None] if None in g else [])
    assert run(wh, "passenger_count_mix", month=MONTH) == [
        (k, len(g[k]), m2(money(g[k]) / len(g[k]))) for k in keys
    ]


def test_trip_duration_buckets(wh):
    def bucket(m):
        return next(
            b
            for lim, b in [
                (5, "00-05 min"),
                (15, "05-15 min"),
                (30, "15-30 min"),
                (60, "30-60 min"),
                (float("inf"), "60+ min"),
            ]
            if m < lim
        )

    g = group(NOV, lambda t: bucket(t["trip_duration_min"]))
    assert run(wh, "trip_duration_buckets", month=MONTH) == [
        (b, len(ts), m2(money(ts, "fare_amount") / len(ts))) for b, ts in sorted(g.items())
    ]


# ---- the dashboard's queries (dashboard/, issue 14) ----------------------------------------------
def test_loaded_months(wh):
    g = group(TRIPS, lambda t: t["pickup_date"].strftime("%Y-%m"))
    exp = [
        (m, len({t["pickup_date"] for t in ts}), len(ts), money(ts))
        for m, ts in sorted(g.items(), reverse=True)
    ]
    assert [r[0] for r in exp] == ["2023-12", MONTH]
    assert run(wh, "loaded_months") == exp


@pytest.mark.parametrize("borough", ["All", "Manhattan", "Queens"])
def test_daily_trips_by_borough(wh, borough):
    rows = [t for t in NOV if borough == "All" or t["pu_borough"] == borough]
    exp = [
        (d, d.isoweekday(), d.isoweekday() >= 6, len(ts), money(ts))
        for d, ts in sorted(group(rows, lambda t: t["pickup_date"]).items())
    ]
    assert exp
    assert run(wh, "daily_trips_by_borough", month=MONTH, borough=borough) == exp


@pytest.mark.parametrize(("borough", "top_n"), [("All", 4), ("Manhattan", 3), ("Queens", 10)])
def test_top_pickup_zones_by_borough(wh, borough, top_n):
    rows = [t for t in NOV if borough == "All" or t["pu_borough"] == borough]
    g = sorted(
        group(rows, lambda t: (t["pu_location_id"], t["pu_borough"], t["pu_zone"])).items(),
        key=lambda kv: (-len(kv[1]), kv[0][0]),
    )
    exp = [(i + 1, *k, len(ts), money(ts), pct(len(ts), len(rows))) for i, (k, ts) in enumerate(g[:top_n])]
    assert run(wh, "top_pickup_zones_by_borough", month=MONTH, borough=borough, top_n=top_n) == exp


def test_airport_share(wh):
    zones = _zones()
    g = group(
        [t for t in NOV if t["is_airport_trip"]],
        lambda t: zones[t["pu_location_id"] if t["pu_location_id"] in AIRPORT_ZONES else t["do_location_id"]][
            1
        ],
    )
    assert set(g) == {"JFK Airport", "LaGuardia Airport", "Newark Airport"}
    exp = [
        (a, len(ts), money(ts), pct(len(ts), len(NOV)), pct(money(ts), money(NOV)))
        for a, ts in sorted(g.items())
    ]
    assert run(wh, "airport_share", month=MONTH) == exp


def test_distance_category_speed(wh):
    rows = []
    for c, ts in group(NOV, lambda t: t["distance_category"]).items():
        miles = sum(t["trip_distance"] for t in ts)
        rows.append(
            (
                miles / len(ts),
                (
                    c,
                    len(ts),
                    f2(float(money(ts, "fare_amount")) / miles),
                    f2(mean(t["avg_speed_mph"] for t in ts)),
                    f2(mean(t["trip_duration_min"] for t in ts)),
                ),
            )
        )
    assert run(wh, "distance_category_speed", month=MONTH) == [r for _, r in sorted(rows)]


def test_congestion_fee(wh):
    # Before 2025 no file records the fee: the month's trips, nothing recorded, nothing charged.
    assert run(wh, "congestion_fee", month=MONTH) == [(len(NOV), 0, 0, D("0.00"), None)]
    with wh.transaction() as tx:  # 2025 files: 0.75 on Manhattan pickups from 05:00 to 20:59, 0.00 otherwise

        def fee(t):
            return D("0.75") if t["pu_borough"] == "Manhattan" and 5 <= t["pickup_hour"] <= 20 else D("0.00")

        wh.execute("""UPDATE taxi.fct_trips SET cbd_congestion_fee = CASE WHEN pu_borough = 'Manhattan'
                      AND pickup_hour BETWEEN 5 AND 20 THEN 0.75 ELSE 0.00 END WHERE pickup_date < '2023-12-01'""")
        build_aggregates(wh, MONTH)  # as the month's load does after its fct_trips
        charged = [t for t in NOV if fee(t) > 0]
        assert 0 < len(charged) < len(NOV)
        exp = (
            len(NOV),
            len(NOV),
            len(charged),
            pct(len(charged), len(NOV)),
            sum((fee(t) for t in NOV), D(0)),
        )
        assert run(wh, "congestion_fee", month=MONTH) == [exp]
        assert run(wh, "congestion_fee", month="2023-12") == [(2, 0, 0, D("0.00"), None)]
        raise psycopg.Rollback(tx)


# ---- running by name: parameters and errors ----------------------------------------------------
def test_a_missing_or_unknown_parameter_is_an_error_naming_it(wh):
    with pytest.raises(queries.QueryError, match=r"missing \['top_n'\]"):
        run(wh, "busiest_hours", month=MONTH)
    with pytest.raises(queries.QueryError, match=r"unknown \['monht'\]"):
        run(wh, "payment_mix", month=MONTH, monht="x")


def test_an_unknown_query_name_is_an_error_listing_the_known_ones():
    with pytest.raises(queries.QueryError, match="no query 'revenue_by_planet'.*daily_revenue"):
        queries.load_query("revenue_by_planet")


def test_a_bad_parameter_value_fails_with_the_query_name(wh):
    with pytest.raises(queries.QueryError, match="daily_revenue"):
        run(wh, "daily_revenue", start_date="not-a-date", end_date="2023-11-30")
    # the failed query ran in a savepoint: the connection still works
    assert run(wh, "vendor_share", month=MONTH)


def test_query_results_render_as_csv_and_json(wh):
    import json

    from taxilab.cli.sql import render

    res = queries.run(wh, "vendor_share", {"month": MONTH})
    text = render(res, "csv").splitlines()
    assert text[0] == "vendor_id,trip_count,trip_share_pct,total_revenue"
    assert len(text) == 1 + len({t["vendor_id"] for t in NOV})
    data = json.loads(render(res, "json"))
    assert sum(r["trip_count"] for r in data) == len(NOV)


# ---- validation SQL (sql/validation): no rows on consistent layers, a named row on a broken one --
VALIDATIONS = [
    "curated_matches_fct_trips",
    "daily_summary_matches_fct_trips",
    "fct_trips_integrity",
    "preaggregates_match_fct_trips",
]
# the figure queries reconcile compares with the lake (taxilab.validation.reconcile.FIGURE_QUERIES)
FIGURES = ["curated_tables_daily", "fct_trips_daily_fingerprint"]


def validate(conn, name: str) -> list[tuple]:
    return queries.run(conn, name, {"month": MONTH}, directory=queries.VALIDATION_DIR).rows


def test_validation_queries_find_nothing_on_consistent_layers(wh):
    assert sorted(queries.list_names(queries.VALIDATION_DIR)) == sorted(VALIDATIONS + FIGURES)
    for name in VALIDATIONS:
        assert validate(wh, name) == [], name


def test_validation_queries_name_what_is_broken(wh):
    with wh.transaction() as tx:
        wh.execute(
            "UPDATE taxi.daily_summary SET trip_count = trip_count + 1 WHERE pickup_date = '2023-11-05'"
        )
        wh.execute("DELETE FROM taxi.dim_zone WHERE location_id = 61")
        assert [r[0] for r in validate(wh, "curated_matches_fct_trips")] == ["daily_summary"]
        assert [r[0] for r in validate(wh, "daily_summary_matches_fct_trips")] == [date(2023, 11, 5)]
        n61 = sum(61 in (t["pu_location_id"], t["do_location_id"]) for t in NOV)
        assert validate(wh, "fct_trips_integrity") == [("zones_in_dim_zone", n61)]
        # a cent of congestion fee on a day where no trip records one
        wh.execute(
            "UPDATE taxi.agg_cbd_fee_daily SET total_fee = COALESCE(total_fee, 0) + 0.01"
            " WHERE pickup_date = '2023-11-05'"
        )
        assert validate(wh, "preaggregates_match_fct_trips") == [
            ("agg_cbd_fee_daily", date(2023, 11, 5), "fee_cents", 0, 1)
        ]
        raise psycopg.Rollback(tx)  # the breakage stays in this test
    assert validate(wh, "curated_matches_fct_trips") == []
    assert validate(wh, "preaggregates_match_fct_trips") == []
