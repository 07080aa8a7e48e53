"""Least privilege proven against the emulator, not asserted.

A separate moto server (tests/deploy/iam_moto.py: the lab's moto + Glue resource-level authorization)
is set up by a bootstrap admin while IAM is not enforced: the lake bucket, the zone databases (and
another database and bucket that are not the lab's), the Glue job role and the Redshift role with the
policies of deploy_aws/policies/*.json, rendered with the values Terraform gives templatefile(). Then
enforcement is switched on (moto's reset-auth to 0 unauthenticated requests) and a real month (the
genuine 50k-row TLC sample of Feb 2024) goes through the etl and aggregates stages (the lab's real job
scripts in a local Spark, S3A) and the crawl stage (the lab's real crawler) with credentials bound to the
Glue job policy. Every call succeeds. Writes outside the lake's zone prefixes (from boto3 and from the
jobs' own Spark session), a bucket deletion and catalog calls on another database are denied, for an IAM
user holding the policy and for credentials of the assumed Glue role itself.

moto evaluates Allow/Deny by action and resource ARN; it ignores Condition blocks (an Allow with a
condition counts as unconditional), so the s3:prefix limit on ListBucket and the cloudwatch:namespace
limit are not proven here; they are checked by parliament and by reading (tests/deploy).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time

import boto3
import pytest
import requests
from botocore.config import Config
from botocore.exceptions import ClientError

from spark_jobs.io import paths
from taxilab.core.settings import PROJECT_ROOT, Settings
from tests.deploy import tf

pytestmark = pytest.mark.integration

SAMPLE = PROJECT_ROOT.parent / "shared" / "data" / "samples" / "yellow_tripdata_2024-02_sample50k.parquet"
ZONE_LOOKUP = PROJECT_ROOT.parent / "shared" / "data" / "taxi_zone_lookup.csv"
MONTH = "2024-02"
ACCOUNT = "123456789012"  # moto's account
OTHER_DB, OTHER_BUCKET = "finance_private", "someone-elses-bucket"
BOTO = Config(retries={"max_attempts": 1}, s3={"addressing_style": "path"})


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Lab:
    def __init__(self, url: str, settings: Settings):
        self.url, self.settings = url, settings

    def client(self, service: str, creds: dict):
        return boto3.client(
            service, endpoint_url=self.url, region_name=self.settings.region, config=BOTO, **creds
        )


ADMIN = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}


def keys(iam, user: str, policy: dict | None) -> dict:
    iam.create_user(UserName=user)
    if policy is not None:
        iam.put_user_policy(UserName=user, PolicyName=f"{user}-policy", PolicyDocument=json.dumps(policy))
    k = iam.create_access_key(UserName=user)["AccessKey"]
    return {"aws_access_key_id": k["AccessKeyId"], "aws_secret_access_key": k["SecretAccessKey"]}


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    assert SAMPLE.exists() and ZONE_LOOKUP.exists(), (
        f"the shared TLC sample and zone lookup are needed: {SAMPLE}"
    )
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = open(tmp_path_factory.mktemp("moto") / "moto.log", "w")  # noqa: SIM115 - closed below
    # IAM not enforced while the admin sets up; enforced (reset-auth 0) once the setup is done.
    env = {**os.environ, "INITIAL_NO_AUTH_ACTION_COUNT": "inf", "MOTO_PORT": str(port)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.deploy.iam_moto", "-H", "127.0.0.1", "-p", str(port)],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if requests.get(f"{url}/moto-api/", timeout=2).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            assert proc.poll() is None and time.monotonic() < deadline, (
                "the IAM-enforcing moto server did not start"
            )
            time.sleep(0.3)
        settings = Settings(profile="local", state_dir=tmp_path_factory.mktemp("state"))
        lab = Lab(url, settings)
        bootstrap(lab)
        r = requests.post(f"{url}/moto-api/reset-auth", data=b"0", timeout=10)
        assert r.status_code == 200, r.text
        yield lab
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def bootstrap(lab: Lab) -> None:
    s = lab.settings
    s3, glue, iam, sts = (lab.client(x, ADMIN) for x in ("s3", "glue", "iam", "sts"))
    for bucket in (s.bucket, OTHER_BUCKET):
        s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=OTHER_BUCKET, Key="payroll.csv", Body=b"who,amount\n")
    # What the lab's ingest (the operator, not Glue) lands: the month's raw file and manifest, the zone lookup.
    raw_key = paths.raw_month_prefix(s.dataset, MONTH) + paths.raw_file_name(MONTH)
    s3.upload_file(str(SAMPLE), s.bucket, raw_key)
    s3.put_object(
        Bucket=s.bucket, Key=paths.manifest_key(s.dataset, MONTH), Body=json.dumps({"month": MONTH}).encode()
    )
    s3.upload_file(str(ZONE_LOOKUP), s.bucket, paths.zone_lookup_key())
    s3.put_object(Bucket=s.bucket, Key="scripts/spark_jobs/jobs/etl.py", Body=b"# the deployed job script\n")
    # What Terraform creates: the zone databases (modules/catalog); another team's database beside them.
    for db in [*s.catalog_databases.values(), OTHER_DB]:
        glue.create_database(DatabaseInput={"Name": db})
    glue.create_table(
        DatabaseName=OTHER_DB,
        TableInput={"Name": "salaries", "StorageDescriptor": {"Columns": [{"Name": "x", "Type": "int"}]}},
    )
    # The roles with the very documents Terraform attaches (modules/iam), rendered the same way.
    values = tf.sample_policy_vars(s, ACCOUNT)
    for actor, files in tf.ROLE_POLICIES.items():
        iam.create_role(
            RoleName=f"taxilab-{actor}",
            AssumeRolePolicyDocument=json.dumps(tf.render_policy(files["trust"], **values)),
        )
        iam.put_role_policy(
            RoleName=f"taxilab-{actor}",
            PolicyName=f"taxilab-{actor}",
            PolicyDocument=json.dumps(tf.render_policy(files["policy"], **values)),
        )
    lab.glue_user = keys(
        iam, "glue-job-standin", tf.render_policy(tf.ROLE_POLICIES["glue"]["policy"], **values)
    )
    lab.redshift_user = keys(
        iam, "redshift-standin", tf.render_policy(tf.ROLE_POLICIES["redshift"]["policy"], **values)
    )
    lab.admin = keys(
        iam,
        "bootstrap-admin",
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]},
    )
    lab.nobody = keys(iam, "nobody", None)
    c = sts.assume_role(RoleArn=f"arn:aws:iam::{ACCOUNT}:role/taxilab-glue", RoleSessionName="glue-job-run")[
        "Credentials"
    ]
    lab.glue_role = {
        "aws_access_key_id": c["AccessKeyId"],
        "aws_secret_access_key": c["SecretAccessKey"],
        "aws_session_token": c["SessionToken"],
    }
    lab.raw_key = raw_key


def denied(call, *args, **kwargs) -> str:
    with pytest.raises(ClientError) as e:
        call(*args, **kwargs)
    code = e.value.response["Error"]["Code"]
    if code == "403" and "<Code>AccessDenied</Code>" in str(e.value):
        code = "AccessDenied"  # moto answers a denied JSON-protocol call (Glue) with its XML error body
    assert code in ("AccessDenied", "AccessDeniedException"), f"expected a denial, got {code}: {e.value}"
    return code


def glue_settings(lab: Lab) -> Settings:
    """The lab's settings pointed at this server with the Glue job policy's keys: the lab's own clients use them."""
    return lab.settings.model_copy(
        update={
            "endpoints": {"s3": lab.url, "glue": lab.url},
            "emulator_access_key": lab.glue_user["aws_access_key_id"],
            "emulator_secret_key": lab.glue_user["aws_secret_access_key"],
        }
    )


