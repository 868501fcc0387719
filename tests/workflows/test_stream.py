"""Timeline → bus: the stream handler, its retries, and the clock's event source emulation."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import boto3
import pytest

from chalicelib.domain.ids import new_id
from chalicelib.integrations import eventbus
from localstage import clock as stage_clock

EVENTS = Path(__file__).resolve().parents[2] / "events" / "dynamodb"
TENANT = f"stream-{new_id()}"


def _sample(name: str) -> dict:
    return json.loads((EVENTS / f"{name}.json").read_text())["Records"][0]


def _record(n: int, event_type: str = "NoteAdded") -> dict:
    """A stream record of a new timeline event of the test's tenant."""
    record = copy.deepcopy(_sample("timeline-event-insert"))
    image = record["dynamodb"]["NewImage"]
    image["tenant_id"] = {"S": TENANT}
    image["data"]["M"]["event_id"] = {"S": f"evt-{n:03d}"}
    image["data"]["M"]["type"] = {"S": event_type}
    image["SK"] = record["dynamodb"]["Keys"]["SK"] = {"S": f"EVT#2025-03-10T12:30:00.000Z#{n:03d}"}
    record["dynamodb"]["SequenceNumber"] = f"{1000 + n}"
    return record


def _poison(n: int) -> dict:
    record = copy.deepcopy(_sample("poison-record"))
    record["dynamodb"]["SequenceNumber"] = f"{1000 + n}"
    return record


class BusSpy:
    """The real bus client, watched: it counts calls and can refuse chosen events."""

    def __init__(self, real, refuse: dict[str, int] | None = None):
        self.real, self.refuse, self.calls = real, dict(refuse or {}), []

    def put_events(self, Entries):  # noqa: N803 (boto3's parameter name)
        ids = [json.loads(e["Detail"])["event_id"] for e in Entries]
        self.calls.append(ids)
        results, accepted = [], []
        for entry, event_id in zip(Entries, ids, strict=True):
            if self.refuse.get(event_id, 0) > 0:
                self.refuse[event_id] -= 1
                results.append({"ErrorCode": "ThrottlingException", "ErrorMessage": "slow down"})
            else:
                results.append(None)
                accepted.append(entry)
        if accepted:
            put = iter(self.real.put_events(Entries=accepted)["Entries"])
            results = [r if r is not None else next(put) for r in results]
        failed = sum(1 for r in results if r.get("ErrorCode"))
        return {"FailedEntryCount": failed, "Entries": results}


@pytest.fixture(scope="module")
def bus(stage):
    """A queue that receives every bus event of this module's tenant."""
    events = boto3.client("events", endpoint_url=stage.endpoint, region_name="us-east-1")
    url = stage.sqs.create_queue(QueueName="fieldline-test-stream-capture")["QueueUrl"]
    arn = stage.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
    pattern = {"source": ["fieldline"], "detail": {"tenant_id": [TENANT]}}
    bus_name = stage.env["FIELDLINE_EVENT_BUS"]
    events.put_rule(Name="stream-capture", EventBusName=bus_name, EventPattern=json.dumps(pattern))
    events.put_targets(
        Rule="stream-capture",
        EventBusName=bus_name,
        Targets=[{"Id": "capture", "Arn": arn["Attributes"]["QueueArn"]}],
    )
    return Capture(stage.sqs, url)


class Capture:
    def __init__(self, sqs, url):
        self.sqs, self.url = sqs, url

    def drain(self) -> list[dict]:
        found = []
        while messages := self.sqs.receive_message(QueueUrl=self.url, MaxNumberOfMessages=10).get(
            "Messages", []
        ):
            for message in messages:
                found.append(json.loads(message["Body"]))
                self.sqs.delete_message(QueueUrl=self.url, ReceiptHandle=message["ReceiptHandle"])
        return found


@pytest.fixture
def spy(monkeypatch, stage):
    from chalicelib.integrations import aws

    spied = BusSpy(aws.client("events"))
    monkeypatch.setattr(eventbus, "client", lambda service: spied)
    monkeypatch.setattr(eventbus, "pause", lambda seconds: None)
    return spied


def test_a_busy_timeline_reaches_the_bus_whole_in_batches_of_ten(bus, spy):
    from chalicelib.handlers.stream import forward

    # Given 23 new timeline events on the stream
    records = [_record(n) for n in range(23)]
    # When the stream handler gets them
    result = forward(records)
    # Then they went out in calls of at most ten, in order, and each arrived once, whole
    assert result == {"batchItemFailures": []}
    assert [len(call) for call in spy.calls] == [10, 10, 3]
    arrived = bus.drain()
    assert sorted(e["detail"]["event_id"] for e in arrived) == [f"evt-{n:03d}" for n in range(23)]
    first = next(e for e in arrived if e["detail"]["event_id"] == "evt-000")
    assert first["source"] == "fieldline" and first["detail-type"] == "NoteAdded"
    assert first["detail"]["tenant_id"] == TENANT
    assert first["detail"]["data"]["visit_id"] == "01jnq3g1h3j5k7m9n1p3q5r7s9"
    assert first["detail"]["data"]["duration_minutes"] == 90


