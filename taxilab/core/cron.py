"""Glue/EventBridge cron expressions, cron(Minutes Hours Day-of-month Month Day-of-week Year), parsed and
evaluated in UTC. Supported: * ? numbers, lists a,b, ranges a-b, steps */n and a-b/n and a/n, month names
JAN-DEC, weekday names SUN-SAT (1 = SUN as in Glue). Not supported (refused by name): L, W and #."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

_MONTHS = {m: i for i, m in enumerate("JAN FEB MAR APR MAY JUN JUL AUG SEP OCT NOV DEC".split(), 1)}
_DAYS = {d: i for i, d in enumerate("SUN MON TUE WED THU FRI SAT".split(), 1)}
_FIELDS: tuple[tuple[str, int, int, dict[str, int]], ...] = (
    ("minutes", 0, 59, {}),
    ("hours", 0, 23, {}),
    ("day-of-month", 1, 31, {}),
    ("month", 1, 12, _MONTHS),
    ("day-of-week", 1, 7, _DAYS),
    ("year", 1970, 2199, {}),
)


@dataclass(frozen=True)
class Cron:
    expression: str
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int] | None  # None = '?'
    months: frozenset[int]
    weekdays: frozenset[int] | None  # Glue numbering: 1 = Sunday
    years: frozenset[int]

    def matches_day(self, d: datetime) -> bool:
        if d.month not in self.months or d.year not in self.years:
            return False
        if self.days is not None:
            return d.day in self.days
        return (d.isoweekday() % 7) + 1 in (
            self.weekdays or frozenset()
        )  # isoweekday: Mon=1..Sun=7 -> Glue Sun=1..Sat=7

    def next_after(self, after: datetime) -> datetime:
        """First fire time strictly after `after` (naive UTC), searched up to the last year allowed."""
        day = after.replace(hour=0, minute=0, second=0, microsecond=0)
        last = datetime(max(self.years), 12, 31)
        while day <= last:
            if self.matches_day(day):
                for h in sorted(self.hours):
                    for m in sorted(self.minutes):
                        t = day.replace(hour=h, minute=m)
                        if t > after:
                            return t
            day += timedelta(days=1)
        raise ValueError(f"{self.expression} never fires after {after:%Y-%m-%d %H:%M}")

    def last_at_or_before(self, at: datetime, not_before: datetime | None = None) -> datetime | None:
        """Latest fire time <= `at` (naive UTC), searched back to `not_before` (default: the first year
        allowed); None if there is none in that window."""
        floor = not_before or datetime(min(self.years), 1, 1)
        day = at.replace(hour=0, minute=0, second=0, microsecond=0)
        while day >= floor.replace(hour=0, minute=0, second=0, microsecond=0):
            if self.matches_day(day):
                for h in sorted(self.hours, reverse=True):
                    for m in sorted(self.minutes, reverse=True):
                        t = day.replace(hour=h, minute=m)
                        if t <= at:
                            return t if t >= floor else None
            day -= timedelta(days=1)
        return None

    def count_between(self, after: datetime, before: datetime, cap: int = 1000) -> int:
        """How many fire times lie strictly between `after` and `before` (stops counting at cap)."""
        n, t = 0, after
        while n < cap:
            try:
                t = self.next_after(t)
            except ValueError:
                break
            if t >= before:
                break
            n += 1
        return n


def _field(text: str, name: str, lo: int, hi: int, names: dict[str, int]) -> frozenset[int] | None:
    if text == "?":
        return None
    if re.search(r"[LW#]", re.sub("|".join([*_MONTHS, *_DAYS]), "", text.upper())):
        raise ValueError(f"cron field {name} {text!r}: L, W and # are not supported by the lab's scheduler")
    out: set[int] = set()
    for part in text.split(","):
        rng, _, step_s = part.partition("/")
        step = int(step_s) if step_s else 1
        if rng == "*":
            a, b = lo, hi
        else:
            found = [names.get(x.upper(), None) if not x.isdigit() else int(x) for x in rng.split("-")]
            if None in found or len(found) > 2:
                raise ValueError(f"cron field {name} {text!r}: {rng!r} is not a number, name or range")
            ends = [e for e in found if e is not None]
            a, b = ends[0], ends[-1] if len(ends) == 2 else (hi if step_s else ends[0])
        if not (lo <= a <= hi and lo <= b <= hi) or step < 1:
            raise ValueError(f"cron field {name} {text!r}: values must be within {lo}-{hi}")
        out.update(range(a, b + 1, step))
    return frozenset(out)


def parse(expression: str) -> Cron:
    """Parse 'cron(15 12 * * ? *)'; errors name the expression and the bad field."""
    m = re.fullmatch(r"\s*cron\((.*)\)\s*", expression or "")
    if not m:
        raise ValueError(
            f"schedule {expression!r} must look like cron(Minutes Hours Day-of-month Month Day-of-week Year)"
        )
    parts = m.group(1).split()
    if len(parts) != 6:
        raise ValueError(f"schedule {expression!r} has {len(parts)} fields; Glue cron has 6")
    vals = [_field(p, *f) for p, f in zip(parts, _FIELDS, strict=True)]
    if (vals[2] is None) == (vals[4] is None):
        raise ValueError(f"schedule {expression!r}: exactly one of day-of-month and day-of-week must be '?'")
    for i in (0, 1, 3, 5):
        if vals[i] is None:
            raise ValueError(f"schedule {expression!r}: '?' is only allowed in day-of-month or day-of-week")
    return Cron(expression, *vals)  # type: ignore[arg-type]  # None only where Cron allows it (checked above)
