"""The embedded services of the local profile: a moto server (S3, Glue, CloudWatch, SNS, SQS) and a
real PostgreSQL (standing in for Redshift), both on free loopback ports, no root, no Docker.
Why: docs/adr/0001-embedded-services-moto-and-pgserver.md.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psutil

from emulation import pg_auth
from taxilab.core.settings import Settings, environ_for_children, load_settings
from taxilab.core.state import write_json

log = logging.getLogger(__name__)

PG_SYSTEM_USER = "taxilab-pg"  # postgres refuses to run as root; as root the lab runs it as this user
PG_DATABASE = "taxilab"


class ServiceError(RuntimeError):
    pass


@dataclass
class ServiceState:
    endpoints: dict[str, str]
    warehouse_dsn: str  # the app role's (no password: libpq reads the passfile, emulation/pg_auth.py)
    warehouse_admin_dsn: str  # the superuser's, for setup only
    moto_pid: int
    moto_port: int
    pg_port: int
    pg_data: str
    started_at: float
    lake_fresh: bool = False  # True when the emulator was (re)started empty by this call

    def to_json(self) -> dict:
        return {
            "endpoints": self.endpoints,
            "warehouse_dsn": self.warehouse_dsn,
            "warehouse_admin_dsn": self.warehouse_admin_dsn,
            "moto": {"pid": self.moto_pid, "port": self.moto_port},
            "postgres": {"port": self.pg_port, "pgdata": self.pg_data},
            "started_at": self.started_at,
        }


def free_port(preferred: int | None = None) -> int:
    if preferred and _port_free(preferred):
        return preferred
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def _port_answers(port: int, timeout: float = 0.3) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout).close()
        return True
    except OSError:
        return False


def _wait_for(predicate, seconds: float, what: str, log_file: Path | None = None) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    tail = ""
    if log_file and log_file.exists():
        tail = (
            "\n--- last lines of "
            + str(log_file)
            + " ---\n"
            + "\n".join(log_file.read_text().splitlines()[-20:])
        )
    raise ServiceError(f"{what} did not come up within {seconds:.0f} s{tail}")


# ---- moto ----------------------------------------------------------------------------------------


def _moto_alive(pid: int, port: int) -> bool:
    return psutil.pid_exists(pid) and _port_answers(port)


def _start_moto(settings: Settings, port: int) -> int:
    settings.logs_dir.mkdir(parents=True, exist_ok=True)
    log_file = settings.logs_dir / "moto.log"
    env = environ_for_children(settings)
    with open(log_file, "ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "emulation.moto_server", "-H", "127.0.0.1", "-p", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            start_new_session=True,  # outlives `make up`; stopped by `make down`
        )
    _wait_for(lambda: _port_answers(port) or proc.poll() is not None, 30, "moto server", log_file)
    if proc.poll() is not None:
        raise ServiceError(f"moto server exited at start (code {proc.returncode}); see {log_file}")
    return proc.pid


# ---- PostgreSQL ---------------------------------------------------------------------------------


def _pg_bin() -> Path:
    import pgserver._commands as pgc

    return Path(pgc.POSTGRES_BIN_PATH)


def _run_as() -> dict:
    """subprocess kwargs that run PostgreSQL binaries as a non-root user when we are root."""
    if os.geteuid() != 0:
        return {}
    from pgserver.utils import ensure_user_exists

    ensure_user_exists(PG_SYSTEM_USER)
    return {"user": PG_SYSTEM_USER, "group": PG_SYSTEM_USER}


def _pg_user_blocked_at(path: Path) -> Path | None:
    """The first directory on the way to `path` (itself included) the PostgreSQL OS user cannot traverse,
    tested as that user (modes, owners, groups and ACLs as the kernel sees them); None if it reaches it."""
    chain = [*reversed(path.parents), path]
    r = subprocess.run(
        [
            "sh",
            "-c",
            'for d in "$@"; do test -x "$d" || { printf %s "$d"; exit 1; }; done',
            "sh",
            *map(str, chain),
        ],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=30,
        **_run_as(),
    )
    return Path(r.stdout) if r.returncode else None


def _make_traversable(settings: Settings, pgdata: Path) -> None:
    """As root, the PostgreSQL OS user must reach the data dir and the binaries, and it gets only that:
    no directory above the state dir is ever changed (pgserver's ensure_prefix_permissions made every
    parent world-readable). The lab's own state dir and its pg/ folder get traversal (x) for that user
    alone where setfacl exists, else o+x (traverse, not list). A blocking parent fails, naming it."""
    from pgserver.utils import ensure_folder_permissions

    state = settings.state_dir.resolve()
    for target, what in ((state.parent, "the state dir's parent"), (_pg_bin(), "PostgreSQL's binaries")):
        blocked = _pg_user_blocked_at(target)
        if blocked is not None:
            raise ServiceError(
                f"the PostgreSQL OS user {PG_SYSTEM_USER!r} cannot traverse {blocked} on the way to {what} "
                f"({target}); the lab does not loosen directories it does not own: grant that user traversal "
                f"(e.g. setfacl -m u:{PG_SYSTEM_USER}:x {blocked}) or use a state dir it can reach "
                "(TAXILAB_STATE_DIR)"
            )
    for own in (state, pgdata.parent):
        if _pg_user_blocked_at(own) is not None:
            if shutil.which("setfacl"):
                subprocess.run(
                    ["setfacl", "-m", f"u:{PG_SYSTEM_USER}:x", str(own)],
                    check=True,
                    capture_output=True,
                    timeout=30,
                )
            else:
                own.chmod(own.stat().st_mode | 0o001)
    ensure_folder_permissions(_pg_bin(), 0o055)  # inside pgserver's own install tree, not its parents
    ensure_folder_permissions(_pg_bin().parent / "lib", 0o044)


def _pg_ready(port: int) -> bool:
    r = subprocess.run(
        [str(_pg_bin() / "pg_isready"), "-h", "127.0.0.1", "-p", str(port), "-q"],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=10,
    )
    return r.returncode == 0


def _pg_running_port(pgdata: Path) -> int | None:
    pidfile = pgdata / "postmaster.pid"
    if not pidfile.exists():
        return None
    lines = pidfile.read_text().splitlines()
    try:
        pid, port = int(lines[0]), int(lines[3])
    except (IndexError, ValueError):
        return None
    if psutil.pid_exists(pid) and _pg_ready(port):
        return port
    return None


def _start_postgres(settings: Settings, preferred_port: int | None) -> tuple[int, Path]:
    pgdata = settings.state_dir / "pg" / "data"
    running = _pg_running_port(pgdata)
    if running:
        return running, pgdata
    run_as = _run_as()
    if not (pgdata / "PG_VERSION").exists():
        if pgdata.exists():
            shutil.rmtree(pgdata)
        pgdata.mkdir(parents=True)
        if run_as:
            _make_traversable(settings, pgdata)
            shutil.chown(pgdata, PG_SYSTEM_USER, PG_SYSTEM_USER)
        # The superuser's password reaches initdb through a 0600 file only it can read, removed at once.
        pwfile = pgdata.parent / f".initdb-pw-{os.getpid()}"
        fd = os.open(pwfile, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(
                pg_auth.ensure_passwords(settings.state_dir, settings.warehouse_app_role)[pg_auth.ADMIN_USER]
            )
        if run_as:
            shutil.chown(pwfile, PG_SYSTEM_USER, PG_SYSTEM_USER)
        try:
            subprocess.run(
                [
                    str(_pg_bin() / "initdb"),
                    "-D",
                    str(pgdata),
                    "--auth=scram-sha-256",
                    f"--pwfile={pwfile}",
                    "-U",
                    pg_auth.ADMIN_USER,
                    "--encoding=UTF8",
                    "--locale=C",
                ],
                check=True,
                capture_output=True,
                stdin=subprocess.DEVNULL,
                timeout=120,
                **run_as,
            )
        finally:
            pwfile.unlink(missing_ok=True)
        pg_auth.write_hba(pgdata, PG_SYSTEM_USER if run_as else None)
    elif run_as:
        _make_traversable(settings, pgdata)
    port = free_port(preferred_port)
    log_file = settings.logs_dir / "postgres.log"
    settings.logs_dir.mkdir(parents=True, exist_ok=True)
    if run_as:
        log_file.touch()
        shutil.chown(log_file, PG_SYSTEM_USER, PG_SYSTEM_USER)
    # Loopback TCP only, no unix socket (its path length limit breaks in deep checkouts).
    opts = (
        f"-h 127.0.0.1 -p {port} -k '' -c shared_buffers=512MB -c max_wal_size=4GB "
        "-c work_mem=64MB -c maintenance_work_mem=512MB -c synchronous_commit=off -c jit=off"
    )
    r = subprocess.run(
        [
            str(_pg_bin() / "pg_ctl"),
            "-D",
            str(pgdata),
            "-l",
            str(log_file),
            "-o",
            opts,
            "-w",
            "-t",
            "60",
            "start",
        ],
        capture_output=True,
        stdin=subprocess.DEVNULL,
        timeout=90,
        text=True,
        **run_as,
    )
    if r.returncode != 0:
        tail = "\n".join(log_file.read_text().splitlines()[-20:]) if log_file.exists() else ""
        raise ServiceError(f"PostgreSQL did not start (pg_ctl: {r.stderr.strip()}):\n{tail}")
    _wait_for(lambda: _pg_ready(port), 30, "PostgreSQL", log_file)
    return port, pgdata


def _ensure_database(settings: Settings, port: int, pgdata: Path) -> None:
    """Setup, as the superuser: the lab's database, the app role with its grants and passwords, then the
    lab's pg_hba.conf (scram-sha-256, loopback only), reloaded (a cluster of an older lab had trust)."""
    import psycopg

    passwords = pg_auth.ensure_passwords(settings.state_dir, settings.warehouse_app_role)
    admin = pg_auth.dsn(settings.state_dir, port, pg_auth.ADMIN_USER, "postgres")
    with psycopg.connect(admin, autocommit=True) as conn:
        exists = conn.execute("select 1 from pg_database where datname = %s", (PG_DATABASE,)).fetchone()
        if not exists:
            conn.execute(f'create database "{PG_DATABASE}"')
    with psycopg.connect(
        pg_auth.dsn(settings.state_dir, port, pg_auth.ADMIN_USER, PG_DATABASE), autocommit=True
    ) as conn:
        pg_auth.setup_roles(conn, PG_DATABASE, settings.warehouse_app_role, passwords)
        if pg_auth.write_hba(pgdata, PG_SYSTEM_USER if _run_as() else None):
            conn.execute("SELECT pg_reload_conf()")


