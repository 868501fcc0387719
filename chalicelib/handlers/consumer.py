"""Bus → workflows: the rule's SQS queue feeds this consumer, which starts and stops executions.

Delivery is at least once (the stream handler may forward an event twice, SQS may deliver a
message twice), so each timeline event is claimed by its id with a conditional put before it
is acted on; a duplicate finds the claim and does nothing. Powertools' batch processor handles
each message on its own: a failure releases the claim and is reported (`batchItemFailures`,
even when every message failed) so SQS delivers only that message again; after the queue's
maxReceiveCount it lands in the queue's dead-letter queue.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from chalicelib.domain import clock
from chalicelib.logs import logger
from chalicelib.services import dunning, reminders
from chalicelib.store import consumed

CONSUMER = "workflows"
CLAIM_DAYS = 7  # longer than any redelivery (stream retention is 24 h)


# The detail is the whole timeline event: its ids, type, time and actor, with what happened
# in `data`, plus the tenant.
def _visit(detail: dict[str, Any]) -> str:
    visit_id = detail["data"]["visit_id"]
    return reminders.on_visit_changed(detail["tenant_id"], detail["job_id"], visit_id)


def _card_saved(detail: dict[str, Any]) -> str:
    """A customer saved a card: their plans being collected are charged again at once."""
    from chalicelib.services import plan_billing

    data = detail["data"]
    charged = plan_billing.card_saved(detail["tenant_id"], data["customer_id"], data["method_id"])
    return f"plans charged: {len(charged)}"


def _invoice(detail: dict[str, Any]) -> str:
    invoice_id = detail["data"]["invoice_id"]
    return dunning.ensure_running(detail["tenant_id"], detail["job_id"], invoice_id)


# The event types the workflow rule routes to the queue, and what each one sets going.
TRIGGERS: dict[str, Callable[[dict[str, Any]], str]] = {
    "VisitScheduled": _visit,
    "VisitRescheduled": _visit,
    "TechnicianAssigned": _visit,
    "VisitCancelled": _visit,
    "InvoiceSent": _invoice,
    "DunningResumed": _invoice,
    "PaymentMethodSaved": _card_saved,
}
EVENT_PATTERN = {"source": ["fieldline"], "detail-type": sorted(TRIGGERS)}


def workflow_events(event) -> dict[str, Any]:
    """`on_sqs_message` entry point (a Chalice SQSEvent); reports the messages to redeliver."""
    processor = BatchProcessor(EventType.SQS, raise_on_entire_batch_failure=False, logger=logger)
    with processor(event.to_dict().get("Records", []), _message):
        processor.process()
    return processor.response()


def _message(record: SQSRecord) -> str:
    return handle(record.json_body)


def handle(bus_event: dict[str, Any]) -> str:
    """Act on one EventBridge event (as the rule delivers it); returns what happened."""
    kind = bus_event.get("detail-type")
    action = TRIGGERS.get(kind)
    if action is None:
        return "ignored"
    detail = bus_event["detail"]
    tenant_id, event_id = detail["tenant_id"], detail["event_id"]
    if not _claim(tenant_id, event_id):
        return "duplicate"
    try:
        outcome = action(detail)
    except Exception:
        _release(tenant_id, event_id)
        raise
    logger.info("workflow event handled", extra={"type": kind, "outcome": outcome})
    return outcome


def _claim(tenant_id: str, event_id: str) -> bool:
    return consumed.claim(tenant_id, CONSUMER, event_id, clock.now() + timedelta(days=CLAIM_DAYS))


def _release(tenant_id: str, event_id: str) -> None:
    try:
        consumed.release(tenant_id, CONSUMER, event_id)
    except Exception:
        logger.exception("claim not released; the event will not be retried")