# ---- IAM is really enforced ------------------------------------------------------------------------------
def test_the_emulator_enforces_iam(lab):
    s = lab.settings
    denied(lab.client("s3", lab.nobody).list_objects_v2, Bucket=s.bucket)
    denied(lab.client("glue", lab.nobody).get_databases)
    with pytest.raises(ClientError) as e:
        lab.client(
            "s3", {"aws_access_key_id": "AKIAFORGED0000000000", "aws_secret_access_key": "x"}
        ).list_objects_v2(Bucket=s.bucket)
    assert e.value.response["Error"]["Code"] == "InvalidAccessKeyId"
    admin_glue = lab.client(
        "glue", lab.admin
    )  # the same calls pass with a broad policy: denials below are the policy's
    assert [t["Name"] for t in admin_glue.get_tables(DatabaseName=OTHER_DB)["TableList"]] == ["salaries"]
    assert lab.client("s3", lab.admin).get_object(Bucket=OTHER_BUCKET, Key="payroll.csv")["Body"].read()


# ---- a real month through etl, aggregates and crawl with the Glue job policy ------------------------------
def test_etl_aggregates_and_crawl_of_a_real_month_succeed_with_the_glue_job_policy(lab):
    settings = glue_settings(lab)
    s, b = settings, settings.bucket
    # Glue fetches the job script as the job role
    lab.client("s3", lab.glue_user).get_object(Bucket=b, Key="scripts/spark_jobs/jobs/etl.py")

    # etl and aggregates: the lab's real job scripts in a local Spark (S3A) with the Glue job policy's keys
    spark = s.spark.model_copy(update={"driver_memory": "1g", "shuffle_partitions": 2})
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "tests.deploy.spark_stages",
            s.model_copy(update={"spark": spark}).model_dump_json(),
            MONTH,
        ],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    line = next((x for x in r.stdout.splitlines() if x.startswith("SPARK_STAGES ")), None)
    assert r.returncode == 0 and line, (
        f"the Spark jobs failed with the Glue job policy:\n{r.stdout[-2000:]}\n{r.stderr[-6000:]}"
    )
    stages = json.loads(line.removeprefix("SPARK_STAGES "))
    etl, agg = stages["etl"], stages["aggregates"]
    assert etl["rows_in"] == 50_000 and etl["rows_out"] + etl["quarantined"] == 50_000
    assert agg["rows_in"] == etl["rows_out"] and agg["tables"]
    assert stages["write_outside_zones"] == "denied", stages["write_outside_zones"]

    # what they wrote is where the lab reads it (listed by the admin)
    admin_s3 = lab.client("s3", lab.admin)
    for prefix in (paths.staging_prefix(s.dataset), paths.quarantine_prefix(s.dataset), "curated/"):
        keys = [o["Key"] for o in admin_s3.list_objects_v2(Bucket=b, Prefix=prefix).get("Contents", [])]
        assert any(k.endswith(".parquet") for k in keys), f"nothing written under {prefix}"
    assert "Contents" not in admin_s3.list_objects_v2(Bucket=b, Prefix="exports/")

    # crawl: the lab's real crawler, through its own clients, with the Glue job policy's keys
    from emulation.glue.crawler import crawl

    results = crawl(settings)
    assert {r.action for r in results} <= {"created", "updated", "unchanged"}, [
        (r.table, r.error) for r in results
    ]
    admin_glue = lab.client("glue", lab.admin)
    for zone, db in s.catalog_databases.items():
        assert admin_glue.get_tables(DatabaseName=db)["TableList"], f"{zone}: no table registered in {db}"
    staging = s.catalog_databases["staging"]
    parts = admin_glue.get_partitions(DatabaseName=staging, TableName=s.dataset)["Partitions"]
    assert parts
    print(
        f"\nallowed with the Glue job policy: etl {etl['rows_in']} rows in, {etl['rows_out']} staged, "
        f"{etl['quarantined']} quarantined ({etl['seconds']:.0f} s); aggregates {sorted(agg['tables'])}; "
        f"crawl {len(results)} tables, {len(parts)} staging partitions; Spark write to exports/: denied"
    )