def _stop_postgres(pgdata: Path) -> None:
    if not (pgdata / "postmaster.pid").exists():
        return
    subprocess.run(
        [str(_pg_bin() / "pg_ctl"), "-D", str(pgdata), "-m", "fast", "-w", "-t", "60", "stop"],
        capture_output=True,
        stdin=subprocess.DEVNULL,
        timeout=90,
        **_run_as(),
    )


# ---- the pair ------------------------------------------------------------------------------------


def read_state(settings: Settings) -> dict | None:
    try:
        return json.loads(settings.services_file.read_text())
    except (OSError, ValueError):
        return None


def retire_bookmarks(settings: Settings) -> Path | None:
    """Glue job bookmarks describe what the lake holds; an emulator started empty holds nothing, so a bookmark
    kept from before would make the next bookmarked run skip objects whose output no longer exists. They are
    moved aside (kept for inspection), never applied to the new, empty lake."""
    current = settings.state_dir / "bookmarks"
    if not current.exists() or not any(current.iterdir()):
        return None
    retired = settings.state_dir / "bookmarks-retired" / time.strftime("%Y%m%dT%H%M%S")
    retired.parent.mkdir(parents=True, exist_ok=True)
    current.rename(retired)
    return retired


@contextmanager
def _services_lock(settings: Settings, timeout_s: float = 180.0):
    """One process at a time checks, starts and records the services (two pipelines for different months
    may start together): the others wait, then find them running. Never waits without end."""
    lock_dir = settings.state_dir / "locks"
    lock_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock_dir / "services.lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise ServiceError(
                        f"another process has been starting the services for over {timeout_s:.0f} s "
                        f"({lock_dir / 'services.lock'}); see {settings.logs_dir}"
                    ) from None
                time.sleep(0.2)
        yield
    finally:
        os.close(fd)  # releases the lock


