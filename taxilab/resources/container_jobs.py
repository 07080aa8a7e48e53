"""Glue job runs inside the compose stack's `glue` container (the compose profile's job runner).
Why: docs/adr/0014-containers-localstack-glue-image-compose.md.
"""

from __future__ import annotations

import importlib
import json
import re
import time
from collections import deque
from pathlib import Path, PurePosixPath

from taxilab.core.settings import PROJECT_ROOT, Settings

METRICS_PREFIX = "TAXILAB_JOB_METRICS "
COMPOSE_PROJECT = "taxilab"
GLUE_SERVICE = "glue"
CONTAINER_ROOT = PurePosixPath("/opt/taxilab")  # where docker-compose.yml mounts ./spark_jobs
SCRATCH = PurePosixPath("/tmp/spark")  # the job container's local scratch (the image makes it writable)
_ARG_NAME = re.compile(r"^--[A-Za-z_][A-Za-z0-9_-]*$")
_LOG4J_LINE = re.compile(r"^\d\d/\d\d/\d\d \d\d:\d\d:\d\d (TRACE|DEBUG|INFO|WARN) ")
_PY_ERROR = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception)\b.*: ")


class ContainerJobError(RuntimeError):
    """A job run in the glue container failed (or could not start); the message names job and service."""


def _docker_client():
    try:
        docker = importlib.import_module(
            "docker"
        )  # the SDK (the repository's docker/ folder is not a package)
    except ImportError as e:  # pragma: no cover - docker is a pinned dependency
        raise ContainerJobError(
            "the compose profile runs jobs through the docker SDK: pip install docker"
        ) from e
    try:
        client = docker.from_env(timeout=30)
        client.ping()
    except Exception as e:  # noqa: BLE001 - DockerException / connection errors of any kind
        raise ContainerJobError(
            f"no Docker engine answers ({str(e).splitlines()[0][:200]}): start it, "
            "or use the embedded default (TAXILAB_PROFILE=local)"
        ) from None
    return client


def container_spark_conf(settings: Settings, app_name: str) -> dict[str, str]:
    """The lab's Spark/S3A settings (emulation.spark.spark_conf) for a spark-submit inside the container:
    host-only entries (jars on the host, host log config and scratch paths) replaced by the container's."""
    from emulation.spark import spark_conf

    conf = spark_conf(settings, jars=[])
    for key in ("spark.jars", "spark.driver.extraJavaOptions", "spark.master"):
        conf.pop(key, None)  # jars are in the image; logs go to the captured stderr; master is an argument
    conf.update(
        {
            "spark.app.name": app_name,
            "spark.log.level": "WARN",  # Spark 3.5: the driver's log level from the start (stderr goes to the job log)
            "spark.local.dir": str(SCRATCH / "local"),
            "spark.hadoop.fs.s3a.buffer.dir": str(SCRATCH / "s3a-buffer"),
            "spark.hadoop.fs.s3a.committer.staging.tmp.path": f"file://{SCRATCH / 'staging'}",
        }
    )
    return conf


def _validate_argv(argv: list[str]) -> list[str]:
    """Glue-style `--NAME value` pairs (a leading script name, as sys.argv has, is dropped)."""
    if not isinstance(argv, list | tuple) or not all(isinstance(a, str) for a in argv):
        raise ContainerJobError(f"job arguments must be a list of strings, got {argv!r}")
    args = list(argv)
    if args and not args[0].startswith("--"):
        args = args[1:]
    if len(args) % 2:
        raise ContainerJobError(f"job arguments must be --NAME value pairs, got {args!r}")
    for name, value in zip(args[::2], args[1::2], strict=True):
        if not _ARG_NAME.match(name):
            raise ContainerJobError(f"job argument name {name!r} is not of the form --NAME")
        if "\x00" in value or "\n" in value:
            raise ContainerJobError(f"job argument {name} has a NUL or newline in its value")
    return args


def _job_name(args: list[str], script: str) -> str:
    for name, value in zip(args[::2], args[1::2], strict=True):
        if name == "--JOB_NAME":
            return value
    return PurePosixPath(script).stem