def test_an_event_the_bus_refuses_once_is_retried_alone(bus, spy):
    from chalicelib.handlers.stream import forward

    # Given a bus that refuses one of five events the first time
    spy.refuse = {"evt-003": 1}
    # When the stream handler forwards them
    result = forward([_record(n) for n in range(5)])
    # Then only the refused one was put again, and all five arrived once
    assert result == {"batchItemFailures": []}
    assert spy.calls == [[f"evt-{n:03d}" for n in range(5)], ["evt-003"]]
    assert sorted(e["detail"]["event_id"] for e in bus.drain()) == [
        f"evt-{n:03d}" for n in range(5)
    ]


def test_an_event_the_bus_keeps_refusing_is_handed_back_for_redelivery(bus, spy):
    from chalicelib.handlers.stream import forward

    # Given a bus that keeps refusing the third of five events
    spy.refuse = {"evt-002": 99}
    # When the stream handler forwards them
    result = forward([_record(n) for n in range(5)])
    # Then it reports the third record, so Lambda redelivers from there: nothing is lost
    assert result == {"batchItemFailures": [{"itemIdentifier": "1002"}]}
    assert len(spy.calls) == eventbus.PUT_ATTEMPTS
    arrived = sorted(e["detail"]["event_id"] for e in bus.drain())
    assert "evt-002" not in arrived and {"evt-000", "evt-001"} <= set(arrived)


def test_a_poison_record_is_reported_and_the_events_before_it_are_sent(bus, spy):
    from chalicelib.handlers.stream import forward

    # Given a record no retry can ever make into an event, between two good ones
    records = [_record(0), _poison(1), _record(2)]
    # When the stream handler gets the batch
    result = forward(records)
    # Then it reports the poison record; the event before it went out
    assert result == {"batchItemFailures": [{"itemIdentifier": "1001"}]}
    assert [e["detail"]["event_id"] for e in bus.drain()] == ["evt-000"]


def test_the_clock_parks_a_poison_record_in_the_dead_letter_queue_and_loses_nothing(
    stage, bus, monkeypatch
):
    import app

    monkeypatch.setattr(eventbus, "pause", lambda seconds: None)
    # Given a table whose stream carries a good event, a poison record, another good event
    # and an item that is no event at all
    ddb = boto3.client("dynamodb", endpoint_url=stage.endpoint, region_name="us-east-1")
    from chalicelib.store.table import create_table

    table = f"fieldline-test-stream-{new_id()[:8]}"
    create_table(ddb, table)
    dead_letters = stage.sqs.create_queue(QueueName=f"{table}-dlq")["QueueUrl"]
    poller = stage_clock.StreamPoller(
        stage.endpoint, table, app.forward_timeline, dead_letters, start_at="TRIM_HORIZON"
    )
    for written in (_record(0), _poison(1), _record(2)):
        ddb.put_item(TableName=table, Item=written["dynamodb"]["NewImage"])
    ddb.put_item(TableName=table, Item={"PK": {"S": "T#x"}, "SK": {"S": "TENANT"}})
    # When the clock polls the stream, as Lambda's event source mapping would
    for _ in range(stage_clock.MAX_STREAM_TRIES + 1):
        poller.poll()
    # Then the poison record was tried three times and parked in the dead-letter queue
    parked = stage.sqs.receive_message(QueueUrl=dead_letters, MaxNumberOfMessages=10)["Messages"]
    assert len(parked) == 1 and poller.dead_lettered == 1
    body = json.loads(parked[0]["Body"])
    assert body["record"]["dynamodb"]["Keys"]["SK"]["S"].endswith("#broken")
    # And both good events reached the bus exactly once
    assert sorted(e["detail"]["event_id"] for e in bus.drain()) == ["evt-000", "evt-002"]
    assert poller.pending == []


def test_writes_that_are_not_timeline_events_invoke_nothing(stage, bus):
    # Given a table's stream with a job's update, a tenant item and one timeline event
    ddb = boto3.client("dynamodb", endpoint_url=stage.endpoint, region_name="us-east-1")
    from chalicelib.store.table import create_table

    table = f"fieldline-test-filter-{new_id()[:8]}"
    create_table(ddb, table)
    batches = []

    def handler(event, context):
        batches.append([r["dynamodb"]["Keys"]["SK"]["S"] for r in event["Records"]])
        return {"batchItemFailures": []}

    poller = stage_clock.StreamPoller(stage.endpoint, table, handler, None)
    job = {"PK": {"S": "T#x#JOB#j"}, "SK": {"S": "JOB"}, "type": {"S": "job"}}
    ddb.put_item(TableName=table, Item=job)
    ddb.put_item(TableName=table, Item={**job, "title": {"S": "renamed"}})
    ddb.put_item(TableName=table, Item={"PK": {"S": "T#x"}, "SK": {"S": "TENANT"}})
    # When the clock polls, applying the event source mapping's filter
    poller.poll()
    # Then nothing was invoked for them
    assert batches == []
    # And a timeline event is delivered alone
    ddb.put_item(TableName=table, Item=_record(0)["dynamodb"]["NewImage"])
    poller.poll()
    assert batches == [["EVT#2025-03-10T12:30:00.000Z#000"]]
