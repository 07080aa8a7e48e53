"""Starts the lab's analysis front-ends on loopback and prints their URLs (the Makefile's `dashboard`,
`notebook` and `demo` targets):

    python -m dashboard.launch dashboard [--port N]   # streamlit run dashboard/app.py
    python -m dashboard.launch notebook  [--port N]   # JupyterLab on notebooks/ with the lab's kernel
    python -m dashboard.launch demo      [--port N]   # after `taxilab pipeline`: next commands + dashboard

Always 127.0.0.1; the port given, else the tool's usual one when free, else any free port. Runs in the
foreground until Ctrl-C. Streamlit is told not to send usage statistics and not to open a browser.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

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


def run(cmd: list[str]) -> int:
    """Run the server in the foreground; Ctrl-C or SIGTERM to this process stops it too."""
    proc = subprocess.Popen(cmd, cwd=ROOT, env=dict(os.environ))

    def stop(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    try:
        return proc.wait()
    except KeyboardInterrupt:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
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
    print(f"dashboard: {url}  (Ctrl-C stops)", flush=True)
    return run(streamlit_command(port))


if __name__ == "__main__":
    sys.exit(main())
