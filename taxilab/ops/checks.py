"""Re-validation as a run: reconcile a month's lake and warehouse now (after someone or something touched
them), as a run report of one `validate` stage whose checks feed the ReconciliationFailed metric and alarm."""

from __future__ import annotations

import time

from spark_jobs.month import Month
from taxilab.core.settings import Settings
from taxilab.report import Check, RunReport


def revalidate(settings: Settings, month: str) -> RunReport:
    from taxilab import ops
    from taxilab.validation.reconcile import reconcile

    Month.parse(month)
    rep = RunReport(month, "revalidate", settings.profile)
    st = rep.stage("validate")
    t0 = time.monotonic()
    try:
        checks: list[Check] = reconcile(settings, month)
        rep.checks.extend(checks)
        bad = [c for c in checks if not c.ok]
        st.rows_in, st.rows_out = len(checks), len(checks) - len(bad)
        st.detail = {"checks": len(checks), "mismatches": len(bad)}
        st.status = "failed" if bad else "succeeded"
        if bad:
            st.error = f"{len(bad)} reconciliation check(s) failed: " + ", ".join(c.name for c in bad)
    except Exception as e:  # noqa: BLE001 - reported as the stage's failure
        st.status, st.error = "failed", f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
    st.seconds = round(time.monotonic() - t0, 2)
    rep.finish(st.status, st.error)
    ops.after_run(settings, rep)
    rep.write(settings.runs_dir)
    return rep