def ensure_running(settings: Settings | None = None) -> ServiceState:
    """Start whatever of the two services is not running; reuse what is. Returns the live state."""
    settings = settings or load_settings()
    settings.state_dir.mkdir(parents=True, exist_ok=True)
    with _services_lock(settings):
        return _ensure_running(settings)


def _ensure_running(settings: Settings) -> ServiceState:
    prev = read_state(settings) or {}
    moto_prev = prev.get("moto", {})
    lake_fresh = False
    if moto_prev and _moto_alive(moto_prev.get("pid", -1), moto_prev.get("port", -1)):
        moto_pid, moto_port = moto_prev["pid"], moto_prev["port"]
    else:
        moto_port = free_port(moto_prev.get("port"))
        moto_pid = _start_moto(settings, moto_port)
        lake_fresh = True
        retire_bookmarks(settings)
    try:
        pg_port, pgdata = _start_postgres(settings, prev.get("postgres", {}).get("port"))
        _ensure_database(settings, pg_port, pgdata)
    except BaseException:
        if lake_fresh:  # no state file will name the emulator started above: stop it rather than orphan it
            _kill_moto(moto_pid)
        raise
    _rearm_idle_watcher(settings)
    endpoint = f"http://127.0.0.1:{moto_port}"
    state = ServiceState(
        endpoints={s: endpoint for s in ("s3", "glue", "cloudwatch", "sns", "sqs")},
        warehouse_dsn=pg_auth.dsn(settings.state_dir, pg_port, settings.warehouse_app_role, PG_DATABASE),
        warehouse_admin_dsn=pg_auth.dsn(settings.state_dir, pg_port, pg_auth.ADMIN_USER, PG_DATABASE),
        moto_pid=moto_pid,
        moto_port=moto_port,
        pg_port=pg_port,
        pg_data=str(pgdata),
        started_at=prev.get("started_at", time.time()) if not lake_fresh else time.time(),
        lake_fresh=lake_fresh,
    )
    write_json(settings.services_file, state.to_json(), indent=2)
    return state


