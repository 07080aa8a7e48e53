"""The bench's memory sampling: a child's allocation is seen, and a page shared by processes is counted once
by PSS (the figure of the 8 GB target) though once per process by RSS."""

from __future__ import annotations

import subprocess
import sys
import time

from taxilab.bench import PeakMemory

MB = 1_000_000

# A parent that maps 200 MB of anonymous shared memory, touches every page, forks three children that keep
# it mapped (and touch it, so each has it resident), then everyone sleeps until killed.
SHARED_CHILDREN = """
import mmap, os, sys, time
m = mmap.mmap(-1, 200 * 1024 * 1024, flags=mmap.MAP_SHARED)
for i in range(0, len(m), 4096):
    m[i] = 1
for _ in range(3):
    if os.fork() == 0:
        s = 0
        for i in range(0, len(m), 4096):
            s += m[i]
        time.sleep(60)
        os._exit(0)
print("ready", flush=True)
time.sleep(60)
"""


def _wait_ready(proc: subprocess.Popen, seconds: float = 30) -> None:
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert line.strip() == "ready", line
    time.sleep(1.0)  # the children have touched their pages


def test_pss_counts_memory_shared_by_four_processes_once_and_rss_four_times():
    proc = subprocess.Popen([sys.executable, "-c", SHARED_CHILDREN], stdout=subprocess.PIPE, text=True)
    try:
        _wait_ready(proc)
        mem = PeakMemory(extra_pids=[proc.pid])
        mem.sample()
    finally:
        subprocess.run(["pkill", "-KILL", "-P", str(proc.pid)], check=False)
        proc.kill()
        proc.wait()
    assert mem.peak_services >= 4 * 190 * MB  # RSS: the 200 MB in each of the four processes
    assert 190 * MB <= mem.peak_services_pss <= 300 * MB  # PSS: once, plus four interpreters
    # the whole-lab figure is lab + services at one instant, by PSS
    assert mem.peak_whole_pss >= mem.peak_services_pss
    assert mem.peak_whole_pss <= mem.peak_lab_pss + mem.peak_services_pss


def test_a_childs_allocation_is_seen_while_it_runs_and_the_peak_stays_after_it_ends():
    with PeakMemory(interval_s=0.05, pss_every=1) as mem:
        subprocess.run(
            [sys.executable, "-c", "import time; b = bytearray(300 * 1024 * 1024); time.sleep(1.0)"],
            check=True,
        )
    assert mem.peak_lab >= 300 * MB and mem.peak_lab_pss >= 300 * MB and mem.peak_whole_pss >= 300 * MB
