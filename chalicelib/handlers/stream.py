"""Table stream → event bus: every new timeline event goes out with its full payload.

Records arrive in order per item collection. They are forwarded in order, in PutEvents
batches of at most 10; refused entries are retried a few times. At the first record that
cannot be forwarded (the bus keeps refusing it, or it is not a readable event at all) the
handler stops and reports that record's sequence number as a batch item failure: Lambda
(ReportBatchItemFailures) redelivers from there, so nothing is lost, and what was already
forwarded may be forwarded again — at least once, which consumers absorb by event id. A
record that fails every retry is handed to the on-failure destination (a dead-letter queue)
by the event source mapping; the local stage's clock does the same.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from chalicelib.integrations import eventbus
from chalicelib.logs import logger

TIMELINE_TYPE = "event"  # the `type` of timeline event items in the table
REQUIRED = ("event_id", "job_id", "type", "at")
# The records worth an invocation, as the event source mapping's filter (Lambda event filtering
# syntax): new timeline events. The stack sets it and the local stage's poller applies it, so
# the table's other writes invoke nothing; `timeline_event` still checks every record it gets.
RECORD_FILTER = {
    "eventName": ["INSERT"],
    "dynamodb": {"NewImage": {"type": {"S": [TIMELINE_TYPE]}}},
}


class PoisonRecord(Exception):
    """A stream record that can never become a bus event, however often it is retried."""


@dataclass(frozen=True)
class _Pending:
    sequence_number: str
    event: eventbus.BusEvent


def forward_timeline(event) -> dict[str, Any]:
    """`on_dynamodb_record` entry point (a Chalice DynamoDBEvent)."""
    return forward(event.to_dict().get("Records", []))


def forward(records: list[dict[str, Any]]) -> dict[str, Any]:
    """Forward the records' timeline events; `batchItemFailures` names where to resume."""
    pending: list[_Pending] = []
    for record in records:
        sequence_number = record.get("dynamodb", {}).get("SequenceNumber", "")
        try:
            bus_event = timeline_event(record)
        except PoisonRecord as exc:
            logger.error("unreadable stream record", extra={"sequence": sequence_number})
            failed = _flush(pending)
            return _resume_at(failed or sequence_number, str(exc))
        if bus_event is None:
            continue
        pending.append(_Pending(sequence_number, bus_event))
        if len(pending) == eventbus.MAX_BATCH:
            failed = _flush(pending)
            if failed:
                return _resume_at(failed, "the bus refused an event")
            pending = []
    failed = _flush(pending)
    if failed:
        return _resume_at(failed, "the bus refused an event")
    return {"batchItemFailures": []}


def timeline_event(record: dict[str, Any]) -> eventbus.BusEvent | None:
    """The bus event a stream record carries; None for anything but a new timeline event."""
    if record.get("eventName") != "INSERT":
        return None  # timeline events are append-only; other items' changes are not events
    image = record.get("dynamodb", {}).get("NewImage")
    if not isinstance(image, dict):
        raise PoisonRecord("an INSERT without a readable new image")
    try:
        item = _deserialize(image)
    except (TypeError, ValueError, KeyError, AttributeError) as exc:
        raise PoisonRecord(f"the new image cannot be read: {exc}") from exc
    if item.get("type") != TIMELINE_TYPE:
        return None
    data = item.get("data")
    if not isinstance(data, dict) or any(not data.get(name) for name in REQUIRED):
        raise PoisonRecord("a timeline event without its id, job, type or time")
    if not item.get("tenant_id"):
        raise PoisonRecord("a timeline event without its tenant")
    detail = {**data, "tenant_id": item["tenant_id"]}
    return eventbus.BusEvent(str(data["type"]), detail, _moment(data["at"]))


def _flush(pending: list[_Pending]) -> str | None:
    """Put the pending events; the sequence number of the first one that failed, if any."""
    if not pending:
        return None
    refused = eventbus.publish([p.event for p in pending])
    if not refused:
        return None
    return pending[refused[0].index].sequence_number


def _resume_at(sequence_number: str, why: str) -> dict[str, Any]:
    logger.warning("stream batch stopped", extra={"sequence": sequence_number, "reason": why})
    return {"batchItemFailures": [{"itemIdentifier": sequence_number}]}


def _deserialize(image: dict[str, Any]) -> dict[str, Any]:
    from boto3.dynamodb.types import TypeDeserializer

    deserializer = TypeDeserializer()
    return _plain({name: deserializer.deserialize(value) for name, value in image.items()})


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
