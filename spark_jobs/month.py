"""A calendar month of data, the grain every run, lock, partition and load is keyed on.
Why: docs/adr/0012-layout-and-layers.md.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

_MONTH = re.compile(r"\A([0-9]{4})-(0[1-9]|1[0-2])\Z", re.ASCII)


class MonthError(ValueError):
    """A month that is not YYYY-MM."""


@dataclass(frozen=True, order=True)
class Month:
    year: int
    month: int

    @classmethod
    def parse(cls, value: object) -> Month:
        if isinstance(value, Month):
            return value
        if not isinstance(value, str) or not _MONTH.match(value):
            raise MonthError(f"month must look like YYYY-MM (e.g. 2024-02), got {value!r}")
        return cls(int(value[:4]), int(value[5:]))

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    @property
    def first_day(self) -> date:
        return date(self.year, self.month, 1)

    @property
    def next(self) -> Month:
        return Month(self.year + self.month // 12, self.month % 12 + 1)

    @property
    def end(self) -> date:
        """The first day of the next month (exclusive bound)."""
        return self.next.first_day

    @property
    def days(self) -> list[date]:
        first = self.first_day
        return [first + timedelta(days=i) for i in range((self.end - first).days)]

    def bounds(self) -> tuple[date, date]:
        """[first day, first day of next month)."""
        return self.first_day, self.end

    @staticmethod
    def range(start: object, end: object) -> list[Month]:
        """Every month from start to end inclusive, oldest first; refuses end before start."""
        a, b = Month.parse(start), Month.parse(end)
        if b < a:
            raise MonthError(f"the range ends ({b}) before it starts ({a})")
        out = [a]
        while out[-1] < b:
            out.append(out[-1].next)
        return out
