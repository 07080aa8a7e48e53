"""What a job needs from its runtime, the same on AWS Glue and locally.
Why: docs/adr/0012-layout-and-layers.md.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable
from typing import Any

# Arguments Glue itself passes to every job run; accepted and ignored like Glue does.
_GLUE_RESERVED = [
    "job-bookmark-option",
    "continuation-option",
    "JOB_ID",
    "JOB_RUN_ID",
    "SECURITY_CONFIGURATION",
    "TempDir",
    "encryption-type",
    "RedshiftTempDir",
    "WORKFLOW_NAME",
    "WORKFLOW_RUN_ID",
]
_PLACEHOLDER = re.compile(r"^\$\{[a-z_]+\}$")


# SQL settings the jobs need on every runtime (set per session, so they apply on Glue too):
# - the rule and enrichment projections compile to methods over HotSpot's 8000-byte JIT limit; Spark's
#   default (65535) keeps them and the JVM then interprets them, several times slower;
# - some pre-2023 TLC files carry nanosecond timestamps, which Spark reads only as longs (conform
#   turns them back into timestamps).
JOB_SQL_CONF = {
    "spark.sql.codegen.hugeMethodLimit": "8000",
    "spark.sql.legacy.parquet.nanosAsLong": "true",
    "spark.sql.session.timeZone": "UTC",
}


class JobArgumentError(ValueError):
    pass


class JobRuntimeError(RuntimeError):
    """No Spark session: neither Glue's nor one provided by the runner."""


_session_provider: Callable[[], Any] | None = None


def set_session_provider(provider: Callable[[], Any] | None) -> None:
    """The seam through which a local runner hands jobs its SparkSession (None removes it)."""
    global _session_provider
    _session_provider = provider


def get_resolved_options(argv: list[str], options: list[str], glue: Any = None) -> dict[str, str]:
    """Glue's getResolvedOptions: every name in options is a required `--NAME value` argument;
    unknown arguments are ignored; returns {NAME: value}. Uses awsglue's own when present.

    A value that is still a declared placeholder (`${month}`: the deployed job's default argument) is taken
    from the Glue workflow run's properties when the job was started by a workflow (Glue passes
    --WORKFLOW_NAME and --WORKFLOW_RUN_ID); otherwise it is refused, naming the argument."""
    try:  # pragma: no cover - only on Glue
        from awsglue.utils import getResolvedOptions

        resolved = dict(getResolvedOptions(argv, options))
    except ImportError:
        resolved = _parse(argv, options)
    return _fill_placeholders(resolved, argv, glue)


def _parse(argv: list[str], options: list[str]) -> dict[str, str]:
    parser = argparse.ArgumentParser(prog=argv[0] if argv else "job", add_help=False)
    for name in _GLUE_RESERVED:
        if name not in options:
            parser.add_argument(f"--{name}", required=False)
    for name in options:
        parser.add_argument(f"--{name}", required=True)
    try:
        known, _unknown = parser.parse_known_args(argv[1:])
    except SystemExit:
        missing = [
            o for o in options if f"--{o}" not in argv and not any(a.startswith(f"--{o}=") for a in argv)
        ]
        raise JobArgumentError(f"job arguments: missing required {['--' + m for m in missing]}") from None
    values = vars(known)
    return {name: values[name] for name in options}


def _arg(argv: list[str], name: str) -> str | None:
    for i, a in enumerate(argv):
        if a == f"--{name}" and i + 1 < len(argv):
            return argv[i + 1]
        if a.startswith(f"--{name}="):
            return a.split("=", 1)[1]
    return None


def _fill_placeholders(values: dict[str, str], argv: list[str], glue: Any) -> dict[str, str]:
    pending = {k: v[2:-1] for k, v in values.items() if isinstance(v, str) and _PLACEHOLDER.match(v)}
    if not pending:
        return values
    workflow, run_id = _arg(argv, "WORKFLOW_NAME"), _arg(argv, "WORKFLOW_RUN_ID")
    properties: dict[str, str] = {}
    if workflow and run_id:
        if glue is None:  # pragma: no cover - only on Glue
            import boto3

            glue = boto3.client("glue")
        properties = glue.get_workflow_run_properties(Name=workflow, RunId=run_id).get("RunProperties", {})
    missing = [f"--{k} ({'${' + p + '}'})" for k, p in pending.items() if p not in properties]
    if missing:
        where = (
            f"workflow run {run_id} of {workflow} has no such run property" if workflow else "no workflow run"
        )
        raise JobArgumentError(
            f"job arguments {', '.join(missing)} are still placeholders ({where}): start the "
            "job with real values or from a workflow run with those run properties"
        )
    return {**values, **{k: properties[p] for k, p in pending.items()}}


class JobContext:
    """Session + Glue Job bracket. Use as `with JobContext(args) as ctx: ctx.spark ...`."""

    def __init__(self, args: dict[str, str], spark=None):
        self.args = args
        self._job = None
        if spark is not None:
            self.spark = spark
            return
        try:  # pragma: no cover - only on Glue
            from awsglue.context import GlueContext
            from awsglue.job import Job
            from pyspark.context import SparkContext

            glue_context = GlueContext(SparkContext.getOrCreate())
            self.spark = glue_context.spark_session
            self._job = Job(glue_context)
            self._job.init(args["JOB_NAME"], args)
        except ImportError:
            if _session_provider is None:
                raise JobRuntimeError(
                    "no Spark session for the job: on AWS Glue GlueContext provides it; locally pass one to "
                    "main(argv, spark) or set it with spark_jobs.runtime.set_session_provider"
                ) from None
            self.spark = _session_provider()

    def __enter__(self):
        for key, value in JOB_SQL_CONF.items():
            self.spark.conf.set(key, value)
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None and self._job is not None:  # pragma: no cover - only on Glue
            self._job.commit()
        return False
