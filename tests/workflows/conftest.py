"""Workflows against the real ASL files, executed by moto (ARCHITECTURE.md: emulators).

The session's moto server is switched to executing mode and given the bus, queues and state
machines the local stage has (`localstage.clock.provision`). Lambda tasks run the app's own
handlers in this process; Wait states block on a *virtual* clock that the test advances, so a
test can assert when each wait would end and what happened after it, without sleeping. One-time
schedules (a moment past an execution's year) fire when the virtual clock reaches them, and a
distributed Map fails past its tolerated failures (`localstage.clock` says how moto differs).
The rest of the suite is untouched: no other test uses Step Functions, and the hooks are
removed when the session ends.
"""

from __future__ import annotations

import json
import os
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import boto3
import pytest

from localstage import clock as stage_clock

PREFIX = "fieldline-test"


@dataclass
class RecordedWait:
    execution: str
    state: str
    until: datetime


class VirtualTime:
    """The tests' clock. Waits block until it passes their end; `advance_to` moves it."""

    def __init__(self, start: datetime):
        self._now = start
        self._changed = threading.Condition()
        self.waiting: dict[str, datetime] = {}
        self.waits: list[RecordedWait] = []

    def now(self) -> datetime:
        return self._now

    def wait(self, request: stage_clock.Wait) -> None:
        until = request.until or self._now + timedelta(seconds=request.seconds)
        with self._changed:
            self.waits.append(RecordedWait(request.execution, request.state, until))
            self.waiting[request.execution] = until
            while self._now < until and not request.stopped:
                self._changed.wait(0.02)
            self.waiting.pop(request.execution, None)

    def advance_to(self, moment: datetime) -> None:
        with self._changed:
            self._now = max(self._now, moment)
            self._changed.notify_all()

    def waits_of(self, execution: str) -> list[datetime]:
        return [w.until for w in self.waits if w.execution == execution]


class _Holder:
    current: VirtualTime | None = None

    def wait(self, request: stage_clock.Wait) -> None:
        if self.current is not None:
            self.current.wait(request)


HOLDER = _Holder()


