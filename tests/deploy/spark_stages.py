"""The lab's real Glue job scripts (spark_jobs/jobs/etl.py, aggregates.py) run in one local Spark process
against a given S3 endpoint with given keys: `python -m tests.deploy.spark_stages SETTINGS_JSON MONTH`.

Used by tests/integration/test_least_privilege.py to run the etl and aggregates stages' S3 calls (S3A:
listing, reads, the staging committer's multipart uploads, conflict-mode deletes, _SUCCESS markers) with
credentials bound to the Glue job policy. Prints each job's metrics line; exits non-zero on a failure.
"""

from __future__ import annotations

import json
import sys


def main(argv: list[str]) -> int:
    from emulation.spark import provide_job_sessions
    from spark_jobs.io import paths
    from spark_jobs.jobs import aggregates, etl
    from taxilab.core.settings import Settings

    settings = Settings.model_validate(json.loads(argv[0]))
    month = argv[1]
    provide_job_sessions(settings)
    b, d = settings.bucket, settings.dataset
    common = ["--bucket", b, "--dataset", d, "--month", month]
    zone_lookup = paths.s3_url(b, paths.zone_lookup_key())
    out = {"etl": etl.main(["etl", "--JOB_NAME", "taxilab-etl", *common, "--zone_lookup", zone_lookup])}
    out["aggregates"] = aggregates.main(["aggregates", "--JOB_NAME", "taxilab-aggregates", *common])
    # The same session (the same S3A client and keys) writing outside the lake's zones must be refused.
    from spark_jobs import runtime

    spark = runtime._session_provider()
    try:
        spark.range(3).write.mode("overwrite").parquet(f"s3a://{b}/exports/leak")
        out["write_outside_zones"] = "allowed"
    except Exception as e:  # py4j wraps the Java exception; its text names the cause
        out["write_outside_zones"] = (
            "denied" if "AccessDenied" in str(e) else f"failed otherwise: {str(e)[:500]}"
        )
    print("SPARK_STAGES " + json.dumps(out, default=str), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
