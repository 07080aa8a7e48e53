"""`make robustness`: run the bad-input corpus, the era tests, the fault, kill and connection-loss tests and
the secret scan, and print the figures the tests record (via pytest's record_property("robustness", {...})).

Exit status is non-zero if any test failed, any crash was unhandled or any row was lost.
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
    lost = sum(e["rows_in"] - e["rows_landed"] for e in rows)
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
        ("tests passed / failed", f"{col.outcomes['passed']} / {col.outcomes['failed']}"),
        ("seconds", round(time.monotonic() - t0, 1)),
    ]
    print("\nrobustness figures")
    for name, value in figures:
        print(f"  {name:<42} {value}")
    for c in col.crashes:
        print(f"  crash: {c}")
    unrefused = sum(not e["refused"] for e in injections)
    return 1 if code != 0 or col.crashes or lost or unrefused else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
