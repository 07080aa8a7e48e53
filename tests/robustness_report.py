"""`make robustness`: run the bad-input corpus, the era tests, the fault, kill, connection-loss and durability
tests, concurrent reads during a month load, the negative reconciliation cases and the secret scan, and print
the figures the tests record (via pytest's record_property("robustness", {...})), each computed by the test
from its own checks.

Exit status is non-zero if any test failed, any crash was unhandled, any row was lost, any injection was not
refused, any kill or fault was not recovered from, any concurrent read was inconsistent or failed, any
validated run did not survive a kill of PostgreSQL, or any damage went uncaught.
"""

from __future__ import annotations

import sys
import time
from collections import Counter

import pytest

SUITES = [
    "tests/integration/test_bad_inputs.py",
    "tests/integration/test_eras.py",
    "tests/integration/test_faults.py",
    "tests/integration/test_kills.py",  # SIGKILL at stage boundaries / mid-write, then rerun
    "tests/integration/test_pg_loss.py",  # warehouse connection lost mid-COPY
    "tests/integration/test_s3a_faults.py",  # faults in Spark's S3A traffic
    "tests/unit/test_secrets.py",
    "tests/integration/test_sql_injection.py",  # Spectrum scan function: shell/DDL injection attempts
    "tests/integration/test_pg_durability.py",  # a validated run survives kill -9 of PostgreSQL
    "tests/integration/test_concurrent_reads.py",  # 8 readers while a month is reloaded: old or new, no mix
    "tests/integration/test_reconcile_damage.py",  # negative reconciliation cases, one per layer and damage
]


class Collector:
    def __init__(self):
        self.entries: list[dict] = []
        self.outcomes: Counter = Counter()
        self.crashes: list[str] = []

    def pytest_runtest_logreport(self, report):
        for key, value in report.user_properties:
            if key == "robustness" and report.when == "call":
                self.entries.append(value)
        if report.when == "call" or report.outcome == "failed":
            self.outcomes[report.outcome] += 1
        if report.failed:
            # An assertion is the test saying "wrong outcome"; any other exception escaped the lab.
            crash = getattr(report.longrepr, "reprcrash", None)
            message = getattr(crash, "message", "") or str(report.longrepr)[-300:]
            if not message.startswith(("AssertionError", "assert ", "Failed")):
                self.crashes.append(f"{report.nodeid}: {message.splitlines()[0] if message else '?'}")


def main(argv: list[str]) -> int:
    from tests.integration import faultproxy  # noqa: F401 - fail early if a suite helper is broken

    col = Collector()
    t0 = time.monotonic()
    suites = [s for s in SUITES if __import__("pathlib").Path(s).exists()]
    code = pytest.main(["-q", "-p", "no:cacheprovider", *suites, *argv], plugins=[col])
    inputs = [e for e in col.entries if e["kind"] == "input"]
    by_outcome = Counter(e["outcome"] for e in inputs)
    kills = [e for e in col.entries if e["kind"] == "kill"]
    faults = [e for e in col.entries if e["kind"] == "fault"]
    rows = [e for e in col.entries if e["kind"] == "rows"]
    injections = [e for e in col.entries if e["kind"] == "injection"]
    reads = [e for e in col.entries if e["kind"] == "concurrent_reads"]
    durability = [e for e in col.entries if e["kind"] == "durability"]
    damage = [e for e in col.entries if e["kind"] == "damage"]
    lost = sum(e["rows_in"] - e["rows_landed"] for e in rows)
    inconsistent = sum(e["inconsistent"] for e in reads)
    read_errors = sum(e["errors"] for e in reads)
    figures = [
        ("inputs tried", len(inputs)),
        ("  refused (clear error, nothing landed)", by_outcome["refused"]),
        ("  quarantined (rows with reason codes)", by_outcome["quarantined"]),
        ("  accepted (legitimate edge cases)", by_outcome["accepted"]),
        ("  deduplicated (same bytes twice)", by_outcome["deduplicated"]),
        ("unhandled crashes (must be 0)", len(col.crashes)),
        ("kill points tried", len(kills)),
        ("  recovered", sum(e["recovered"] for e in kills)),
        ("faults injected", sum(e.get("injected", 1) for e in faults)),
        ("  survived", sum(e.get("injected", 1) for e in faults if e["survived"])),
        ("rows checked end to end", sum(e["rows_in"] for e in rows)),
        ("rows lost (must be 0)", lost),
        ("injection attempts tried", len(injections)),
        ("  refused (must be all)", sum(e["refused"] for e in injections)),
        ("concurrent reads done", sum(e["reads"] for e in reads)),
        ("  inconsistent (must be 0)", inconsistent),
        ("  failed (must be 0)", read_errors),
        (
            "durability: validated runs surviving kill -9 of PostgreSQL",
            f"{sum(bool(e['survived']) for e in durability)} / {len(durability)}",
        ),
        ("negative reconciliation cases tried", len(damage)),
        ("  caught (must be all)", sum(bool(e["caught"]) for e in damage)),
        ("tests passed / failed", f"{col.outcomes['passed']} / {col.outcomes['failed']}"),
        ("seconds", round(time.monotonic() - t0, 1)),
    ]
    print("\nrobustness figures")
    width = max(len(name) for name, _ in figures)
    for name, value in figures:
        print(f"  {name:<{width}} {value}")
    for c in col.crashes:
        print(f"  crash: {c}")
    unrefused = sum(not e["refused"] for e in injections)
    unrecovered = sum(not e["recovered"] for e in kills) + sum(not e["survived"] for e in faults)
    not_durable = sum(not e["survived"] for e in durability)
    uncaught = sum(not e["caught"] for e in damage)
    failed = (
        code != 0
        or col.crashes
        or lost
        or unrefused
        or unrecovered
        or inconsistent
        or read_errors
        or not_durable
        or uncaught
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