def _kill_moto(pid: int) -> None:
    try:
        os.killpg(os.getpgid(pid), signal.SIGTERM)
        psutil.Process(pid).wait(10)
    except (psutil.Error, ProcessLookupError, psutil.TimeoutExpired):
        pass


def stop(settings: Settings | None = None) -> list[str]:
    """Stop both services. Returns what was stopped."""
    settings = settings or load_settings()
    state = read_state(settings) or {}
    stopped = []
    pid = state.get("moto", {}).get("pid")
    if pid and psutil.pid_exists(pid):
        try:
            proc = psutil.Process(pid)
            if "moto" in " ".join(proc.cmdline()):
                os.killpg(os.getpgid(pid), signal.SIGTERM)
                proc.wait(10)
                stopped.append("moto")
        except (psutil.Error, ProcessLookupError, psutil.TimeoutExpired):
            pass
    pgdata = settings.state_dir / "pg" / "data"
    start_idle_watcher(settings, None)
    if _pg_running_port(pgdata):
        _stop_postgres(pgdata)
        stopped.append("postgres")
    if settings.services_file.exists():
        settings.services_file.unlink()
    return stopped


def status(settings: Settings | None = None) -> dict:
    settings = settings or load_settings()
    state = read_state(settings)
    if not state:
        return {"running": False}
    moto = state.get("moto", {})
    pgdata = Path(state.get("postgres", {}).get("pgdata", settings.state_dir / "pg" / "data"))
    return {
        "running": True,
        "moto": {**moto, "alive": _moto_alive(moto.get("pid", -1), moto.get("port", -1))},
        "postgres": {**state.get("postgres", {}), "alive": _pg_running_port(pgdata) is not None},
        "endpoints": state.get("endpoints"),
        "warehouse_dsn": state.get("warehouse_dsn"),
    }


# ---- idle control (`taxilab up --idle-minutes N`) ------------------------------------------------------------
# A small watcher process stops the embedded PostgreSQL after N minutes without a client connection, as
# Redshift Serverless stops billing compute when no query runs. It says so in <state_dir>/logs/idle.log; the
# next command that needs the warehouse starts PostgreSQL again (ensure_running), and with it a new watcher.


def _idle_file(settings: Settings) -> Path:
    return settings.state_dir / "idle-watcher.json"


