"""The workflow consumer behind the bus's queue: idempotent on the event id, retried on failure."""

from __future__ import annotations

import json
from pathlib import Path

from chalicelib.domain.ids import new_id

EVENTS = Path(__file__).resolve().parents[2] / "events" / "eventbridge"


def _sqs_event(*bodies: dict) -> dict:
    """What SQS hands the consumer's Lambda."""
    return {
        "Records": [
            {
                "messageId": f"m-{n}",
                "receiptHandle": f"r-{n}",
                "body": json.dumps(body),
                "attributes": {},
                "messageAttributes": {},
                "md5OfBody": "",
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:workflow-events",
                "awsRegion": "us-east-1",
            }
            for n, body in enumerate(bodies)
        ]
    }


def _visit_scheduled() -> dict:
    sample = json.loads((EVENTS / "visit-scheduled.json").read_text())
    sample["detail"]["event_id"] = new_id()
    sample["detail"]["tenant_id"] = f"consumer-{new_id()}"
    return sample


def test_a_failed_event_is_handed_back_and_handled_when_redelivered(stage, monkeypatch):
    import app
    from chalicelib.handlers import consumer

    calls = []

    def flaky(detail):
        calls.append(detail["event_id"])
        if len(calls) == 1:
            raise ConnectionError("Step Functions unreachable")
        return "started"

    monkeypatch.setitem(consumer.TRIGGERS, "VisitScheduled", flaky)
    bus_event = _visit_scheduled()
    # When the first delivery fails
    first = app.workflow_events(_sqs_event(bus_event), None)
    # Then SQS is told to deliver that message again, and its claim is released
    assert first == {"batchItemFailures": [{"itemIdentifier": "m-0"}]}
    # And the redelivery is handled, once
    assert app.workflow_events(_sqs_event(bus_event), None) == {"batchItemFailures": []}
    assert app.workflow_events(_sqs_event(bus_event), None) == {"batchItemFailures": []}
    assert len(calls) == 2


def test_events_no_workflow_cares_about_are_acknowledged(stage):
    from chalicelib.handlers import consumer

    noted = {"source": "fieldline", "detail-type": "NoteAdded", "detail": {"event_id": "x"}}
    assert consumer.handle(noted) == "ignored"
    assert "NoteAdded" not in consumer.EVENT_PATTERN["detail-type"]
    assert set(consumer.EVENT_PATTERN["detail-type"]) == {
        "DunningResumed",
        "InvoiceSent",
        "PaymentMethodSaved",  # service plans charge a new card at once
        "TechnicianAssigned",
        "VisitCancelled",
        "VisitRescheduled",
        "VisitScheduled",
    }
