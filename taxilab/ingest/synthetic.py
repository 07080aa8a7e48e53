"""Synthetic NYC TLC yellow-taxi months in the exact 2024 source schema.
Why: docs/adr/0001-embedded-services-moto-and-pgserver.md.
"""

from __future__ import annotations

import calendar
import datetime as dt
import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from spark_jobs.schemas.tlc import arrow_schema_2024
from taxilab.core.runs import timed
from taxilab.core.state import atomic_output

# Dirt kinds, as fractions of all rows (whole of 2024, TLC_REFERENCE.md "Real anomaly rates").
# Kinds in the same group (see _DIRT_GROUPS) are mutually exclusive on a row.
DIRT_RATES: dict[str, float] = {
    # Reversal rows: every amount negated, so fare < 0 and total < 0 (total < 0: 1.48%).
    "refund": 0.0148,
    # Fare adjustment: fare < 0 but the fees keep total >= 0; with refunds makes fare < 0 = 1.78%.
    "negative_fare_only": 0.0030,
    "extreme_fare": 0.000002,  # fare 1,000 .. 863,000
    "extreme_tip": 0.000003,  # tip 999.99, -333 or 100 .. 999
    "zero_distance": 0.0189,
    "distance_over_100mi": 0.00004,  # mostly 100-300 mi, a fifth up to 398,000 mi
    "zero_passengers": 0.0098,  # only on rows outside the null block (the rate is of all rows)
    "unknown_zone": 0.0103,  # PULocationID and/or DOLocationID in 264/265
    "nonpositive_duration": 0.00033,  # dropoff == pickup or before it
    "duration_over_24h": 0.00001,
    "pickup_outside_month_near": 0.00001,  # previous day / next day across the month boundary
    "pickup_outside_month_far": 0.000003,  # years away (2002, 2008, 2026)
}

_DIRT_GROUPS: dict[str, tuple[str, ...]] = {
    "amount": ("refund", "negative_fare_only", "extreme_fare", "extreme_tip"),
    "distance": ("zero_distance", "distance_over_100mi"),
    "passengers": ("zero_passengers",),
    "zone": ("unknown_zone",),
    "duration": ("nonpositive_duration", "duration_over_24h"),
    "pickup": ("pickup_outside_month_near", "pickup_outside_month_far"),
}

# From this many rows up, one row of every dirt kind is planted at a fixed position, because the
# rarest kinds (a few per million) would otherwise be missing from test-sized months.
GUARANTEE_MIN_ROWS = 100_000

# Share of Flex Fare rows (the null block) per month as measured; other months use the default.
NULL_BLOCK_RATES: dict[str, float] = {"2024-01": 0.047, "2024-02": 0.062, "2024-03": 0.12}
DEFAULT_NULL_BLOCK_RATE = 0.05

# Rows per RNG block: the unit of determinism (not the write chunk), ~100 ms of work each.
BLOCK_ROWS = 1 << 17

# --- zones (mirror of taxi_zone_lookup.csv; tests check them against the file) -----------------

MANHATTAN_ZONES = (
    4, 12, 13, 24, 41, 42, 43, 45, 48, 50, 68, 74, 75, 79, 87, 88, 90, 100, 103, 104, 105, 107,
    113, 114, 116, 120, 125, 127, 128, 137, 140, 141, 142, 143, 144, 148, 151, 152, 153, 158, 161,
    162, 163, 164, 166, 170, 186, 194, 202, 209, 211, 224, 229, 230, 231, 232, 233, 234, 236, 237,
    238, 239, 243, 244, 246, 249, 261, 262, 263,
)  # fmt: skip
# Manhattan zones north of 96th Street: no congestion surcharge unless the other end is south.
_UPPER_MANHATTAN = (41, 42, 74, 75, 116, 120, 127, 128, 151, 152, 153, 166, 194, 243, 244)
CONGESTION_ZONES = tuple(z for z in MANHATTAN_ZONES if z not in _UPPER_MANHATTAN)
EWR, JFK, LGA = 1, 132, 138
UNKNOWN_ZONES = (264, 265)
# Queens (except the two airports), Brooklyn, Bronx, Staten Island.
OUTER_ZONES = tuple(z for z in range(2, 264) if z not in MANHATTAN_ZONES and z not in (JFK, LGA))

