"""Pure DataFrame -> DataFrame transforms of the pipeline (no session, IO or config in here).
Why: docs/adr/0007-nothing-lost.md.
"""

from spark_jobs.transforms import aggregates, conform, enrich, validate

__all__ = ["aggregates", "conform", "enrich", "validate"]