class ContainerJobRunner:
    """Runs Glue job scripts in the compose project's `glue` service; `run()` returns the job's metrics."""

    def __init__(
        self,
        settings: Settings,
        project: str | None = None,
        service: str = GLUE_SERVICE,
        repo_root: Path = PROJECT_ROOT,
        client=None,
        container=None,
    ):
        """container: a docker SDK container (or its name) to run in instead of the compose service's."""
        self.settings = settings
        self._container = container
        self.project = project or getattr(settings, "compose_project", COMPOSE_PROJECT)
        self.service = service
        self.repo_root = Path(repo_root).resolve()
        self._client = client

    @property
    def client(self):
        if self._client is None:
            self._client = _docker_client()
        return self._client

    def container(self):
        """The running container of the glue service (ContainerJobError if there is none)."""
        if self._container is not None:
            c = (
                self._container
                if not isinstance(self._container, str)
                else self.client.containers.get(self._container)
            )
            c.reload()
            if c.status != "running":
                raise ContainerJobError(f"job container {c.name} is {c.status}, not running")
            return c
        found = self.client.containers.list(
            all=True,
            filters={
                "label": [
                    f"com.docker.compose.project={self.project}",
                    f"com.docker.compose.service={self.service}",
                ]
            },
        )
        if not found:
            raise ContainerJobError(
                f"service {self.service!r} of compose project {self.project!r} has no container: "
                "start the stack (make up PROFILE=compose)"
            )
        c = found[0]
        c.reload()
        if c.status != "running":
            raise ContainerJobError(
                f"service {self.service!r} (container {c.name}) is {c.status}, not running: "
                "make up PROFILE=compose"
            )
        return c

    def container_script(self, script_path: str) -> PurePosixPath:
        """The script's path inside the container; it must be a .py file under the repository's spark_jobs/."""
        path = Path(script_path)
        host = (path if path.is_absolute() else self.repo_root / path).resolve()
        jobs_root = self.repo_root / "spark_jobs"
        if host.suffix != ".py" or not host.is_relative_to(jobs_root) or not host.is_file():
            raise ContainerJobError(
                f"job script {script_path!r}: not a .py file under {jobs_root} "
                "(the folder the glue container mounts)"
            )
        return CONTAINER_ROOT / host.relative_to(self.repo_root).as_posix()

    def command(self, script_path: str, argv: list[str]) -> list[str]:
        args = _validate_argv(argv)
        script = self.container_script(script_path)
        cmd = ["spark-submit", "--master", self.settings.spark.master]
        for key, value in container_spark_conf(
            self.settings, f"taxilab-{_job_name(args, script.name)}"
        ).items():
            cmd += ["--conf", f"{key}={value}"]
        return [*cmd, str(script), *args]

    def log_path(self, job: str) -> Path:
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        safe = re.sub(r"[^A-Za-z0-9_.-]", "_", job)
        path = self.settings.logs_dir / "jobs" / f"{safe}-{stamp}-{time.monotonic_ns() % 10**6:06d}.log"
        path.parent.mkdir(parents=True, exist_ok=True)
        return path

    def run(self, script_path: str, argv: list[str]) -> dict:
        """Run the script with Glue-style argv inside the glue container; its metrics dict, or ContainerJobError."""
        cmd = self.command(script_path, argv)
        args = _validate_argv(argv)
        job = _job_name(args, script_path)
        container = self.container()
        api = self.client.api
        log = self.log_path(job)
        tail: deque[str] = deque(maxlen=15)
        error_line = None
        metrics_line = None
        pending = {"stdout": "", "stderr": ""}
        t0 = time.monotonic()
        with open(log, "w", encoding="utf-8") as out:
            out.write(
                f"# job {job} in {self.project}/{self.service} ({container.name})\n# {json.dumps(cmd)}\n"
            )
            out.flush()
            # SPARK_LOCAL_IP: Spark would otherwise look up the host's name and bind a non-loopback address.
            exec_id = api.exec_create(
                container.id,
                cmd,
                stdout=True,
                stderr=True,
                workdir=str(CONTAINER_ROOT),
                environment={"SPARK_LOCAL_IP": "127.0.0.1"},
            )["Id"]
            for stdout, stderr in api.exec_start(exec_id, stream=True, demux=True):
                for stream, chunk in (("stdout", stdout), ("stderr", stderr)):
                    if not chunk:
                        continue
                    text = pending[stream] + chunk.decode("utf-8", "replace")
                    *lines, pending[stream] = text.split("\n")
                    for line in lines:
                        out.write(f"{stream[3:]}: {line}\n")
                        if stream == "stdout" and line.startswith(METRICS_PREFIX):
                            metrics_line = line
                        elif line.strip() and not _LOG4J_LINE.match(line):
                            tail.append(line)
                            if _PY_ERROR.match(line):
                                error_line = line
                out.flush()
            for stream, rest in pending.items():
                if rest:
                    out.write(f"{stream[3:]}: {rest}\n")
                    if stream == "stdout" and rest.startswith(METRICS_PREFIX):
                        metrics_line = rest
            code = api.exec_inspect(exec_id)["ExitCode"]
            out.write(f"# exit code {code} after {time.monotonic() - t0:.1f} s\n")
        if code != 0:
            why = error_line or " | ".join(list(tail)[-5:])[-1200:]
            raise ContainerJobError(
                f"job {job} ({script_path}) failed in service {self.service!r} "
                f"({container.name}) with exit code {code}: {why[:1200]}; log {log}"
            )
        if metrics_line is None:
            raise ContainerJobError(
                f"job {job} ({script_path}) in service {self.service!r} exited 0 but printed no "
                f"'{METRICS_PREFIX.strip()}' line; log {log}"
            )
        try:
            metrics = json.loads(metrics_line[len(METRICS_PREFIX) :])
        except ValueError as e:
            raise ContainerJobError(f"job {job}: unreadable metrics line ({e}); log {log}") from None
        if not isinstance(metrics, dict):
            raise ContainerJobError(f"job {job}: metrics line is not a JSON object; log {log}")
        metrics.setdefault("container_seconds", round(time.monotonic() - t0, 2))
        metrics["log"] = str(log)
        return metrics