def client_connections(port: int, state_dir: Path) -> int:
    """Client backends connected to the lab's PostgreSQL, this check's own connection excluded."""
    import psycopg

    with psycopg.connect(pg_auth.dsn(state_dir, port, pg_auth.ADMIN_USER, "postgres"), autocommit=True) as c:
        row = c.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend' "
            "AND pid <> pg_backend_pid()"
        ).fetchone()
        return int(row[0]) if row else 0


def watch_idle(settings: Settings, minutes: float, poll_s: float = 15.0) -> str:
    """Poll until PostgreSQL has had no client for `minutes`, then stop it; returns what happened."""
    pgdata = settings.state_dir / "pg" / "data"
    idle_log = settings.logs_dir / "idle.log"
    settings.logs_dir.mkdir(parents=True, exist_ok=True)

    def say(msg: str) -> str:
        with idle_log.open("a") as f:
            f.write(f"{time.strftime('%Y-%m-%dT%H:%M:%S%z')} {msg}\n")
        return msg

    say(f"watching PostgreSQL (pid {os.getpid()}): stop after {minutes:g} min without a client connection")
    last_busy = time.monotonic()
    while True:
        port = _pg_running_port(pgdata)
        if port is None:
            return say("PostgreSQL is not running; idle watcher exits")
        try:
            busy = client_connections(port, settings.state_dir) > 0 or _run_in_progress(settings)
        except Exception as e:  # noqa: BLE001 - a server going down under us: look again next poll
            log.warning("idle check failed: %s", e)
            busy = True
        now = time.monotonic()
        if busy:
            last_busy = now
        elif now - last_busy >= minutes * 60:
            _stop_postgres(pgdata)
            return say(
                f"PostgreSQL stopped after {minutes:g} min without a client connection; the next taxilab "
                "command that needs the warehouse starts it again"
            )
        time.sleep(poll_s)


def _run_in_progress(settings: Settings) -> bool:
    """A run holds its month lock (or services are being started): it will need the warehouse even while
    Spark works."""
    lock_dir = settings.state_dir / "locks"
    for p in lock_dir.glob("*.lock") if lock_dir.exists() else []:
        fd = os.open(p, os.O_RDONLY)
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        finally:
            os.close(fd)
    return False


def start_idle_watcher(settings: Settings, minutes: float | None, poll_s: float = 15.0) -> int | None:
    """(Re)start the watcher with `minutes` (recorded for later restarts); None turns idle stop off."""
    prev = {}
    try:
        prev = json.loads(_idle_file(settings).read_text())
    except (OSError, ValueError):
        pass
    _stop_watcher(prev.get("pid"))
    if minutes is None:
        _idle_file(settings).unlink(missing_ok=True)
        return None
    if minutes <= 0:
        raise ValueError(f"idle minutes {minutes!r}: expected a number > 0")
    settings.logs_dir.mkdir(parents=True, exist_ok=True)
    with open(settings.logs_dir / "idle.log", "ab") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "emulation.services",
                "idle-watch",
                str(settings.state_dir),
                str(minutes),
                str(poll_s),
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=environ_for_children(settings),
            start_new_session=True,
        )
    write_json(_idle_file(settings), {"pid": proc.pid, "minutes": minutes, "poll_s": poll_s})
    return proc.pid


def _stop_watcher(pid: int | None) -> None:
    if not pid or not psutil.pid_exists(pid):
        return
    try:
        p = psutil.Process(pid)
        if "idle-watch" in p.cmdline():
            p.terminate()
            p.wait(10)
    except (psutil.Error, psutil.TimeoutExpired):
        pass


def _rearm_idle_watcher(settings: Settings) -> None:
    """After PostgreSQL was started again: a watcher configured by `up --idle-minutes` watches it again."""
    try:
        cfg = json.loads(_idle_file(settings).read_text())
    except (OSError, ValueError):
        return
    if not (cfg.get("pid") and psutil.pid_exists(cfg["pid"])):
        start_idle_watcher(settings, float(cfg["minutes"]), float(cfg.get("poll_s", 15.0)))


if __name__ == "__main__" and len(sys.argv) == 5 and sys.argv[1] == "idle-watch":
    watch_idle(load_settings(state_dir=Path(sys.argv[2])), float(sys.argv[3]), float(sys.argv[4]))
