"""The deliveries' FIFO queue: one message group per subscription and job, so that job's
events reach that receiver one after another, and a receiver being retried holds back only
its own lane (EventBridge can only give an SQS FIFO target one fixed MessageGroupId, which is
why the fan-out, not the bus's rule, puts messages here).

A message that must wait for a retry stays in flight: its visibility timeout is moved to the
retry's moment (at most SQS's 12 hours; the schedule's longest gap is an hour), and while it
is in flight SQS hands out nothing else of its group.
"""

from __future__ import annotations

import json
import math
from functools import cache

from chalicelib.config import get_settings
from chalicelib.domain.outbound import lane_id
from chalicelib.integrations.aws import client

MAX_VISIBILITY = 12 * 3600  # SQS's limit for ChangeMessageVisibility


@cache
def queue_url() -> str:
    return client("sqs").get_queue_url(QueueName=get_settings().deliveries_queue_name)["QueueUrl"]


def nudge_lane(
    tenant_id: str, subscription_id: str, timeline: dict[str, str], event_id: str
) -> None:
    """Ask for the lane of (subscription, timeline: a job's, or a customer's own) to be sent up
    to date; an event the bus repeats within SQS's 5-minute deduplication window is put once."""
    message = {"tenant_id": tenant_id, "subscription_id": subscription_id, **timeline}
    group = f"{tenant_id}.{subscription_id}.{lane_id(timeline)}"
    _send(message, group, f"{subscription_id}.{event_id}")


def replay(tenant_id: str, delivery_id: str) -> None:
    """A replayed delivery goes in a group of its own: it waits for no lane."""
    message = {"tenant_id": tenant_id, "delivery_id": delivery_id}
    _send(message, f"{tenant_id}.replay.{delivery_id}", delivery_id)


def postpone(receipt_handle: str, seconds: float) -> None:
    """The message comes back after `seconds` (rounded up to SQS's whole seconds)."""
    timeout = min(max(math.ceil(seconds), 0), MAX_VISIBILITY)
    client("sqs").change_message_visibility(
        QueueUrl=queue_url(), ReceiptHandle=receipt_handle, VisibilityTimeout=timeout
    )


def _send(message: dict, group: str, deduplication: str) -> None:
    client("sqs").send_message(
        QueueUrl=queue_url(),
        MessageBody=json.dumps(message),
        MessageGroupId=group,
        MessageDeduplicationId=deduplication,
    )
