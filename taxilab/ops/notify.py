"""Alarm notifications: each state change is published to the SNS topic named in alarms.json. The lab
subscribes an SQS queue (<topic>-inbox, raw message delivery) to the topic, as an e-mail or chat
subscription would be on AWS, and keeps a mailbox file: <state_dir>/alerts/mailbox.jsonl, one message a line
({"to", "subject", "date", "message"}), so a person can read what was sent without a mail server.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from pathlib import Path

from taxilab.core.settings import Settings

log = logging.getLogger(__name__)


def queue_name(decl) -> str:
    return f"{decl.sns_topic}-inbox"[:80]


def mailbox(settings: Settings) -> Path:
    return settings.state_dir / "alerts" / "mailbox.jsonl"


def ensure_topic(settings: Settings, decl) -> str:
    """The topic (create_topic is idempotent) and, on the emulated profiles, its SQS inbox subscription.
    Returns the topic ARN."""
    from taxilab.core.clients import client

    sns = client("sns", settings)
    arn = sns.create_topic(Name=decl.sns_topic)["TopicArn"]
    if settings.uses_emulator:
        url = ensure_inbox(settings, decl)
        sqs = client("sqs", settings)
        q_arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        subs = sns.list_subscriptions_by_topic(TopicArn=arn)["Subscriptions"]
        if not any(s["Endpoint"] == q_arn for s in subs):
            sns.subscribe(
                TopicArn=arn, Protocol="sqs", Endpoint=q_arn, Attributes={"RawMessageDelivery": "true"}
            )
    return arn


def ensure_inbox(settings: Settings, decl) -> str:
    from taxilab.core.clients import queue_for_service

    url, _ = queue_for_service(
        settings, queue_name(decl), "alerts-topic", "sns.amazonaws.com", f"arn:aws:sns:*:*:{decl.sns_topic}"
    )
    return url


def subject(message: dict) -> str:
    what = message.get("job") or message.get("stage") or "lab"
    month = f" {message['month']}" if message.get("month") else ""
    return f"{message['state']}: {message['alarm']} ({what}{month})"[:100]


def publish(settings: Settings, decl, topic_arn: str, message: dict) -> None:
    """Publish one state change to the topic and append it to the mailbox file."""
    from taxilab.core.clients import client

    subj = subject(message)
    client("sns", settings).publish(
        TopicArn=topic_arn, Subject=subj, Message=json.dumps(message, default=str)
    )
    p = mailbox(settings)
    p.parent.mkdir(parents=True, exist_ok=True)
    with p.open("a") as f:
        f.write(
            json.dumps(
                {
                    "to": decl.sns_topic,
                    "subject": subj,
                    "date": datetime.now(UTC).isoformat(timespec="seconds"),
                    "message": message,
                },
                default=str,
            )
            + "\n"
        )


def read_mailbox(settings: Settings) -> list[dict]:
    p = mailbox(settings)
    return [json.loads(ln) for ln in p.read_text().splitlines() if ln.strip()] if p.exists() else []


def receive(settings: Settings, decl, wait_s: int = 1, max_messages: int = 100) -> list[dict]:
    """Drain the inbox queue (deleting what it reads): the messages the topic delivered, decoded."""
    from taxilab.core.clients import client

    sqs = client("sqs", settings)
    url = sqs.get_queue_url(QueueName=queue_name(decl))["QueueUrl"]
    out: list[dict] = []
    while len(out) < max_messages:
        msgs = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=wait_s).get(
            "Messages", []
        )
        if not msgs:
            break
        for m in msgs:
            out.append(json.loads(m["Body"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    return out
