"""Glue jobs "taxilab-load-warehouse" and "taxilab-validate": thin entry points over the lab's warehouse
load (taxilab.warehouse.loader.load_month) and reconciliation (taxilab.validation.reconcile).
Why: docs/adr/0008-copy-unload-data-api.md.
"""

from __future__ import annotations

import sys

from spark_jobs.runtime import get_resolved_options
from taxilab.core.runs import timed
from taxilab.core.settings import Settings, check_schema, get_settings, with_profile

ARGS = ["JOB_NAME", "bucket", "dataset", "month"]
STEPS = ("load", "validate")


class GlueLoadError(RuntimeError):
    pass


# Optional job arguments that override settings (a Glue job has no TAXILAB_* environment).
SETTINGS_ARGS = (
    "profile",
    "region",
    "redshift_workgroup",
    "redshift_cluster_id",
    "redshift_database",
    "redshift_db_user",
    "redshift_secret_arn",
    "redshift_iam_role",
    "warehouse_schema",
)


def _optional(argv: list[str], name: str) -> str | None:
    value = None
    for i, a in enumerate(argv):
        if a == f"--{name}" and i + 1 < len(argv):
            value = argv[i + 1]
        elif a.startswith(f"--{name}="):
            value = a.split("=", 1)[1]
    return value


def _step(argv: list[str]) -> str:
    step = _optional(argv, "step") or "load"
    if step not in STEPS:
        raise GlueLoadError(f"--step must be one of {', '.join(STEPS)}, got {step!r}")
    return step


def main(argv: list[str] | None = None, settings: Settings | None = None) -> dict:
    argv = argv if argv is not None else sys.argv
    args = get_resolved_options(argv, ARGS)
    step = _step(argv)
    s = settings or get_settings()
    update: dict[str, object] = {k: v for k in SETTINGS_ARGS if (v := _optional(argv, k))}
    if "profile" in update:
        try:
            s = with_profile(s, str(update.pop("profile")))  # aws: AWS's own endpoints, not the emulator's
        except ValueError as e:
            raise GlueLoadError(f"--profile: {e}") from None
    if "warehouse_schema" in update:
        try:
            check_schema(update["warehouse_schema"])
        except ValueError as e:
            raise GlueLoadError(f"--warehouse_schema: {e}") from None
    if (args["bucket"], args["dataset"]) != (s.bucket, s.dataset) or update:
        s = s.model_copy(update={"bucket": args["bucket"], "dataset": args["dataset"], **update})
    with timed() as clock:
        if step == "load":
            from taxilab import resources

            res = resources.warehouse(s).load_month(args["month"])
        else:
            from taxilab.validation.reconcile import reconcile

            checks = reconcile(s, args["month"])
    if step == "load":
        return {
            "job": args["JOB_NAME"],
            "month": args["month"],
            "step": step,
            "path": res.get("path", "native"),
            "rows_in": res["rows_in"],
            "rows_loaded": res["rows_loaded"],
            "tables": res["tables"],
            "seconds": clock.seconds,
        }
    bad = [c for c in checks if not c.ok]
    if bad:
        raise GlueLoadError(
            f"{len(bad)} of {len(checks)} reconciliation check(s) failed for {args['month']}: "
            + "; ".join(f"{c.name} (expected {c.expected}, got {c.actual})" for c in bad)
        )
    return {
        "job": args["JOB_NAME"],
        "month": args["month"],
        "step": step,
        "checks": len(checks),
        "seconds": clock.seconds,
    }


if __name__ == "__main__":
    try:
        print(main())
    except GlueLoadError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(1)