# ---- what the Glue job policy must not do -----------------------------------------------------------------
@pytest.fixture(params=["policy-user", "assumed-role"])
def glue_creds(request, lab):
    return lab.glue_user if request.param == "policy-user" else lab.glue_role


def test_glue_job_credentials_are_denied_outside_the_lake_zones(lab, glue_creds):
    s = lab.settings
    s3, glue = lab.client("s3", glue_creds), lab.client("glue", glue_creds)
    # allowed first, so the denials below are not a broken credential
    s3.get_object(Bucket=s.bucket, Key=lab.raw_key)
    s3.put_object(Bucket=s.bucket, Key="staging/nyc_taxi/_probe", Body=b"ok")
    glue.get_database(Name=s.catalog_databases["curated"])
    glue.get_tables(DatabaseName=s.catalog_databases["raw"])
    denials = [
        denied(s3.put_object, Bucket=s.bucket, Key="exports/trips.parquet", Body=b"x"),  # outside the zones
        denied(s3.put_object, Bucket=s.bucket, Key="trips.parquet", Body=b"x"),  # bucket root
        denied(s3.put_object, Bucket=s.bucket, Key=lab.raw_key, Body=b"x"),  # raw is read-only
        denied(
            s3.put_object, Bucket=s.bucket, Key="scripts/spark_jobs/jobs/etl.py", Body=b"x"
        ),  # deployer-only
        denied(s3.delete_object, Bucket=s.bucket, Key=lab.raw_key),
        denied(s3.delete_bucket, Bucket=s.bucket),  # a bucket deletion
        denied(s3.get_object, Bucket=OTHER_BUCKET, Key="payroll.csv"),
        denied(glue.get_tables, DatabaseName=OTHER_DB),  # another database
        denied(glue.get_table, DatabaseName=OTHER_DB, Name="salaries"),
        denied(glue.get_database, Name=OTHER_DB),
        denied(glue.create_table, DatabaseName=OTHER_DB, TableInput={"Name": "t"}),
        denied(glue.create_database, DatabaseInput={"Name": "taxilab_scratch"}),  # databases: Terraform's
        denied(glue.delete_database, Name=s.catalog_databases["raw"]),
    ]
    print(f"\ndenied: {len(denials)} calls ({', '.join(sorted(set(denials)))})")


def test_redshift_role_reads_the_lake_unloads_to_curated_and_writes_nothing_else(lab):
    s = lab.settings
    s3, glue = lab.client("s3", lab.redshift_user), lab.client("glue", lab.redshift_user)
    s3.get_object(Bucket=s.bucket, Key=lab.raw_key)  # COPY / Spectrum read
    s3.put_object(Bucket=s.bucket, Key="curated/unload/part-0000.parquet", Body=b"x")  # UNLOAD
    glue.get_tables(DatabaseName=s.catalog_databases["staging"])  # Spectrum's catalog read
    denied(s3.put_object, Bucket=s.bucket, Key="staging/nyc_taxi/x.parquet", Body=b"x")
    denied(s3.delete_object, Bucket=s.bucket, Key=lab.raw_key)
    denied(glue.create_table, DatabaseName=s.catalog_databases["staging"], TableInput={"Name": "t"})
    denied(glue.get_tables, DatabaseName=OTHER_DB)
