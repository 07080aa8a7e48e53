"""Scheduled pause/resume of a provisioned Redshift cluster: EventBridge Scheduler -> this Lambda.

Redshift Serverless needs none of this (it bills no compute while no query runs; the warehouse module caps it
with a usage limit). A provisioned cluster bills every hour it is up, so users who choose one get two
schedules (wired in deploy_aws/): {"action": "pause"} in the evening, {"action": "resume"} in the morning.

Event: {"action": "pause" | "resume", "cluster_identifier": "<id>"} (the id may come from the
REDSHIFT_CLUSTER_ID environment variable instead). Pausing a cluster that is not "available", or resuming one
that is not "paused", changes nothing and says why (a schedule firing twice is harmless). Least privilege:
the function's role needs only redshift:DescribeClusters, PauseCluster and ResumeCluster on that cluster.
"""

from __future__ import annotations

import os
import re

import boto3

ACTIONS = {
    "pause": ("available", "paused", "pause_cluster"),
    "resume": ("paused", "available", "resume_cluster"),
}
_CLUSTER_ID = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")


class PauseError(ValueError):
    pass


def handler(event: dict | None, context=None, redshift=None) -> dict:
    event = event or {}
    action = event.get("action")
    if action not in ACTIONS:
        raise PauseError(f"event action {action!r}: expected 'pause' or 'resume'")
    cluster = event.get("cluster_identifier") or os.environ.get("REDSHIFT_CLUSTER_ID")
    if not cluster or len(cluster) > 63 or not _CLUSTER_ID.match(cluster):
        raise PauseError(
            f"cluster identifier {cluster!r}: expected 1-63 lowercase letters, digits and single hyphens, "
            "starting with a letter (event cluster_identifier or REDSHIFT_CLUSTER_ID)"
        )
    rs = redshift or boto3.client("redshift")
    needed, _, call = ACTIONS[action]
    before = rs.describe_clusters(ClusterIdentifier=cluster)["Clusters"][0]["ClusterStatus"]
    if before != needed:
        return {
            "cluster": cluster,
            "action": action,
            "changed": False,
            "status": before,
            "reason": f"cluster is {before!r}, {action} needs {needed!r}",
        }
    getattr(rs, call)(ClusterIdentifier=cluster)
    after = rs.describe_clusters(ClusterIdentifier=cluster)["Clusters"][0]["ClusterStatus"]
    return {"cluster": cluster, "action": action, "changed": True, "previous_status": before, "status": after}
