"""Outbound webhooks' two queue consumers (services/deliveries.py does the work).

- `outbound_events`: the bus's rule puts every timeline event on a standard queue; each one
  nudges the lane of every subscription that wants it (a message on the FIFO queue).
- `outbound_deliveries`: each FIFO message drains one lane (or attempts one replay). A lane
  whose head must wait for a retry keeps its message in flight until then (its visibility is
  moved to the retry's moment) and reports it failed, so SQS hands it back at that moment and
  nothing later of its group overtakes it. Powertools' FIFO processor stops a group at its
  first failure (`skip_group_on_error`), other groups of the batch go on.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    SqsFifoPartialProcessor,
)
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from chalicelib.integrations import delivery_queue
from chalicelib.logs import logger
from chalicelib.services import deliveries

# The bus's rule for the fan-out's queue: every event the app publishes (those of no job's
# timeline are dropped by the fan-out).
EVENT_PATTERN = {"source": ["fieldline"]}


class RetryLater(Exception):
    """The lane's head is waiting for its retry; the message comes back then."""


def outbound_events(event) -> dict[str, Any]:
    """`on_sqs_message` entry point of the standard queue fed by the bus."""
    processor = BatchProcessor(EventType.SQS, raise_on_entire_batch_failure=False, logger=logger)
    with processor(event.to_dict().get("Records", []), _fan_out):
        processor.process()
    return processor.response()


def outbound_deliveries(event) -> dict[str, Any]:
    """`on_sqs_message` entry point of the deliveries' FIFO queue."""
    waits: dict[str | None, float] = {}  # message group → seconds until its retry
    processor = SqsFifoPartialProcessor(skip_group_on_error=True)
    processor.raise_on_entire_batch_failure = False  # a waiting lane is not an error
    with processor(event.to_dict().get("Records", []), lambda record: _deliver(record, waits)):
        processor.process()
    # SQS may hand over several messages of one group at once: the ones after a waiting
    # message wait as long (while any of them is in flight, SQS holds the whole group back).
    for record in processor.fail_messages:
        group = record.attributes.message_group_id
        if group in waits:
            delivery_queue.postpone(record.receipt_handle, waits[group])
    return processor.response()


def _fan_out(record: SQSRecord) -> int:
    return deliveries.fan_out(record.json_body["detail"])


def _deliver(record: SQSRecord, waits: dict[str | None, float]) -> str:
    message = record.json_body
    if "delivery_id" in message:
        wait = deliveries.deliver_replay(message["tenant_id"], message["delivery_id"])
    else:
        timeline = {k: message[k] for k in ("job_id", "customer_id") if message.get(k)}
        wait = deliveries.drain(message["tenant_id"], message["subscription_id"], timeline)
    if wait is None:
        return "settled"
    waits[record.attributes.message_group_id] = wait
    raise RetryLater(f"retry in {wait:.3f} s")
