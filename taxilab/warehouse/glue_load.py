"""Glue Python shell jobs "taxilab-load-warehouse" and "taxilab-validate": thin entry points over the
lab's warehouse load (taxilab.warehouse.loader.load_month) and reconciliation (taxilab.pipeline.reconcile).

Arguments (Glue style): --JOB_NAME --bucket --dataset --month YYYY-MM [--step load|validate]
- load:     replace the month in fct_trips, the curated tables, dims and pre-aggregates (one transaction
            per table; a rerun leaves the same rows).
- validate: exact reconciliation raw = staging + quarantine = curated = warehouse; any mismatch fails
            the job (exit 1 when run as a script), naming the checks.

Locally the workflow runner calls main(argv, settings) in-process; `python -m taxilab.warehouse.glue_load`
runs it as Glue would run the script (settings from the environment). The load speaks the PostgreSQL
wire protocol (COPY FROM STDIN): on the aws profile (Redshift through the Data API) it is refused by name,
see docs/adr/0006.
"""

from __future__ import annotations

import sys
import time

from spark_jobs.runtime import get_resolved_options
from taxilab.settings import Settings, get_settings

ARGS = ["JOB_NAME", "bucket", "dataset", "month"]
STEPS = ("load", "validate")


class GlueLoadError(RuntimeError):
    pass


def _step(argv: list[str]) -> str:
    step = "load"
    for i, a in enumerate(argv):
        if a == "--step" and i + 1 < len(argv):
            step = argv[i + 1]
        elif a.startswith("--step="):
            step = a.split("=", 1)[1]
    if step not in STEPS:
        raise GlueLoadError(f"--step must be one of {', '.join(STEPS)}, got {step!r}")
    return step


def main(argv: list[str] | None = None, settings: Settings | None = None) -> dict:
    argv = argv if argv is not None else sys.argv
    args = get_resolved_options(argv, ARGS)
    step = _step(argv)
    s = settings or get_settings()
    if (args["bucket"], args["dataset"]) != (s.bucket, s.dataset):
        s = s.model_copy(update={"bucket": args["bucket"], "dataset": args["dataset"]})
    if s.profile == "aws":
        raise GlueLoadError("the warehouse load speaks PostgreSQL's COPY FROM STDIN; on the aws profile "
                            "(Redshift Data API) load with Redshift COPY from the lake instead (not automated yet)")
    t0 = time.monotonic()
    if step == "load":
        from taxilab.warehouse import loader

        res = loader.load_month(s, args["month"])
        return {"job": args["JOB_NAME"], "month": args["month"], "step": step, "rows_in": res["rows_in"],
                "rows_loaded": res["rows_loaded"], "tables": res["tables"], "seconds": round(time.monotonic() - t0, 2)}
    from taxilab.pipeline import reconcile

    checks = reconcile(s, args["month"])
    bad = [c for c in checks if not c.ok]
    if bad:
        raise GlueLoadError(f"{len(bad)} of {len(checks)} reconciliation check(s) failed for {args['month']}: "
                            + "; ".join(f"{c.name} (expected {c.expected}, got {c.actual})" for c in bad))
    return {"job": args["JOB_NAME"], "month": args["month"], "step": step, "checks": len(checks),
            "seconds": round(time.monotonic() - t0, 2)}


if __name__ == "__main__":
    try:
        print(main())
    except GlueLoadError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(1)