class Stage:
    """The pieces AWS would run, driven by the test: stream, queue, executions, time."""

    def __init__(
        self,
        endpoint: str,
        env: dict[str, str],
        app_module,
        mismatch_queue: str,
        failure_queue: str,
    ):
        self.endpoint, self.env = endpoint, env
        self.sfn = boto3.client("stepfunctions", endpoint_url=endpoint, region_name="us-east-1")
        self.sqs = boto3.client("sqs", endpoint_url=endpoint, region_name="us-east-1")
        self.stream = stage_clock.StreamPoller(
            endpoint,
            env["TABLE"],
            app_module.forward_timeline,
            env["FIELDLINE_STREAM_DLQ_URL"],
            start_at="LATEST",
        )
        self.queue = stage_clock.QueuePoller(
            endpoint, env["FIELDLINE_WORKFLOW_QUEUE_URL"], app_module.workflow_events
        )
        self.schedules = stage_clock.SchedulePoller(endpoint, env["FIELDLINE_SCHEDULE_GROUP"])
        self.mismatch_queue, self.failure_queue = mismatch_queue, failure_queue
        self.time: VirtualTime | None = None

    @property
    def machines(self) -> dict[str, str]:
        return {
            "reminders": self.env["FIELDLINE_REMINDERS_STATE_MACHINE_ARN"],
            "dunning": self.env["FIELDLINE_DUNNING_STATE_MACHINE_ARN"],
            "reconciliation": self.env["FIELDLINE_RECONCILIATION_STATE_MACHINE_ARN"],
        }

    def pump(self) -> None:
        """Deliver everything written so far: stream → bus → queue → consumer."""
        for _ in range(50):
            if not (self.stream.poll() + self.queue.poll()):
                return
        raise AssertionError("the stream and the queue never went quiet")

    def running(self) -> list[dict]:
        found = []
        for arn in self.machines.values():
            found += self.sfn.list_executions(stateMachineArn=arn, statusFilter="RUNNING")[
                "executions"
            ]
        return found

    def settle(self, timeout: float = 20) -> None:
        """Until every running execution is waiting for a moment still ahead (or done)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            now = self.time.now() if self.time else None
            waiting = dict(self.time.waiting) if self.time else {}
            busy = [
                e["name"]
                for e in self.running()
                if e["name"] not in waiting or (now is not None and waiting[e["name"]] <= now)
            ]
            if not busy:
                return
            time.sleep(0.05)
        raise AssertionError(f"executions still busy: {busy}")

    def run_until_idle(self, until: datetime | None = None) -> None:
        """Advance virtual time wait by wait and schedule by schedule (delivering events
        between) until nothing is waiting, or the next moment is after `until`."""
        for _ in range(100):
            self.pump()
            self.settle()
            scheduled = self.schedules.pending()
            pending = sorted([*dict(self.time.waiting).values(), *scheduled.values()])
            if not pending or (until is not None and pending[0] > until):
                return
            self.time.advance_to(pending[0])
            self.schedules.fire_due(self.time.now())
        raise AssertionError("the workflows never went idle")

    def executions(self, workflow: str, name_part: str) -> list[dict]:
        listed = self.sfn.list_executions(stateMachineArn=self.machines[workflow])["executions"]
        return [e for e in listed if name_part in e["name"]]

    def output(self, execution_arn: str) -> dict:
        return json.loads(self.sfn.describe_execution(executionArn=execution_arn)["output"])

    def mismatches(self) -> list[dict]:
        """Every ReconciliationMismatch published so far (drains the test queue)."""
        return self._drain(self.mismatch_queue)

    def failures(self) -> list[dict]:
        """Every WorkflowFailed on the bus so far (drains the test queue)."""
        return self._drain(self.failure_queue)

    def _drain(self, queue_url: str) -> list[dict]:
        found = []
        while True:
            messages = self.sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get(
                "Messages", []
            )
            if not messages:
                return found
            for message in messages:
                found.append(json.loads(message["Body"])["detail"])
                self.sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])


@pytest.fixture(scope="session")
def stage(moto_endpoint, app):
    from moto.awslambda_simple.models import LambdaSimpleBackend
    from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl
    from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration.distributed_iteration_component import (  # noqa: E501
        DistributedIterationComponent,
    )
    from moto.stepfunctions.parser.asl.component.state.wait.wait_function.wait_function import (
        WaitFunction,
    )

    import app as app_module
    from chalicelib.config import get_settings
    from chalicelib.handlers.tasks import TASKS

    originals = (LambdaSimpleBackend.invoke, WaitFunction._wait_interval, retrier_decl.time)
    map_run = DistributedIterationComponent._map_run
    env = stage_clock.provision(moto_endpoint, prefix=PREFIX)
    get_settings.cache_clear()  # the app reads the bus, queue and state machine names now
    stage_clock.route_tasks(TASKS)
    stage_clock.patch_waits(HOLDER.wait)
    stage_clock.patch_retry_sleep(lambda seconds: None)
    stage_clock.enforce_tolerated_failures()
    bus = env["FIELDLINE_EVENT_BUS"]
    mismatch_queue = _test_queue(moto_endpoint, bus, "mismatches", "ReconciliationMismatch")
    failure_queue = _test_queue(moto_endpoint, bus, "failures", "WorkflowFailed")
    table = os.environ["FIELDLINE_TABLE"]
    yield Stage(moto_endpoint, {**env, "TABLE": table}, app_module, mismatch_queue, failure_queue)
    LambdaSimpleBackend.invoke, WaitFunction._wait_interval, retrier_decl.time = originals
    DistributedIterationComponent._map_run = map_run


def _test_queue(endpoint: str, bus: str, name: str, detail_type: str) -> str:
    """A rule sending the bus's `detail_type` events to a queue the tests read."""
    events = boto3.client("events", endpoint_url=endpoint, region_name="us-east-1")
    sqs = boto3.client("sqs", endpoint_url=endpoint, region_name="us-east-1")
    url = sqs.create_queue(QueueName=f"{PREFIX}-{name}")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    pattern = {"source": ["fieldline"], "detail-type": [detail_type]}
    events.put_rule(Name=f"{PREFIX}-{name}", EventBusName=bus, EventPattern=json.dumps(pattern))
    events.put_targets(
        Rule=f"{PREFIX}-{name}", EventBusName=bus, Targets=[{"Id": "tests", "Arn": arn}]
    )
    return url


@pytest.fixture
def virtual_time(stage):
    """Time stands still at a Monday noon (Chicago) until the test advances it."""
    from chalicelib.domain import clock

    moment = VirtualTime(datetime(2025, 3, 3, 18, 0, tzinfo=UTC))
    HOLDER.current, stage.time = moment, moment
    clock.set_clock(moment.now)
    yield moment
    clock.set_clock(None)
    for execution in stage.running():  # nothing a test started outlives it
        stage.sfn.stop_execution(executionArn=execution["executionArn"])
    for name in stage.schedules.pending():
        stage.schedules.scheduler.delete_schedule(GroupName=stage.schedules.group, Name=name)
    HOLDER.current, stage.time = None, None


@pytest.fixture
def owner(client):
    from tests.integration.helpers import new_tenant

    return new_tenant(client)
