"""`make test`: unit tests, then integration tests, as two pytest processes.

Two processes because the unit tests' Spark session needs nothing (no jars, no S3) while the
integration session is configured for the emulator, and a JVM's jars are fixed at start.
Exit status is non-zero if either run fails, and also if a run collected no tests (pytest exit 5):
an empty suite is a failure, not a pass.
"""

from __future__ import annotations

import subprocess
import sys

SUITES = [
    ("unit", ["tests/unit"]),
    ("integration", ["tests/integration"]),
    ("containers", ["tests/containers"]),
]


# `make test-fast` (--fast): the same suites without the tests marked slow (kill, fault, S3A-fault,
# container and browser tests); `make test` and CI run everything.
FAST = ["-m", "not slow"]


def main() -> int:
    worst = 0
    extra = sys.argv[1:]
    fast = "--fast" in extra
    if fast:
        extra = [a for a in extra if a != "--fast"] + FAST
    for name, args in SUITES:
        print(f"=== {name} tests{' (fast: not slow)' if fast else ''} ===", flush=True)
        code = subprocess.call([sys.executable, "-m", "pytest", "-q", *args, *extra])
        if code == 5 and fast:
            print(f"{name}: every test is marked slow, none runs in the fast suite", flush=True)
            code = 0
        if code == 5:
            print(f"{name}: pytest collected no tests — treated as a failure", flush=True)
            code = 1
        worst = worst or code
    return worst


if __name__ == "__main__":
    sys.exit(main())
