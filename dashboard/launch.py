"""Starts the lab's analysis front-ends (dashboard, notebook, demo: `python -m dashboard.launch WHAT
[--port N]`) on 127.0.0.1 and prints their URLs. Why: docs/adr/0016-dashboard-and-notebooks.md.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import IO

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"


def free_port(preferred: int | None) -> int:
    """`preferred` when it can be bound on loopback, else a free port the OS picks."""
    if preferred:
        with socket.socket() as s:
            try:
                s.bind((HOST, preferred))
                return preferred
            except OSError:
                pass
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def port_arg(text: str) -> int:
    if not text.isdigit() or not 1024 <= int(text) <= 65535:
        raise argparse.ArgumentTypeError(f"PORT {text!r}: expected a number from 1024 to 65535")
    return int(text)


def streamlit_command(port: int) -> list[str]:
    return [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(ROOT / "dashboard" / "app.py"),
        "--server.address",
        HOST,
        "--server.port",
        str(port),
        "--server.headless",
        "true",
        "--browser.gatherUsageStats",
        "false",
        "--global.developmentMode",
        "false",
        "--client.toolbarMode",
        "viewer",
    ]


class StartFailed(RuntimeError):
    """The server exited, or did not answer its health check in time."""


def start_streamlit(
    port: int, env: dict[str, str] | None = None, log: IO | None = None, timeout_s: float = 90.0
) -> tuple[subprocess.Popen, str]:
    """`streamlit run dashboard/app.py` on loopback `port`; returns (process, URL) once /_stcore/health
    answers ok. Output goes to `log` (default: this process's). A server that exits or stays silent past
    `timeout_s` raises StartFailed (and is stopped)."""
    proc = subprocess.Popen(
        streamlit_command(port),
        cwd=ROOT,
        env=env if env is not None else dict(os.environ),
        stdout=log,
        stderr=subprocess.STDOUT if log is not None else None,
    )
    url = f"http://{HOST}:{port}"
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise StartFailed(f"streamlit exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                if r.read().strip() == b"ok":
                    return proc, url
        except OSError:
            time.sleep(0.3)
    stop(proc)
    raise StartFailed(f"streamlit did not answer on {url} within {timeout_s:g} s")


def stop(proc: subprocess.Popen, timeout_s: float = 15.0) -> None:
    """Terminate `proc`, killing it if it has not ended within `timeout_s`."""
    proc.terminate()
    try:
        proc.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def jupyter_command(port: int) -> list[str]:
    # The venv's JupyterLab: its python3 kernel is the venv's Python, with the lab installed.
    cmd = [
        sys.executable,
        "-m",
        "jupyterlab",
        "--ip",
        HOST,
        "--port",
        str(port),
        "--no-browser",
        f"--ServerApp.root_dir={ROOT / 'notebooks'}",
        "--MappingKernelManager.default_kernel_name=python3",
    ]
    if (
        hasattr(os, "geteuid") and os.geteuid() == 0
    ):  # CI and containers run as root; Jupyter refuses unless told
        cmd.append("--allow-root")
    return cmd


def run(cmd: list[str] | subprocess.Popen) -> int:
    """Run the server (a command, or a process already started) in the foreground; Ctrl-C or SIGTERM to
    this process stops it too."""
    proc = cmd if isinstance(cmd, subprocess.Popen) else subprocess.Popen(cmd, cwd=ROOT, env=dict(os.environ))

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)
    try:
        return proc.wait()
    except KeyboardInterrupt:
        stop(proc)
        return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m dashboard.launch", description=__doc__.splitlines()[0])
    p.add_argument("what", choices=["dashboard", "notebook", "demo"])
    p.add_argument("--port", type=port_arg, default=None)
    a = p.parse_args(argv)
    if a.what == "notebook":
        port = free_port(a.port or 8888)
        print(
            f"JupyterLab: http://{HOST}:{port}/lab  (notebooks/: 01_lake, 02_warehouse_analytics, "
            "03_data_quality; the token is printed below; Ctrl-C stops)",
            flush=True,
        )
        return run(jupyter_command(port))
    port = free_port(a.port or 8501)
    url = f"http://{HOST}:{port}"
    if a.what == "demo":
        print("\nThe demo month is loaded. Next:", flush=True)
        print(f"  dashboard        {url}   (Insights: pick a month; Pipeline: the run reports)")
        print("  notebooks        make notebook")
        print(
            "  SQL              .venv/bin/taxilab sql list; .venv/bin/taxilab sql run executive_summary -p month=M"
        )
        print("  run report       make report")
        print("  stop everything  Ctrl-C here, then make down\n")
    try:
        proc, url = start_streamlit(port)
    except StartFailed as e:
        print(f"dashboard: {e}", file=sys.stderr)
        return 1
    print(f"dashboard: {url}  (Ctrl-C stops)", flush=True)
    return run(proc)


if __name__ == "__main__":
    sys.exit(main())
