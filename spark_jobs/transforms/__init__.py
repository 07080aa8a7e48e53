"""Pure DataFrame -> DataFrame transforms of the pipeline (no session, IO or config in here).

conform: raw TLC file -> canonical rows; validate: canonical -> (accepted, rejected with reasons);
enrich: accepted + zone lookup -> staging rows; aggregates: staging -> curated tables.
"""

from spark_jobs.transforms import aggregates, conform, enrich, validate

__all__ = ["aggregates", "conform", "enrich", "validate"]
