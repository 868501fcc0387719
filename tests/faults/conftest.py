"""Faults injected at the boundaries: DynamoDB answering throttled or broken, and readers that
check what was stored afterwards."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from tests.conftest import TABLE
from tests.integration.helpers import new_tenant
from tests.invariants import Reader, assert_invariants, local_reader

THROTTLED = (400, "ThrottlingException")
OVER_CAPACITY = (400, "ProvisionedThroughputExceededException")
BROKEN = (500, "InternalServerError")


@pytest.fixture
def reader(moto_endpoint) -> Reader:
    return local_reader(moto_endpoint, TABLE)


@pytest.fixture
def owner(client, reader):
    """A tenant whose money and state must add up once its fault test is over."""
    tenant = new_tenant(client)
    yield tenant
    assert_invariants(reader, tenant.tenant_id)


class _Body:
    def __init__(self, body: bytes):
        self.body = body

    def stream(self, **_):
        yield self.body


class DynamoFaults:
    """A `before-send` hook on the app's DynamoDB clients: it answers chosen operations with an
    error, as DynamoDB would, instead of sending them. Each attempt is counted (botocore's
    retries included), whether it failed or went through."""

    def __init__(self):
        self.plan: dict[str, list[tuple[int, str]]] = {}
        self.attempts: Counter = Counter()
        self.failed: Counter = Counter()
        self.backoffs: list[int] = []  # the attempt number of each retry botocore waited before

    def fail(self, operation: str, times: int, fault: tuple[int, str] = THROTTLED) -> None:
        self.plan[operation] = [fault] * times

    def heal(self) -> None:
        self.plan.clear()

    def __call__(self, request, **_):
        from botocore.awsrequest import AWSResponse

        target = request.headers.get("X-Amz-Target", b"")
        operation = (target.decode() if isinstance(target, bytes) else target).split(".")[-1]
        self.attempts[operation] += 1
        pending = self.plan.get(operation)
        if not pending:
            return None
        status, code = pending.pop(0)
        self.failed[operation] += 1
        body = {"__type": f"com.amazonaws.dynamodb.v20120810#{code}", "message": "injected"}
        headers = {"Content-Type": "application/x-amz-json-1.0", "x-amzn-RequestId": "fault"}
        return AWSResponse(request.url, status, headers, _Body(json.dumps(body).encode()))


@pytest.fixture
def dynamodb_faults(app, monkeypatch):
    """Faults on the clients the app uses (PynamoDB's model and transaction connections);
    botocore's standard retries still run, without their backoff sleeps."""
    from botocore.retries import standard

    from chalicelib.store import db
    from chalicelib.store.models import Item

    faults = DynamoFaults()

    def no_sleep(self, context):
        faults.backoffs.append(context.attempt_number)
        return 0

    monkeypatch.setattr(standard.ExponentialBackoff, "delay_amount", no_sleep)
    clients = {id(c): c for c in (Item._get_connection().connection.client, db.connection().client)}
    for client in clients.values():
        client.meta.events.register("before-send.dynamodb", faults)
    yield faults
    for client in clients.values():
        client.meta.events.unregister("before-send.dynamodb", faults)