# Trips touching each zone 1..263 (pickups + dropoffs) in the Feb 2024 sample of 50k trips:
# the within-borough popularity. +1 smoothing keeps every zone reachable.
_ZONE_TOUCHES = (
    115, 0, 6, 316, 0, 2, 142, 0, 6, 41, 2, 34, 680, 35, 5, 9, 74, 7, 7, 10,
    5, 9, 0, 292, 85, 17, 0, 17, 8, 1, 1, 3, 159, 4, 16, 31, 58, 11, 25, 53,
    440, 273, 1314, 0, 215, 2, 6, 2568, 82, 857, 10, 37, 11, 11, 9, 21, 0, 2, 0, 6,
    103, 27, 12, 14, 108, 77, 8, 2593, 28, 242, 21, 29, 6, 438, 889, 48, 9, 11, 2379, 82,
    6, 32, 16, 0, 9, 10, 573, 315, 49, 1562, 18, 21, 15, 6, 66, 1, 63, 6, 0, 1422,
    7, 11, 0, 0, 0, 17, 2040, 3, 1, 0, 1, 108, 1444, 1206, 0, 146, 8, 1, 6, 4,
    16, 8, 10, 12, 541, 4, 42, 4, 64, 41, 11, 2455, 13, 23, 17, 3, 1129, 2031, 10, 2075,
    2529, 3031, 1338, 983, 149, 68, 12, 1130, 7, 8, 846, 105, 5, 4, 14, 1, 22, 943, 19, 6,
    4300, 3202, 2763, 2212, 16, 650, 13, 27, 17, 2890, 10, 0, 6, 8, 6, 1, 16, 4, 52, 5,
    158, 11, 3, 0, 6, 2750, 1, 52, 46, 6, 18, 4, 56, 5, 17, 12, 25, 30, 0, 14,
    8, 31, 9, 0, 30, 1, 7, 3, 238, 13, 871, 6, 14, 0, 17, 40, 25, 20, 20, 25,
    1, 11, 71, 249, 48, 87, 11, 24, 2024, 3182, 1518, 314, 1370, 2692, 9, 4496, 4452, 2166, 2925, 3,
    14, 12, 99, 190, 1, 1785, 15, 5, 2225, 9, 1, 11, 0, 7, 135, 124, 22, 9, 8, 41,
    449, 1495, 2105,
)  # fmt: skip

# Zone classes: the trip model (distance, tolls, rate codes) works on class pairs.
_M, _J, _L, _E, _O = range(5)  # Manhattan, JFK, LaGuardia, Newark, outer boroughs
# Pickup class shares (JFK ~4.6%, LGA ~3%, EWR a few per 100k; 264/265 come from the dirt).
_PU_CLASS_P = (0.9052, 0.046, 0.030, 0.0001, 0.0187)
# Dropoff class given pickup class (rows: pickup class M, J, L, E, O).
_DO_CLASS_P = (
    (0.937, 0.008, 0.010, 0.0025, 0.0425),
    (0.620, 0.010, 0.020, 0.0020, 0.3480),
    (0.700, 0.010, 0.005, 0.0020, 0.2830),
    (0.350, 0.050, 0.020, 0.4000, 0.1800),
    (0.470, 0.020, 0.030, 0.0020, 0.4780),
)
_SAME_ZONE_P = 0.03  # extra Manhattan trips that end in their pickup zone (sample: 4.8% same-zone)
# Trip distance: lognormal median (miles) and sigma per (pickup class, dropoff class).
_DIST_MEDIAN = np.array([
    [1.6, 17.5, 9.5, 18.0, 5.5],
    [17.5, 1.5, 10.5, 25.0, 10.0],
    [9.5, 10.5, 1.5, 25.0, 8.0],
    [18.0, 25.0, 25.0, 1.0, 20.0],
    [5.5, 10.0, 8.0, 20.0, 3.0],
])  # fmt: skip
_DIST_SIGMA = np.array([
    [0.60, 0.15, 0.20, 0.15, 0.50],
    [0.15, 1.00, 0.20, 0.20, 0.50],
    [0.20, 0.20, 1.00, 0.20, 0.50],
    [0.15, 0.20, 0.20, 1.00, 0.40],
    [0.50, 0.50, 0.50, 0.40, 0.80],
])  # fmt: skip
# Chance of a bridge/tunnel toll per class pair (Queens-Midtown, RFK, Verrazzano, Hudson crossings).
_TOLL_P = np.array([
    [0.005, 0.55, 0.65, 0.95, 0.25],
    [0.55, 0.01, 0.10, 0.95, 0.20],
    [0.65, 0.10, 0.01, 0.95, 0.20],
    [0.95, 0.95, 0.95, 0.05, 0.95],
    [0.25, 0.20, 0.20, 0.95, 0.08],
])  # fmt: skip
_TOLLS = ((6.94, 0.86), (13.88, 0.05), (3.18, 0.03), (13.38, 0.02), (15.38, 0.02), (20.38, 0.02))
_NEWARK_TOLLS = ((13.38, 0.4), (15.38, 0.3), (20.38, 0.2), (25.38, 0.1))

# --- time ----------------------------------------------------------------------------------------

