"""Operations: metrics from every run, alarms evaluated with CloudWatch's semantics, the cost model, the
budget, notifications (ADR 0013). Declarations: alarms.json; prices: prices.json.
"""

from __future__ import annotations

import logging

log = logging.getLogger(__name__)


def after_run(settings, report) -> None:
    from datetime import UTC, datetime

    import taxilab.ops.alarms as alarms
    import taxilab.ops.metrics as metrics

    # One instant for the datapoints and their evaluation: with short periods, a clock read for each could
    # put the run's datapoints in one period and the evaluation in the next (which would see none).
    now = datetime.now(UTC)
    pub = metrics.publish_run(settings, report, now=now)
    if pub.error:
        return
    try:
        rep = report if isinstance(report, dict) else report.to_dict()
        changes = alarms.evaluate(settings, report=rep, now=now)
    except Exception as e:  # noqa: BLE001 - alarms must never fail the run
        log.exception("alarm evaluation after run failed")
        _note(report, f"alarms not evaluated: {type(e).__name__}: {e}")
        return
    for t in changes:
        if "ALARM" in (t.previous, t.state):  # as published; first evaluations (-> OK) stay in the history
            _note(report, f"alarm {t.alarm}: {t.previous} -> {t.state} ({t.reason})")


def _note(report, text: str) -> None:
    (report.setdefault("notes", []) if isinstance(report, dict) else report.notes).append(text)
