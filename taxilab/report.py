"""The run report: per stage rows in/out, quarantined rows by reason, sum of total_amount, wall time;
reconciliation checks; end-to-end time. Printed at the end of a run and written as JSON to
<state_dir>/runs/<run_id>.json and <state_dir>/runs/latest.json (stable path for scripts).
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from taxilab.core.runs import Timer
from taxilab.core.state import write_text


@dataclass
class StageResult:
    name: str
    status: str = "running"  # running | succeeded | failed | skipped
    rows_in: int | None = None
    rows_out: int | None = None
    quarantined: int | None = None
    quarantined_by_reason: dict[str, int] = field(default_factory=dict)
    total_amount: Decimal | None = None
    seconds: float = 0.0
    detail: dict = field(default_factory=dict)
    error: str | None = None


@dataclass
class Check:
    name: str
    expected: object
    actual: object
    ok: bool


@dataclass
class RunReport:
    month: str
    source: str
    profile: str
    run_id: str = field(
        default_factory=lambda: datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ") + "-" + uuid.uuid4().hex[:6]
    )
    started_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))
    status: str = "running"
    stages: list[StageResult] = field(default_factory=list)
    checks: list[Check] = field(default_factory=list)
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)
    error: str | None = None
    # Incremental runs (taxilab.orchestration.drops): per daily drop, its freshness and stage times.
    drops: list[dict] = field(default_factory=list)
    # The run's estimated AWS cost (taxilab.ops.cost, set by taxilab.ops.after_run): total, by service, items.
    estimated_cost: dict | None = None
    _clock: Timer = field(default_factory=lambda: Timer(time.monotonic()), repr=False)  # end to end

    def stage(self, name: str) -> StageResult:
        """A new result for the stage; a retried stage (the workflow's max_retries) replaces its failed
        attempt, keeping the count of attempts in detail."""
        s = StageResult(name)
        previous = self.get(name)
        if previous is not None:
            s.detail["attempt"] = previous.detail.get("attempt", 0) + 1
            s.detail["previous_error"] = previous.error
            self.stages.remove(previous)
        self.stages.append(s)
        return s

    def get(self, name: str) -> StageResult | None:
        return next((s for s in self.stages if s.name == name), None)

    def finish(self, status: str, error: str | None = None) -> None:
        self.status = status
        self.error = error
        self.seconds = round(self._clock.elapsed, 2)

    def to_dict(self) -> dict:
        d = asdict(self)
        d.pop("_clock", None)
        return d

    def write(self, runs_dir: Path) -> Path:
        """<runs_dir>/<run_id>.json and latest.json, each written atomically (runs for different months
        may finish at the same moment; a reader never sees half a report). Readable by the lab's other
        readers (dashboard, notebooks), like any report."""
        text = json.dumps(self.to_dict(), indent=2, default=_json_default)
        path = runs_dir / f"{self.run_id}.json"
        write_text(path, text, mode=0o644)
        write_text(runs_dir / "latest.json", text, mode=0o644)
        return path


def _json_default(o):
    if isinstance(o, Decimal):
        return str(o)
    if hasattr(o, "isoformat"):
        return o.isoformat()
    raise TypeError(f"not JSON serialisable: {type(o)}")


def load_latest(runs_dir: Path) -> dict | None:
    p = runs_dir / "latest.json"
    return json.loads(p.read_text()) if p.exists() else None


def render(report: dict, console=None) -> None:
    """Print a report dict (as written to JSON) as tables."""
    from rich.console import Console
    from rich.table import Table

    console = console or Console()
    t = Table(
        title=f"run {report['run_id']}  month {report['month']}  source {report['source']}  "
        f"profile {report['profile']}",
        title_justify="left",
    )
    for col in ("stage", "status", "rows in", "rows out", "quarantined", "sum(total_amount)", "wall s"):
        t.add_column(col, justify="right" if col not in ("stage", "status") else "left")
    for s in report["stages"]:
        t.add_row(
            s["name"],
            s["status"],
            _n(s["rows_in"]),
            _n(s["rows_out"]),
            _n(s["quarantined"]),
            _money(s["total_amount"]),
            f"{s['seconds']:.1f}",
        )
    console.print(t)
    reasons: dict[str, int] = {}
    for s in report["stages"]:
        for k, v in (s.get("quarantined_by_reason") or {}).items():
            reasons[k] = reasons.get(k, 0) + v
    if reasons:
        r = Table(title="quarantined rows by reason (a row may carry several)", title_justify="left")
        r.add_column("reason")
        r.add_column("rows", justify="right")
        for k, v in sorted(reasons.items(), key=lambda kv: -kv[1]):
            r.add_row(k, _n(v))
        console.print(r)
    if report["checks"]:
        c = Table(title="reconciliation", title_justify="left")
        for col in ("check", "expected", "actual", "ok"):
            c.add_column(col)
        for ch in report["checks"]:
            c.add_row(
                ch["name"],
                str(ch["expected"]),
                str(ch["actual"]),
                "[green]ok[/]" if ch["ok"] else "[red]MISMATCH[/]",
            )
        console.print(c)
    if report.get("drops"):
        d = Table(
            title="daily drops: freshness (raw object created -> rows queryable in the warehouse)",
            title_justify="left",
        )
        for col in ("drop", "dates", "rows visible", "freshness s", "stage seconds"):
            d.add_column(col)
        for x in report["drops"]:
            d.add_row(
                x["key"].rsplit("/", 1)[-1],
                ",".join(x["dates"]),
                _n(x["rows_visible"]),
                f"{x['freshness_s']:.1f}",
                " ".join(f"{k}={v:.1f}" for k, v in x["stages"].items()),
            )
        console.print(d)
    for note in report.get("notes", []):
        console.print(f"note: {note}")
    colour = "green" if report["status"] == "succeeded" else "red"
    console.print(
        f"[{colour}]{report['status']}[/] in {report['seconds']:.1f} s end to end"
        + (f" — {report['error']}" if report.get("error") else "")
    )


def _n(v) -> str:
    return "" if v is None else f"{int(v):,}"


def _money(v) -> str:
    return "" if v is None else f"{Decimal(str(v)):,.2f}"