# Share of pickups per hour, Feb 2024 sample: weekday peaks 8-9 and 17-19 with an overnight
# trough; weekend late nights (Sat/Sun 0-3 are Friday/Saturday nights out) and a late morning.
_WEEKDAY_HOURS = np.array([
    1.7, 0.7, 0.4, 0.3, 0.3, 0.6, 1.5, 3.6, 4.6, 5.1, 4.8, 4.8,
    5.3, 5.1, 6.0, 6.0, 6.1, 7.0, 7.8, 6.8, 5.7, 6.3, 5.5, 3.9,
])  # fmt: skip
_WEEKEND_HOURS = np.array([
    6.2, 5.0, 3.7, 2.0, 1.2, 0.5, 0.9, 1.1, 1.9, 2.8, 3.9, 4.6,
    5.2, 5.6, 5.5, 5.6, 6.0, 6.4, 6.7, 5.7, 4.9, 4.6, 5.1, 4.9,
])  # fmt: skip
# Relative trips per day by weekday (Mon..Sun), Feb 2024 sample.
_DAY_WEIGHTS = np.array([0.83, 0.93, 1.08, 1.14, 1.02, 1.06, 0.90])
# Door-to-door speed (mph) of a ~1.5-mile trip by pickup hour: the Feb 2024 sample's medians,
# scaled by 0.92 so the generated durations match the sample's duration quantiles.
_HOUR_SPEED = np.array([
    10.6, 10.9, 11.3, 12.2, 14.0, 14.5, 13.0, 10.1, 8.5, 8.3, 8.2, 7.7,
    7.8, 7.8, 7.6, 7.6, 7.9, 7.6, 7.8, 8.5, 9.3, 9.9, 10.1, 10.6,
])  # fmt: skip
_FAR_YEARS = (2002, 2008, 2026)

# --- categorical mixes -----------------------------------------------------------------------------

_VENDORS = ((2, 0.7636), (1, 0.2357), (6, 0.0004), (7, 0.0003))
# Among non-flex rows, before refunds move some rows to dispute (4) / no charge (3): the final mix
# is card ~82%, cash ~15.5%, dispute ~1.7%, no charge ~0.7% of non-flex (78/15/1.6/0.7 of all rows).
_PAYMENTS = ((1, 0.8297), (2, 0.1571), (4, 0.0090), (3, 0.0042))
_PASSENGERS = ((1, 0.790), (2, 0.142), (3, 0.031), (4, 0.017), (5, 0.0115), (6, 0.0085))
_STORE_AND_FWD_Y = 0.005
_NEGOTIATED_P = 0.0056  # RatecodeID 5
_RC99_P_VENDOR1 = 0.04  # RatecodeID 99 comes from vendor 1 only: ~0.95% of rows (Feb 2024 sample)
_JFK_FLAT_P = 0.88  # JFK <-> Manhattan trips on the $70 flat fare (the rest metered)
_NEWARK_RC_P = 0.85
_OUTSIDE_RC_P = 0.8  # long trips to 265 (Outside of NYC) on RatecodeID 4, Nassau/Westchester
# Tips: the sample shows 95% of card trips tipping; card screens offer 20/25/30% of the total.
_CARD_TIP_P = 0.95
_FLEX_TIP_P = 0.25

# --- 2024 meter and fee rules ----------------------------------------------------------------------

INITIAL_CHARGE = 3.00
UNIT_FARE = 0.70  # per 1/5 mile above 12 mph, per minute below it
JFK_FLAT_FARE = 70.00
JFK_RUSH_SURCHARGE = 5.00
NEWARK_SURCHARGE = 20.00
RUSH_EXTRA = 2.50  # weekdays 16:00-20:00
OVERNIGHT_EXTRA = 1.00  # 20:00-06:00
MTA_TAX = 0.50
IMPROVEMENT_SURCHARGE = 1.00
CONGESTION_SURCHARGE = 2.50
AIRPORT_FEE = 1.75  # JFK and LaGuardia pickups

SCHEMA = arrow_schema_2024()
_AMOUNT_COLUMNS = (
    "fare_amount", "extra", "mta_tax", "tip_amount", "tolls_amount", "improvement_surcharge",
    "congestion_surcharge", "Airport_fee",
)  # fmt: skip


@dataclass(frozen=True)
class GeneratedFile:
    """One written month: where, how many trips, its SHA-256 and the wall time of the call."""

    path: Path
    rows: int
    sha256: str
    seconds: float


def generate_month(
    month: str,
    rows: int,
    out_path: str | Path,
    seed: int = 42,
    progress: Callable[[int], None] | None = None,
    chunk_rows: int = 1_000_000,
    *,
    null_block_rate: float | None = None,
) -> GeneratedFile:
    """Write a synthetic `yellow_tripdata_<month>.parquet`: one row per trip, 2024 schema.

    Memory is bounded by one chunk: each chunk of `chunk_rows` trips is generated, written as one
    zstd row group and dropped. `progress(n)` is called after each chunk with the rows just
    written. The file appears atomically (written to a unique temporary file beside it, then renamed).
    """
    if chunk_rows <= 0:
        raise ValueError(f"chunk_rows must be positive, got {chunk_rows}")
    plan = _plan(month, rows, seed, null_block_rate)
    out_path = Path(out_path)
    source = _BlockSource(plan)
    with timed() as clock:
        with atomic_output(out_path) as tmp, pq.ParquetWriter(tmp, SCHEMA, compression="zstd") as writer:
            for start in range(0, rows, chunk_rows):
                stop = min(rows, start + chunk_rows)
                writer.write_table(source.rows(start, stop), row_group_size=stop - start)
                if progress is not None:
                    progress(stop - start)
        digest = _sha256(out_path)
    return GeneratedFile(out_path, rows, digest, clock.seconds)


