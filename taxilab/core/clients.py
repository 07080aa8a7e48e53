"""boto3 clients built from settings: the one place endpoints and credentials meet boto3.
Why: docs/adr/0012-layout-and-layers.md.
"""

from __future__ import annotations

import json
import threading

import boto3
from botocore.config import Config

from taxilab.core.settings import Settings

# Standard retry mode: exponential backoff with jitter on throttling and 5xx, as AWS recommends.
_BOTO_CONFIG = Config(
    retries={"max_attempts": 8, "mode": "standard"},
    connect_timeout=10,
    read_timeout=120,
    s3={"addressing_style": "path"},
)


# boto3's default session is not thread-safe while it creates clients (validate builds them on worker
# threads); a created client is, so only creation is serialised.
_CREATE_LOCK = threading.Lock()


class AwsProfileError(RuntimeError):
    pass


def client(service: str, settings: Settings):
    kwargs = {"region_name": settings.region, "config": _BOTO_CONFIG}
    endpoint = settings.endpoint(service)
    if endpoint:
        kwargs["endpoint_url"] = endpoint
    if settings.uses_emulator:
        kwargs["aws_access_key_id"] = settings.emulator_access_key
        kwargs["aws_secret_access_key"] = settings.emulator_secret_key
    elif boto3.Session().get_credentials() is None:
        raise AwsProfileError(
            "profile 'aws' is selected but no AWS credentials were found: configure the AWS credential "
            "chain (aws configure / AWS_PROFILE / an instance role) or use TAXILAB_PROFILE=local"
        )
    with _CREATE_LOCK:
        return boto3.client(service, **kwargs)


def arrow_s3_filesystem(settings: Settings):
    """A pyarrow S3FileSystem for the lake (used by the warehouse loader and reconciliation)."""
    from pyarrow import fs

    endpoint = settings.endpoint("s3")
    kwargs = {"region": settings.region}
    if endpoint:
        scheme, _, host = endpoint.partition("://")
        kwargs.update(endpoint_override=host, scheme=scheme)
    if settings.uses_emulator:
        kwargs.update(access_key=settings.emulator_access_key, secret_key=settings.emulator_secret_key)
    kwargs["retry_strategy"] = fs.AwsStandardS3RetryStrategy(max_attempts=8)
    return fs.S3FileSystem(**kwargs)


def queue_for_service(
    settings: Settings, name: str, sid: str, service: str, source_arn: str, attributes: dict | None = None
) -> tuple[str, str]:
    """(URL, ARN) of SQS queue `name`, created if missing, with a policy letting AWS `service` (e.g.
    "sns.amazonaws.com") send to it from `source_arn` (an ArnLike pattern) only."""
    sqs = client("sqs", settings)
    url = sqs.create_queue(QueueName=name, **({"Attributes": attributes} if attributes else {}))["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": sid,
                "Effect": "Allow",
                "Principal": {"Service": service},
                "Action": "sqs:SendMessage",
                "Resource": arn,
                "Condition": {"ArnLike": {"aws:SourceArn": source_arn}},
            }
        ],
    }
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps(policy)})
    return url, arn
