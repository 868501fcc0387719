"""Table stream → event bus: every new timeline event goes out with its full payload.

Records arrive in order per item collection. Powertools' batch processor reads each one and
reports partial failures (ReportBatchItemFailures); this handler adds what a stream needs on
top of it (`_InOrder`): the events go out in order, in PutEvents batches of at most 10
(refused entries are retried a few times), and at the first record that cannot be forwarded
(the bus keeps refusing it, or it is not a readable event at all) the rest of the batch is left
alone. That record is the one failure reported: Lambda resumes from its sequence number, so
nothing is lost, and what was already forwarded may be forwarded again — at least once, which
consumers absorb by event id. A record that fails every retry is handed to the on-failure
destination (a dead-letter queue) by the event source mapping; the local stage's clock does the
same.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType
from aws_lambda_powertools.utilities.batch.base import FailureResponse, SuccessResponse
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import (
    DynamoDBRecord,
    DynamoDBRecordEventName,
)

from chalicelib.integrations import eventbus
from chalicelib.logs import logger

TIMELINE_TYPE = "event"  # the `type` of timeline event items in the table
REQUIRED = ("event_id", "type", "at")  # and its job, or the customer of a customer's own
# The records worth an invocation, as the event source mapping's filter (Lambda event filtering
# syntax): new timeline events. The stack sets it and the local stage's poller applies it, so
# the table's other writes invoke nothing; `timeline_event` still checks every record it gets.
RECORD_FILTER = {
    "eventName": ["INSERT"],
    "dynamodb": {"NewImage": {"type": {"S": [TIMELINE_TYPE]}}},
}


class PoisonRecord(Exception):
    """A stream record that can never become a bus event, however often it is retried."""


class BusRefused(Exception):
    """The bus kept refusing an event after every retry."""


def forward_timeline(event) -> dict[str, Any]:
    """`on_dynamodb_record` entry point (a Chalice DynamoDBEvent)."""
    return forward(event.to_dict().get("Records", []))


def forward(records: list[dict[str, Any]]) -> dict[str, Any]:
    """Forward the records' timeline events; `batchItemFailures` names where to resume."""
    processor = _InOrder()
    with processor(records, timeline_event):
        processor.process()
    return processor.response()


def timeline_event(record: DynamoDBRecord) -> eventbus.BusEvent | None:
    """The bus event a stream record carries; None for anything but a new timeline event."""
    if record.event_name != DynamoDBRecordEventName.INSERT:
        return None  # timeline events are append-only; other items' changes are not events
    stream = record.dynamodb
    if stream is None or not isinstance(stream.get("NewImage"), dict):
        raise PoisonRecord("an INSERT without a readable new image")
    try:
        item = _plain(stream.new_image)
    except (TypeError, ValueError, KeyError, AttributeError, ArithmeticError) as exc:
        raise PoisonRecord(f"the new image cannot be read: {exc}") from exc
    if item.get("type") != TIMELINE_TYPE:
        return None
    data = item.get("data")
    if not isinstance(data, dict) or any(not data.get(name) for name in REQUIRED):
        raise PoisonRecord("a timeline event without its id, type or time")
    if not (data.get("job_id") or _customer_of(data)):
        raise PoisonRecord("a timeline event of no job and no customer")
    if not item.get("tenant_id"):
        raise PoisonRecord("a timeline event without its tenant")
    detail = {**data, "tenant_id": item["tenant_id"]}
    return eventbus.BusEvent(str(data["type"]), detail, _moment(data["at"]))


def _customer_of(event: dict[str, Any]) -> Any:
    """The customer an event of no job belongs to (domain.timeline.customer_event)."""
    inner = event.get("data")
    return inner.get("customer_id") if isinstance(inner, dict) else None


class _InOrder(BatchProcessor):
    """Powertools' processor, in order and ten events to a PutEvents.

    The record handler (`timeline_event`) only reads a record's event; the events wait here and
    go to the bus ten at a time, and each record is a success once the bus took its event. After
    the first failure nothing more is read or sent: Lambda resumes the stream from the lowest
    failed sequence number, so nothing after it may reach the bus first.
    """

    def __init__(self) -> None:
        # Reported, not raised, when every record fails: the response names where to resume.
        super().__init__(EventType.DynamoDBStreams, raise_on_entire_batch_failure=False)
        self._waiting: list[tuple[DynamoDBRecord, eventbus.BusEvent]] = []

    def _process_record(self, record: dict) -> SuccessResponse | FailureResponse | None:
        if self.fail_messages:
            return None  # left for the redelivery from the failed record
        return super()._process_record(record)

    def success_handler(self, record: dict, result: Any) -> SuccessResponse:
        if result is None:  # nothing to forward
            return super().success_handler(record, result)
        self._waiting.append((DynamoDBRecord(record), result))
        if len(self._waiting) == eventbus.MAX_BATCH:
            self._send()
        return ("success", result, record)

    def failure_handler(self, record: DynamoDBRecord, exception) -> FailureResponse:
        logger.error(
            "stream record not read", extra={"sequence": _sequence(record), "why": exception[1]}
        )
        self._send()  # the events before it go out first
        if self.fail_messages:  # one of them failed: that is where Lambda resumes
            return ("fail", "not read: an earlier record failed", record)
        return super().failure_handler(record, exception)

    def _clean(self) -> None:
        self._send()
        for failed in self.fail_messages:
            logger.warning("stream batch stopped", extra={"sequence": _sequence(failed)})
        super()._clean()

    def _send(self) -> None:
        waiting, self._waiting = self._waiting, []
        if self.fail_messages or not waiting:
            return
        taken, why = _put([event for _, event in waiting])
        for record, event in waiting[:taken]:
            super().success_handler(record, event)
        if taken < len(waiting):
            error = BusRefused(f"the bus did not take the event: {why}")
            super().failure_handler(waiting[taken][0], (BusRefused, error, None))


def _put(events: list[eventbus.BusEvent]) -> tuple[int, str]:
    """How many of the events, from the first, the bus took; and why it took no more."""
    try:
        refused = eventbus.publish(events)
    except Exception as exc:  # none of them is known to be on the bus
        logger.exception("events not put on the bus")
        return 0, str(exc)
    return (refused[0].index, refused[0].code) if refused else (len(events), "")


def _sequence(record: DynamoDBRecord) -> str | None:
    return record.dynamodb.sequence_number if record.dynamodb else None


def _plain(value: Any) -> Any:
    """DynamoDB numbers come back as Decimal; JSON wants ints and floats."""
    from decimal import Decimal

    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | set | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value


def _moment(at: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(str(at).replace("Z", "+00:00"))
    except ValueError:
        return None