def generate_table(
    month: str,
    rows: int,
    seed: int = 42,
    start_index: int = 0,
    *,
    total_rows: int | None = None,
    null_block_rate: float | None = None,
) -> pa.Table:
    """Rows [start_index, start_index + rows) of a synthetic month, in memory (one row per trip).

    The month is `total_rows` long (default: start_index + rows), so
    `generate_table(m, n, s)` holds exactly the rows `generate_month(m, n, ..., seed=s)` writes,
    and slices of the same total concatenate to the whole.
    """
    total = start_index + rows if total_rows is None else total_rows
    if start_index < 0 or rows < 0 or start_index + rows > total:
        raise ValueError(f"rows [{start_index}, {start_index + rows}) outside a month of {total} rows")
    plan = _plan(month, total, seed, null_block_rate)
    return _BlockSource(plan).rows(start_index, start_index + rows)


# --- internals -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _MonthPlan:
    """Everything a block needs that is fixed for the whole month."""

    year: int
    month: int
    seed: int
    total_rows: int
    null_rate: float
    start_us: int  # first microsecond of the month (naive local time, like the TLC files)
    end_us: int  # first microsecond of the next month
    first_weekday: int  # Monday = 0
    cell_p: np.ndarray  # pickup probability of each (day, hour) cell of the month
    planted: dict[str, int]  # dirt kind -> row index where it is guaranteed


