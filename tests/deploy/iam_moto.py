"""The moto server for the least-privilege test: `python -m tests.deploy.iam_moto -H 127.0.0.1 -p PORT`.

It is the lab's moto server (emulation.moto_server: moto + the lab's S3 listing fix) plus one fidelity fix
that IAM enforcement needs: moto authorizes Glue calls at action level only (every Glue request is checked
against Resource "*"), so a policy naming database ARNs would deny everything and a policy naming "*"
would allow every database. AWS authorizes a Glue Data Catalog call against the ARNs of the catalog, the
database and the table it touches (Glue developer guide, "Specifying AWS Glue resource ARNs"); this
module computes those ARNs from the request and has moto check each one, so a grant on taxilab_raw does
not reach another database. Non-catalog Glue actions keep moto's own check. S3: moto authorizes requests
on the bucket and object ARNs already; the one fix is HeadBucket, which moto checks as "s3:HeadBucket",
an action IAM does not have (AWS authorizes HeadBucket with s3:ListBucket). And moto's SigV4
recomputation does not match requests of the AWS SDK for Java v1 (Hadoop S3A, the Spark jobs): for those
only the signature comparison is skipped, authorization is not. moto ignores policy
conditions (an Allow with a Condition is treated as unconditional): the test says so where it matters.
"""

from __future__ import annotations

import json
import sys

DATABASE_ACTIONS = {"GetDatabase", "CreateDatabase", "UpdateDatabase", "DeleteDatabase"}
CATALOG_ONLY_ACTIONS = {"GetDatabases", "SearchTables"}
TABLE_ACTIONS = {
    "GetTable",
    "GetTables",
    "CreateTable",
    "UpdateTable",
    "DeleteTable",
    "BatchDeleteTable",
    "GetTableVersion",
    "GetTableVersions",
    "DeleteTableVersion",
    "BatchDeleteTableVersion",
    "GetPartition",
    "GetPartitions",
    "BatchGetPartition",
    "CreatePartition",
    "BatchCreatePartition",
    "UpdatePartition",
    "BatchUpdatePartition",
    "DeletePartition",
    "BatchDeletePartition",
}


def catalog_resources(action: str, body: dict, region: str, account: str) -> list[str]:
    """The ARNs AWS authorizes a Glue Data Catalog call against; ["*"] for other Glue actions."""
    base = f"arn:aws:glue:{region}:{body.get('CatalogId') or account}"
    if action in CATALOG_ONLY_ACTIONS:
        return [f"{base}:catalog"]
    if action in DATABASE_ACTIONS:
        db = body.get("Name") or (body.get("DatabaseInput") or {}).get("Name")
        return [f"{base}:catalog", f"{base}:database/{db}"]
    if action in TABLE_ACTIONS:
        db = body.get("DatabaseName")
        if action == "GetTables":
            table = "*"
        elif action in ("GetTable", "DeleteTable"):
            table = body.get("Name")
        else:
            table = body.get("TableName") or (body.get("TableInput") or {}).get("Name")
        if action == "BatchDeleteTable":
            return [f"{base}:catalog", f"{base}:database/{db}"] + [
                f"{base}:table/{db}/{t}" for t in body.get("TablesToDelete", [])
            ]
        return [f"{base}:catalog", f"{base}:database/{db}", f"{base}:table/{db}/{table}"]
    return ["*"]


def patch_glue_authorization() -> None:
    from moto.core.responses import BaseResponse
    from moto.glue.responses import GlueResponse

    if getattr(GlueResponse, "_taxilab_resource_authz", False):
        return
    check = BaseResponse._authenticate_and_authorize_normal_action

    def _authenticate_and_authorize_normal_action(self, resource: str = "*") -> None:
        try:
            body = json.loads(self.body or "{}")
        except ValueError:
            body = {}
        for arn in catalog_resources(self._get_action(), body, self.region, self.current_account):
            check(self, arn)

    GlueResponse._authenticate_and_authorize_normal_action = _authenticate_and_authorize_normal_action
    GlueResponse._taxilab_resource_authz = True


def patch_head_bucket_action() -> None:
    from moto.s3 import responses

    responses.ACTION_MAP["BUCKET"]["HEAD"]["DEFAULT"] = "ListBucket"


def patch_java_sdk_signatures() -> None:
    """moto recomputes each request's SigV4 signature with botocore and compares; for the AWS SDK for Java v1
    (Hadoop S3A, which the Spark jobs use) the recomputation does not match and every request fails 403.
    The access key is still resolved (an unknown key fails InvalidAccessKeyId) and every call is still
    authorized against the key's policies; only the signature comparison is skipped, for Java SDK requests
    alone (boto3 requests keep it)."""
    from moto.iam.access_control import IAMRequestBase

    original = IAMRequestBase.check_signature
    if getattr(original, "_taxilab_patched", False):
        return

    def check_signature(self) -> None:
        agent = next((v for k, v in self._headers.items() if k.lower() == "user-agent"), "")
        if "aws-sdk-java/" not in agent:  # S3A: "Hadoop 3.3.4, aws-sdk-java/1.12.262 ..."
            original(self)

    check_signature._taxilab_patched = True
    IAMRequestBase.check_signature = check_signature


def main(argv: list[str] | None = None) -> None:
    from emulation.moto_server import patch_moto

    patch_moto()
    patch_glue_authorization()
    patch_head_bucket_action()
    patch_java_sdk_signatures()
    from moto.server import main as moto_main

    moto_main(argv if argv is not None else sys.argv[1:])


if __name__ == "__main__":
    main()