def _plan(month: str, rows: int, seed: int, null_block_rate: float | None) -> _MonthPlan:
    if not isinstance(month, str) or not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", month):
        raise ValueError(f"month must be 'YYYY-MM', got {month!r}")
    if rows < 0:
        raise ValueError(f"rows must be >= 0, got {rows}")
    if seed < 0:
        raise ValueError(f"seed must be >= 0, got {seed}")
    null_rate = (
        NULL_BLOCK_RATES.get(month, DEFAULT_NULL_BLOCK_RATE) if null_block_rate is None else null_block_rate
    )
    if not 0.0 <= null_rate <= 0.5:
        raise ValueError(f"null_block_rate must be within [0, 0.5], got {null_rate}")
    year, mon = int(month[:4]), int(month[5:])
    n_days = calendar.monthrange(year, mon)[1]
    first_weekday = dt.date(year, mon, 1).weekday()
    weekdays = (first_weekday + np.arange(n_days)) % 7
    hours = np.where((weekdays >= 5)[:, None], _WEEKEND_HOURS, _WEEKDAY_HOURS)
    weights = (_DAY_WEIGHTS[weekdays][:, None] * hours).ravel()
    start_us = _epoch_us(dt.datetime(year, mon, 1))
    end_us = start_us + n_days * 86_400_000_000
    kinds = list(DIRT_RATES)
    planted = {}
    if rows >= GUARANTEE_MIN_ROWS:
        # Evenly spread positions: distinct for any rows >= len(kinds), stable for a given rows.
        planted = {k: rows * (2 * i + 1) // (2 * len(kinds)) for i, k in enumerate(kinds)}
    return _MonthPlan(
        year, mon, seed, rows, null_rate, start_us, end_us, first_weekday, weights / weights.sum(), planted
    )


class _BlockSource:
    """Serves any row range of a month, generating each RNG block once while it is in use."""

    def __init__(self, plan: _MonthPlan):
        self.plan = plan
        self._cached: tuple[int, pa.Table] | None = None

    def block(self, index: int) -> pa.Table:
        if self._cached is None or self._cached[0] != index:
            self._cached = (index, _generate_block(self.plan, index))
        return self._cached[1]

    def rows(self, start: int, stop: int) -> pa.Table:
        if stop <= start:
            return SCHEMA.empty_table()
        pieces = []
        for b in range(start // BLOCK_ROWS, (stop - 1) // BLOCK_ROWS + 1):
            lo = max(start, b * BLOCK_ROWS) - b * BLOCK_ROWS
            hi = min(stop, (b + 1) * BLOCK_ROWS) - b * BLOCK_ROWS
            pieces.append(self.block(b).slice(lo, hi - lo))
        return pa.concat_tables(pieces) if len(pieces) > 1 else pieces[0]


def _generate_block(plan: _MonthPlan, index: int) -> pa.Table:
    """Block `index` of the month: up to BLOCK_ROWS trips, all columns drawn vectorised.

    The steps draw from one RNG in a fixed order (the order is part of the output's identity): the
    trip (time, zones, distance, duration), its rate code and amounts, then the dirt."""
    b0 = index * BLOCK_ROWS
    n = min(BLOCK_ROWS, plan.total_rows - b0)
    rng = np.random.default_rng([plan.seed, plan.year, plan.month, index])
    planted = {k: g - b0 for k, g in plan.planted.items() if b0 <= g < b0 + n}

    hour, weekday, pickup_us = _pickup_times(rng, plan, n)
    vendor = _pick(rng, n, _VENDORS)
    flex = _flex_rows(rng, n, plan.null_rate, planted)
    pu_cls, do_cls, pu, do = _zones(rng, n)
    dist = _distances(rng, pu_cls, do_cls, pu, do)
    dur_s = _durations(rng, hour, weekday, dist)
    _unknown_zones(rng, planted, pu, do)
    rc = _rate_codes(rng, vendor, pu_cls, do_cls, do, dist)
    fare = _fares(rng, rc, dist, dur_s, flex)
    extra = _extras(rc, hour, weekday, flex)
    mta, improvement, congestion, airport = _fees(rng, rc, pu, do, flex)
    tolls = _tolls(rng, pu_cls, do_cls)
    payment = _payments(rng, n, flex)
    pre_tip = fare + extra + mta + tolls + improvement + congestion + airport
    tip = _tips(rng, payment, rc, flex, fare, pre_tip)
    amounts = _Amounts(fare, extra, mta, tip, tolls, improvement, congestion, airport)
    _amount_dirt(rng, planted, amounts, payment, flex)
    passengers = _passengers(rng, planted, plan.null_rate, flex)
    store_fwd = (rng.random(n) < _STORE_AND_FWD_Y).astype(np.int8)
    _distance_dirt(rng, planted, dist)
    dropoff_us = _dropoffs(rng, planted, pickup_us, dur_s)
    shift = _pickup_shifts(rng, planted, plan, pickup_us)
    return _to_table(
        vendor,
        pickup_us + shift,
        dropoff_us + shift,
        passengers,
        dist,
        rc,
        store_fwd,
        pu,
        do,
        payment,
        amounts,
        flex,
    )


@dataclass
class _Amounts:
    """The amount columns of one block (arrays changed in place by the amount dirt)."""

    fare: np.ndarray
    extra: np.ndarray
    mta: np.ndarray
    tip: np.ndarray
    tolls: np.ndarray
    improvement: np.ndarray
    congestion: np.ndarray
    airport: np.ndarray

    def columns(self) -> tuple[np.ndarray, ...]:
        return (
            self.fare,
            self.extra,
            self.mta,
            self.tip,
            self.tolls,
            self.improvement,
            self.congestion,
            self.airport,
        )

    def total(self) -> np.ndarray:
        return np.round(
            self.fare
            + self.extra
            + self.mta
            + self.tip
            + self.tolls
            + self.improvement
            + self.congestion
            + self.airport,
            2,
        )


# --- the trip: time, zones, distance, duration --------------------------------------------------


def _pickup_times(rng: np.random.Generator, plan: _MonthPlan, n: int) -> tuple[np.ndarray, ...]:
    """Pickup hour, weekday and time (us): a (day, hour) cell by demand, a second within it; sorted, so
    the block is a chronological run."""
    cells = rng.choice(plan.cell_p.size, size=n, p=plan.cell_p)
    sec = np.sort(cells.astype(np.int64) * 3600 + rng.integers(0, 3600, n))
    hour = (sec // 3600) % 24
    weekday = (plan.first_weekday + sec // 86_400) % 7
    return hour, weekday, plan.start_us + sec * 1_000_000


def _flex_rows(rng: np.random.Generator, n: int, null_rate: float, planted: dict[str, int]) -> np.ndarray:
    """The null block (Flex Fare). Planted dirt rows stay outside it so every kind can show."""
    flex = rng.random(n) < null_rate
    flex[np.fromiter(planted.values(), dtype=np.intp, count=len(planted))] = False
    return flex


def _zones(rng: np.random.Generator, n: int) -> tuple[np.ndarray, ...]:
    """Pickup class, dropoff class given pickup, then a zone by popularity within each class."""
    pu_cls = np.searchsorted(_cum(_PU_CLASS_P), rng.random(n), side="right")
    do_cum = np.array([_cum(row) for row in _DO_CLASS_P])
    do_cls = (rng.random(n)[:, None] >= do_cum[pu_cls]).sum(axis=1)
    pu = _zone_in_class(pu_cls, rng.random(n))
    do = _zone_in_class(do_cls, rng.random(n))
    same = (pu_cls == _M) & (do_cls == _M) & (rng.random(n) < _SAME_ZONE_P)
    do[same] = pu[same]
    return pu_cls, do_cls, pu, do


def _distances(rng: np.random.Generator, pu_cls, do_cls, pu, do) -> np.ndarray:
    """Lognormal per class pair (airport runs long and tight), short for same-zone trips."""
    median = np.where(pu == do, 0.9, _DIST_MEDIAN[pu_cls, do_cls])
    sigma = np.where(pu == do, 0.7, _DIST_SIGMA[pu_cls, do_cls])
    return np.round(np.clip(median * np.exp(sigma * rng.standard_normal(pu.size)), 0.01, 80.0), 2)


def _durations(rng: np.random.Generator, hour, weekday, dist) -> np.ndarray:
    """Seconds, from a time-of-day speed; longer trips use faster roads (highways to the airports)."""
    speed = (
        _HOUR_SPEED[hour]
        * np.where(weekday >= 5, 1.1, 1.0)
        * np.clip((dist / 1.5) ** 0.4, 0.8, 3.2)
        * np.exp(0.35 * rng.standard_normal(dist.size))
    )
    return np.clip(np.rint(dist / speed * 3600 + 30), 30, 4 * 3600).astype(np.int64)


def _unknown_zones(rng: np.random.Generator, planted: dict[str, int], pu, do) -> None:
    """Zone dirt: 264/265 replace real zones after the trip is shaped (the meter still ran), before fees."""
    n = pu.size
    unknown = _dirt(rng, n, "zone", planted) == 0
    which, pick = rng.random(n), rng.random(n)
    pu_unknown = unknown & ((which < 0.35) | (which >= 0.85))
    do_unknown = unknown & (which >= 0.35)
    pu[pu_unknown] = np.where(pick[pu_unknown] < 0.9, 264, 265)
    do[do_unknown] = np.where(pick[do_unknown] < 0.55, 264, 265)


# --- rate code and amounts -----------------------------------------------------------------------


def _rate_codes(rng: np.random.Generator, vendor, pu_cls, do_cls, do, dist) -> np.ndarray:
    """RatecodeID (null on flex rows, but computed for all: the arrays stay aligned)."""
    n = vendor.size
    u_rc, u_rc2 = rng.random(n), rng.random(n)
    rc = np.ones(n, dtype=np.int64)
    jfk_manhattan = ((pu_cls == _J) & (do_cls == _M)) | ((pu_cls == _M) & (do_cls == _J))
    rc[jfk_manhattan & (u_rc < _JFK_FLAT_P)] = 2
    rc[((pu_cls == _E) | (do_cls == _E)) & (u_rc < _NEWARK_RC_P)] = 3
    rc[(do == 265) & (dist > 3) & (u_rc < _OUTSIDE_RC_P)] = 4
    rc[u_rc2 < _NEGOTIATED_P] = 5
    rc[(vendor == 1) & (u_rc2 >= _NEGOTIATED_P) & (u_rc2 < _NEGOTIATED_P + _RC99_P_VENDOR1)] = 99
    return rc


def _fares(rng: np.random.Generator, rc, dist, dur_s, flex) -> np.ndarray:
    """fare_amount by rate code; Flex Fare is an upfront price near the meter estimate, to the cent.

    Meter: $3.00 + $0.70 per 1/5 mile, plus $0.70 per minute spent below 12 mph. An average speed hides
    the stop-and-go, so the units are a least-squares fit on the Feb 2024 sample (RatecodeID 1, median
    error under one unit): 5.6/mile + 0.85/minute beyond 4 min/mile."""
    n = rc.size
    dur_min = dur_s / 60.0
    units = np.rint(dist * 5.6 + 0.85 * np.maximum(0.0, dur_min - dist * 4))
    meter = INITIAL_CHARGE + UNIT_FARE * units
    z_negotiated, z_flex = rng.standard_normal(n), rng.standard_normal(n)
    fare = meter.copy()
    fare[rc == 2] = JFK_FLAT_FARE
    fare[rc == 4] = (INITIAL_CHARGE + UNIT_FARE * np.rint(units * 1.4))[rc == 4]  # out-of-city rate
    fare[rc == 5] = np.rint(np.clip(meter * np.exp(0.1 + 0.3 * z_negotiated), 10, 350))[rc == 5]
    fare[rc == 99] = (np.rint(meter * 2) / 2)[rc == 99]
    fare[flex] = np.maximum(INITIAL_CHARGE, meter * np.exp(0.12 * z_flex))[flex]
    return np.round(fare, 2)


def _extras(rc, hour, weekday, flex) -> np.ndarray:
    """extra: rush hour and overnight, the JFK flat fare's rush surcharge, the Newark surcharge."""
    rush = (weekday < 5) & (hour >= 16) & (hour < 20)
    overnight = (hour >= 20) | (hour < 6)
    extra = RUSH_EXTRA * rush + OVERNIGHT_EXTRA * overnight
    extra = np.where(rc == 2, JFK_RUSH_SURCHARGE * rush, extra)
    extra = np.where(rc == 3, extra + NEWARK_SURCHARGE, extra)
    extra[(rc == 5) | (rc == 99) | flex] = 0.0
    return extra


def _fees(rng: np.random.Generator, rc, pu, do, flex) -> tuple[np.ndarray, ...]:
    """mta_tax, improvement_surcharge, congestion_surcharge and Airport_fee by the 2024 rules."""
    n = rc.size
    mta = np.where(rng.random(n) < 0.008, 0.0, MTA_TAX)
    improvement = np.where(rng.random(n) < 0.0008, 0.0, IMPROVEMENT_SURCHARGE)
    congestion = np.where(_IS_CONGESTION[pu] | _IS_CONGESTION[do], CONGESTION_SURCHARGE, 0.0)
    congestion[(rc == 99) | flex] = 0.0  # flex: null in the file, 0 in the total
    airport = np.where((pu == JFK) | (pu == LGA), AIRPORT_FEE, 0.0)
    airport[flex] = 0.0
    return mta, improvement, congestion, airport


def _tolls(rng: np.random.Generator, pu_cls, do_cls) -> np.ndarray:
    """A bridge/tunnel toll by class pair (Newark trips pay the Hudson crossings)."""
    n = pu_cls.size
    has_toll = rng.random(n) < _TOLL_P[pu_cls, do_cls]
    u_toll = rng.random(n)
    toll = np.where(
        (pu_cls == _E) | (do_cls == _E),
        _pick_from(_NEWARK_TOLLS, u_toll),
        _pick_from(_TOLLS, u_toll),
    )
    return np.where(has_toll, toll, 0.0)


def _payments(rng: np.random.Generator, n: int, flex) -> np.ndarray:
    payment = _pick(rng, n, _PAYMENTS).astype(np.int64)
    payment[flex] = 0
    return payment


def _tips(rng: np.random.Generator, payment, rc, flex, fare, pre_tip) -> np.ndarray:
    """Card screens (20/25/30% of the pre-tip total) or a custom share of the fare; flex riders tip in
    the app sometimes; cash tips are never recorded."""
    n = fare.size
    u_tip, u_style, u_pct = rng.random(n), rng.random(n), rng.random(n)
    card_tip = np.select(
        [u_style < 0.40, u_style < 0.60, u_style < 0.70],
        [0.20 * pre_tip, 0.25 * pre_tip, 0.30 * pre_tip],
        (0.10 + 0.15 * u_pct) * fare,
    )
    tip = np.select(
        [(payment == 1) & (rc != 99) & (u_tip < _CARD_TIP_P), flex & (u_tip < _FLEX_TIP_P)],
        [card_tip, (0.10 + 0.10 * u_pct) * fare],
        0.0,
    )
    return np.round(tip, 2)


def _passengers(rng: np.random.Generator, planted: dict[str, int], null_rate: float, flex) -> np.ndarray:
    """passenger_count, with the zero-passenger dirt (only outside the null block: its rate is of all rows)."""
    n = flex.size
    passengers = _pick(rng, n, _PASSENGERS).astype(np.int64)
    zero_pax = (_dirt(rng, n, "passengers", planted, scale=1.0 / (1.0 - null_rate)) == 0) & ~flex
    passengers[zero_pax] = 0
    return passengers


# --- dirt ----------------------------------------------------------------------------------------


def _amount_dirt(rng: np.random.Generator, planted: dict[str, int], a: _Amounts, payment, flex) -> None:
    """Refunds, negative fares, extreme fares and tips (mutually exclusive kinds), in place."""
    n = a.fare.size
    amount = _dirt(rng, n, "amount", planted)
    refund, neg_fare, x_fare, x_tip = (amount == i for i in range(4))
    k = int(x_fare.sum())
    a.fare[x_fare] = np.round(np.exp(rng.uniform(np.log(1_000), np.log(863_000), k)), 2)
    k = int(x_tip.sum())
    a.tip[x_tip] = _pick_from(((999.99, 0.4), (-333.0, 0.2), (np.nan, 0.4)), rng.random(k))
    a.tip[x_tip] = np.where(np.isnan(a.tip[x_tip]), np.round(rng.uniform(100, 999, k), 2), a.tip[x_tip])
    # Negative fare no larger than the fees, so the total stays >= 0.
    others = a.extra + a.mta + a.tip + a.tolls + a.improvement + a.congestion + a.airport
    k = int(neg_fare.sum())
    a.fare[neg_fare] = -np.round(np.maximum(0.01, rng.random(k) * others[neg_fare]), 2)
    for arr in a.columns():
        arr[refund] = -arr[refund] + 0.0  # + 0.0 turns -0.0 into 0.0
    # Reversals are mostly filed as disputes or no-charge trips.
    refund_paid = refund & ~flex
    u_pay = rng.random(int(refund_paid.sum()))
    payment[refund_paid] = np.select([u_pay < 0.5, u_pay < 0.7], [4, 3], payment[refund_paid])


def _distance_dirt(rng: np.random.Generator, planted: dict[str, int], dist) -> None:
    """Zero and over-100-mile distances, after the fare: the meter charged the real trip, the odometer
    feed broke. In place."""
    distance = _dirt(rng, dist.size, "distance", planted)
    dist[distance == 0] = 0.0
    over_100 = distance == 1
    k = int(over_100.sum())
    dist[over_100] = np.where(
        rng.random(k) < 0.8,
        np.round(rng.uniform(100.01, 300.0, k), 2),
        np.round(np.exp(rng.uniform(np.log(1_000), np.log(398_000), k)), 2),
    )


def _dropoffs(rng: np.random.Generator, planted: dict[str, int], pickup_us, dur_s) -> np.ndarray:
    """Dropoff times (us), with the duration dirt: dropoff at or before pickup, trips over 24 h."""
    dropoff_us = pickup_us + dur_s * 1_000_000
    duration = _dirt(rng, pickup_us.size, "duration", planted)
    bad = duration == 0
    k = int(bad.sum())
    dropoff_us[bad] = pickup_us[bad] - np.where(rng.random(k) < 0.6, 0, rng.integers(1, 3600, k)) * 1_000_000
    over_24h = duration == 1
    k = int(over_24h.sum())
    dropoff_us[over_24h] = pickup_us[over_24h] + (86_400 + rng.integers(1, 2 * 86_400, k)) * 1_000_000
    return dropoff_us


def _pickup_shifts(
    rng: np.random.Generator, planted: dict[str, int], plan: _MonthPlan, pickup_us
) -> np.ndarray:
    """Per row, the shift (us) that moves its pickup and dropoff out of the month (durations kept):
    hours across the month's boundary, or years away."""
    n = pickup_us.size
    moved = _dirt(rng, n, "pickup", planted)
    shift = np.zeros(n, dtype=np.int64)
    near = moved == 0
    k = int(near.sum())
    before = rng.random(k) < 0.5
    new_pickup = np.where(
        before,
        plan.start_us - rng.integers(1, 6 * 3600, k) * 1_000_000,
        plan.end_us + rng.integers(0, 6 * 3600, k) * 1_000_000,
    )
    shift[near] = new_pickup - pickup_us[near]
    years_away = np.array(
        [_epoch_us(dt.datetime(y, plan.month, 1)) - plan.start_us for y in _FAR_YEARS], dtype=np.int64
    )
    far_pickup = moved == 1
    shift[far_pickup] = years_away[rng.integers(0, len(_FAR_YEARS), int(far_pickup.sum()))]
    return shift


def _to_table(
    vendor, pickup_us, dropoff_us, passengers, dist, rc, store_fwd, pu, do, payment, a: _Amounts, flex
) -> pa.Table:
    """The block in the 2024 schema; the null-block columns are null on flex rows."""
    columns = [
        pa.array(vendor, pa.int32()),
        pa.array(pickup_us.view("datetime64[us]"), pa.timestamp("us")),
        pa.array(dropoff_us.view("datetime64[us]"), pa.timestamp("us")),
        pa.array(passengers, pa.int64(), mask=flex),
        pa.array(dist, pa.float64()),
        pa.array(rc, pa.int64(), mask=flex),
        _FLAGS.take(pa.array(store_fwd, pa.int8(), mask=flex)),
        pa.array(pu, pa.int32()),
        pa.array(do, pa.int32()),
        pa.array(payment, pa.int64()),
        pa.array(a.fare, pa.float64()),
        pa.array(a.extra, pa.float64()),
        pa.array(a.mta, pa.float64()),
        pa.array(a.tip, pa.float64()),
        pa.array(a.tolls, pa.float64()),
        pa.array(a.improvement, pa.float64()),
        pa.array(a.total(), pa.float64()),
        pa.array(a.congestion, pa.float64(), mask=flex),
        pa.array(a.airport, pa.float64(), mask=flex),
    ]
    return pa.Table.from_arrays(columns, schema=SCHEMA)


_FLAGS = pa.array(["N", "Y"], pa.large_string())
_IS_CONGESTION = np.zeros(266, dtype=bool)
_IS_CONGESTION[list(CONGESTION_ZONES)] = True
_MANHATTAN_IDS = np.array(MANHATTAN_ZONES, dtype=np.int32)
_OUTER_IDS = np.array(OUTER_ZONES, dtype=np.int32)
_TOUCHES = np.array((0, *_ZONE_TOUCHES), dtype=np.float64) + 1.0  # index = LocationID


def _cum(probs) -> np.ndarray:
    """Cumulative probabilities ending exactly at 1.0, for searchsorted(side='right') on [0, 1)."""
    c = np.cumsum(np.asarray(probs, dtype=np.float64))
    c /= c[-1]
    c[-1] = 1.0
    return c


_MANHATTAN_CUM = _cum(_TOUCHES[_MANHATTAN_IDS])
_OUTER_CUM = _cum(_TOUCHES[_OUTER_IDS])


def _pick_from(choices, u: np.ndarray) -> np.ndarray:
    """Map uniforms to values of ((value, probability), ...)."""
    values = np.array([v for v, _ in choices])
    return values[np.searchsorted(_cum([p for _, p in choices]), u, side="right")]


def _pick(rng: np.random.Generator, n: int, choices) -> np.ndarray:
    return _pick_from(choices, rng.random(n))


def _zone_in_class(cls: np.ndarray, u: np.ndarray) -> np.ndarray:
    zone = np.empty(cls.size, dtype=np.int32)
    zone[cls == _J] = JFK
    zone[cls == _L] = LGA
    zone[cls == _E] = EWR
    for c, ids, cum in ((_M, _MANHATTAN_IDS, _MANHATTAN_CUM), (_O, _OUTER_IDS, _OUTER_CUM)):
        m = cls == c
        zone[m] = ids[np.searchsorted(cum, u[m], side="right")]
    return zone


def _dirt(
    rng: np.random.Generator, n: int, group: str, planted: dict[str, int], scale: float = 1.0
) -> np.ndarray:
    """Per row, the index of the group's dirt kind it carries, or len(kinds) for a clean row."""
    kinds = _DIRT_GROUPS[group]
    cum = np.cumsum([DIRT_RATES[k] * scale for k in kinds])
    code = np.searchsorted(cum, rng.random(n), side="right")
    for i, kind in enumerate(kinds):
        if kind in planted:
            code[planted[kind]] = i
    return code


def _epoch_us(t: dt.datetime) -> int:
    return (t - dt.datetime(1970, 1, 1)) // dt.timedelta(microseconds=1)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while piece := f.read(1 << 20):
            h.update(piece)
    return h.hexdigest()
