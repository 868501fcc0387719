"""The local stage's clock: does in-process what AWS would trigger.

ARCHITECTURE.md has the why: "Events and workflows", and the facts about the emulators.

- provisions the event bus, the workflow queue (fed by the bus's rule), the stream's
  dead-letter queue and the three state machines (the ASL files of infra/statemachines) in moto;
- makes moto *execute* state machines, with each Lambda task routed to the app's own handler
  in this process, and every Wait scaled by `FIELDLINE_TIME_SCALE` (86400: a day a second);
- provisions the dispatch optimizer's function, whose asynchronous invokes run its handler on
  a thread of this process, as Lambda runs an `InvocationType=Event` invoke after answering;
- polls the table's stream and hands new records to the stream handler, the way Lambda's
  event source mapping does (a record failing `MAX_STREAM_TRIES` times goes to the
  dead-letter queue);
- polls the workflow queue and hands messages to the consumer (SQS → Lambda);
- fires the nightly reconciliation once a (scaled) day, at most once a minute;
- fires EventBridge Scheduler's one-time schedules (moto stores them and never fires them)
  when their moment comes on the scaled clock;
- fails a distributed Map past its tolerated failure percentage, as Step Functions does
  (moto runs its child workflows in-process and never fails the Map Run).

The tests use the same provisioning and hooks, with a virtual clock in place of sleeping.
"""

from __future__ import annotations

import inspect
import json
import os
import re
import threading
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from chalicelib.handlers.stream import RECORD_FILTER
from chalicelib.logs import logger

ACCOUNT, REGION = "123456789012", "us-east-1"
STATE_MACHINES = ("reminders", "dunning", "reconciliation")
ASL_DIR = Path(__file__).resolve().parent.parent / "infra" / "statemachines"
EXECUTE = {"stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": False}}
MAX_STREAM_TRIES = 3
NIGHTLY_FLOOR_SECONDS = 60
_WHOLE_PERCENTAGE = re.compile(r'("ToleratedFailurePercentage"\s*:\s*\d+)(?![.\d])')


# --- provisioning -----------------------------------------------------------------------------


def definition(workflow: str, substitutions: dict[str, str]) -> str:
    """An ASL file with its `${...}` definition substitutions filled in, as moto reads it."""
    text = (ASL_DIR / f"{workflow}.asl.json").read_text()
    for name, value in substitutions.items():
        text = text.replace("${" + name + "}", value)
    if "${" in text:
        raise ValueError(f"{workflow}.asl.json has a substitution nobody fills")
    return for_moto(text)


def for_moto(text: str) -> str:
    """moto's ASL grammar takes ToleratedFailurePercentage as a decimal only ("50.0"; "50" is a
    parse error), where Step Functions takes any number and statelint wants an integer: the
    file keeps the integer, and moto is given the same number spelled as a decimal."""
    return _WHOLE_PERCENTAGE.sub(r"\1.0", text)


def enable_execution(endpoint: str) -> None:
    """Make moto execute state machines (its Lambda tasks call back into this server)."""
    _configure_moto(endpoint, EXECUTE)
    # An executing Lambda task calls http://localhost:<moto_server_port()> (MOTO_PORT, default
    # 5000). Point it at this server without putting MOTO_PORT in the environment, where child
    # processes (another local stage) would inherit it.
    from moto.stepfunctions.parser.asl.utils import boto_client

    port = endpoint.rsplit(":", 1)[1]
    boto_client.moto_server_port = lambda: port


def _configure_moto(endpoint: str, config: dict) -> None:
    request = urllib.request.Request(
        f"{endpoint}/moto-api/config",
        data=json.dumps(config).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    urllib.request.urlopen(request, timeout=5)


def provision_optimizer(endpoint: str, prefix: str = "fieldline-local") -> dict[str, str]:
    """The dispatch optimizer's function in moto (its invokes are routed to this process by
    `route_tasks`); returns the stage's environment for it, and sets it."""
    import boto3

    from chalicelib.handlers.optimizer import FUNCTIONS

    # moto's Lambda without Docker: the one `route_tasks` answers for.
    _configure_moto(endpoint, {"lambda": EXECUTE["lambda"]})
    iam = boto3.client("iam", endpoint_url=endpoint, region_name=REGION)
    lambdas = boto3.client("lambda", endpoint_url=endpoint, region_name=REGION)
    (name,) = FUNCTIONS
    env = {"FIELDLINE_OPTIMIZER_FUNCTION": _task_functions(iam, lambdas, prefix, [name])[name]}
    os.environ.update(env)
    from chalicelib.config import get_settings

    get_settings.cache_clear()
    return env


def provision_schedules(endpoint: str, prefix: str) -> dict[str, str]:
    """The schedule group deferred executions are scheduled in (integrations.workflows.defer)
    and the role a schedule starts them as (moto checks neither; `SchedulePoller` fires them)."""
    import boto3

    scheduler = boto3.client("scheduler", endpoint_url=endpoint, region_name=REGION)
    try:
        scheduler.get_schedule_group(Name=prefix)
    except scheduler.exceptions.ResourceNotFoundException:
        # moto's create replaces an existing group and its schedules: create it only once.
        scheduler.create_schedule_group(Name=prefix)
    return {
        "FIELDLINE_SCHEDULE_GROUP": prefix,
        "FIELDLINE_SCHEDULER_ROLE_ARN": f"arn:aws:iam::{ACCOUNT}:role/{prefix}-scheduler",
    }


def provision(endpoint: str, prefix: str = "fieldline-local", visibility: int = 30) -> dict:
    """Create the bus, queues, rule and state machines; returns the stage's environment for
    them (and sets it, so the app's settings see it when first read)."""
    import boto3

    from chalicelib.handlers.tasks import SUBSTITUTIONS

    def aws(service: str):
        return boto3.client(service, endpoint_url=endpoint, region_name=REGION)

    enable_execution(endpoint)
    events, sqs, sfn = aws("events"), aws("sqs"), aws("stepfunctions")
    bus = prefix
    if not any(b["Name"] == bus for b in events.list_event_buses()["EventBuses"]):
        events.create_event_bus(Name=bus)
    dead = sqs.create_queue(QueueName=f"{prefix}-workflow-events-dlq")["QueueUrl"]
    dead_arn = _queue_arn(sqs, dead)
    queue = sqs.create_queue(
        QueueName=f"{prefix}-workflow-events",
        Attributes={
            "VisibilityTimeout": str(visibility),
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": dead_arn, "maxReceiveCount": 5}),
        },
    )["QueueUrl"]
    stream_dlq = sqs.create_queue(QueueName=f"{prefix}-stream-dlq")["QueueUrl"]
    functions = _task_functions(
        aws("iam"), aws("lambda"), prefix, sorted(set(SUBSTITUTIONS.values()))
    )
    substitutions = {name: functions[fn] for name, fn in SUBSTITUTIONS.items()}
    machines = {m["name"]: m["stateMachineArn"] for m in sfn.list_state_machines()["stateMachines"]}
    arns = {}
    for workflow in STATE_MACHINES:
        name = f"{prefix}-{workflow}"
        text = definition(workflow, substitutions)
        if name in machines:
            sfn.update_state_machine(stateMachineArn=machines[name], definition=text)
            arns[workflow] = machines[name]
        else:
            arns[workflow] = sfn.create_state_machine(
                name=name, definition=text, roleArn=f"arn:aws:iam::{ACCOUNT}:role/{prefix}-sfn"
            )["stateMachineArn"]
    env = {
        "FIELDLINE_EVENT_BUS": bus,
        "FIELDLINE_WORKFLOW_QUEUE": f"{prefix}-workflow-events",
        "FIELDLINE_WORKFLOW_QUEUE_URL": queue,
        "FIELDLINE_STREAM_DLQ_URL": stream_dlq,
        "FIELDLINE_REMINDERS_STATE_MACHINE_ARN": arns["reminders"],
        "FIELDLINE_DUNNING_STATE_MACHINE_ARN": arns["dunning"],
        "FIELDLINE_RECONCILIATION_STATE_MACHINE_ARN": arns["reconciliation"],
        **provision_schedules(endpoint, prefix),
        **provision_optimizer(endpoint, prefix),
    }
    os.environ.update(env)
    from chalicelib.config import get_settings

    get_settings.cache_clear()  # read again, with these names, whenever it was first read

    from chalicelib.handlers.consumer import EVENT_PATTERN

    _rule_to_queue(events, sqs, bus, f"{prefix}-workflows", EVENT_PATTERN, queue, "workflow-queue")
    env.update(provision_outbound(events, sqs, bus, prefix))
    return env


def _rule_to_queue(events, sqs, bus: str, rule: str, pattern: dict, queue_url: str, id_: str):
    """A rule of the bus sending the events that match `pattern` to a queue (target `id_`)."""
    events.put_rule(Name=rule, EventBusName=bus, EventPattern=json.dumps(pattern))
    queue = {"Id": id_, "Arn": _queue_arn(sqs, queue_url)}
    events.put_targets(Rule=rule, EventBusName=bus, Targets=[queue])


def provision_outbound(events, sqs, bus: str, prefix: str) -> dict[str, str]:
    """Outbound webhooks: the bus's rule → a standard queue (the fan-out) → the deliveries'
    FIFO queue (handlers/deliveries.py); returns the stage's environment for them, and sets it."""
    from chalicelib.handlers.deliveries import EVENT_PATTERN

    names = {
        "FIELDLINE_OUTBOUND_EVENTS_QUEUE": f"{prefix}-outbound-events",
        "FIELDLINE_DELIVERIES_QUEUE": f"{prefix}-deliveries.fifo",
    }
    fan_out = sqs.create_queue(QueueName=names["FIELDLINE_OUTBOUND_EVENTS_QUEUE"])["QueueUrl"]
    sqs.create_queue(
        QueueName=names["FIELDLINE_DELIVERIES_QUEUE"],
        Attributes={"FifoQueue": "true", "VisibilityTimeout": "60"},
    )
    _rule_to_queue(
        events, sqs, bus, f"{prefix}-outbound", EVENT_PATTERN, fan_out, "outbound-events"
    )
    os.environ.update(names)
    from chalicelib.config import get_settings

    get_settings.cache_clear()
    return names


def _task_functions(iam, lambdas, prefix: str, names: list[str]) -> dict[str, str]:
    """The task Lambdas, as the stage would name them, so the state machines invoke functions
    that exist (their code never runs: `route_tasks` answers for them in this process)."""
    import io
    import zipfile

    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "lambda.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    try:
        role = iam.get_role(RoleName=f"{prefix}-tasks")["Role"]["Arn"]
    except iam.exceptions.NoSuchEntityException:
        role = iam.create_role(
            RoleName=f"{prefix}-tasks", AssumeRolePolicyDocument=json.dumps(trust)
        )["Role"]["Arn"]
    package = io.BytesIO()
    with zipfile.ZipFile(package, "w") as archive:
        archive.writestr("app.py", "# the local stage routes these invocations in-process\n")
    arns = {}
    for name in names:
        function = f"{prefix}-{name}"
        try:
            arns[name] = lambdas.get_function(FunctionName=function)["Configuration"]["FunctionArn"]
        except lambdas.exceptions.ResourceNotFoundException:
            arns[name] = lambdas.create_function(
                FunctionName=function,
                Runtime="python3.12",
                Role=role,
                Handler=f"app.{name}",
                Code={"ZipFile": package.getvalue()},
            )["FunctionArn"]
    return arns


def _queue_arn(sqs, url: str) -> str:
    return sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]


# --- hooks into moto's executing mode ---------------------------------------------------------


_ROUTED: dict[str, Callable[[dict, Any], Any]] = {}


def route_tasks(handlers: dict[str, Callable[[dict, Any], Any]]) -> None:
    """Lambda invokes run the app's handler of the same Chalice name, in this process.

    In executing mode moto's Lambda would echo the payload instead. A synchronous invoke (a
    state machine's task) runs in moto's request: an exception becomes a function error whose
    type is the exception's class name, as Lambda reports it. An asynchronous one
    (`InvocationType=Event`) is answered 202 at once and runs on a thread of its own, as Lambda
    runs it after queueing it. Handlers routed by separate calls add up (the tasks', the
    optimizer's).
    """
    from moto.awslambda_simple.models import LambdaSimpleBackend

    _ROUTED.update(handlers)
    LambdaSimpleBackend.invoke = _invoke


def _invoke(self, function_name, qualifier, body, headers, response_headers):
    self.get_function(function_name, qualifier)  # 404 for a function that does not exist
    name = function_name.rsplit(":", 1)[-1].rsplit("-", 1)[-1]
    handler = _ROUTED.get(name)
    if handler is None:
        response_headers["x-amz-function-error"] = "Unhandled"
        return _error("ResourceNotFoundException", f"no task handler {function_name}")
    payload = json.loads(body) if body else {}
    if (headers or {}).get("X-Amz-Invocation-Type") == "Event":
        threading.Thread(
            target=_run_event, args=(name, handler, payload), name=f"lambda-{name}", daemon=True
        ).start()
        return b""  # moto answers an Event invoke 202 with this body
    try:
        return json.dumps(handler(payload, None), default=str).encode()
    except Exception as exc:
        logger.warning("task failed", extra={"task": name, "error": repr(exc)})
        response_headers["x-amz-function-error"] = "Unhandled"
        return _error(type(exc).__name__, str(exc))


def _run_event(name: str, handler: Callable[[dict, Any], Any], payload: dict) -> None:
    try:
        handler(payload, None)
    except Exception:
        logger.exception("asynchronous invocation failed", extra={"function": name})


def _error(kind: str, message: str) -> bytes:
    return json.dumps({"errorType": kind, "errorMessage": message}).encode()


_moto_map_run: Callable | None = None


def enforce_tolerated_failures() -> None:
    """A distributed Map Run fails once more of its items failed than it tolerates.

    moto runs a distributed Map's child workflows in-process (no child executions of their
    own) and counts the failed ones, but never fails the Map Run ("ToleratedFailurePercentage
    declarations currently have no effect"): every failure would look tolerated. Step
    Functions fails it with States.ExceedToleratedFailureThreshold once the failed and timed
    out items exceed ToleratedFailurePercentage of all items (default 0: any failure). Only the
    percentage is applied; tests/infra checks no state machine declares ToleratedFailureCount.
    """
    from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration.distributed_iteration_component import (  # noqa: E501
        DistributedIterationComponent,
    )

    global _moto_map_run
    if _moto_map_run is None:
        _moto_map_run = DistributedIterationComponent._map_run
    DistributedIterationComponent._map_run = _map_run_within_threshold


def _map_run_within_threshold(self, env, eval_input) -> None:
    from moto.stepfunctions.parser.api import HistoryEventType, MapRunFailedEventDetails
    from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import (
        FailureEvent,
        FailureEventException,
    )
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import (
        StatesErrorName,
    )
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import (  # noqa: E501
        StatesErrorNameType,
    )
    from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails

    _moto_map_run(self, env, eval_input)
    items = eval_input.map_run_record.item_counter
    failed, total = items.failed.get() + items.timed_out.get(), items.total.get()
    tolerated = eval_input.tolerated_failure_percentage
    if not total or failed * 100 <= tolerated * total:
        return
    env.stack.pop()  # the items' outputs: the Map state fails instead
    kind = StatesErrorNameType.StatesExceedToleratedFailureThreshold
    details = MapRunFailedEventDetails(
        error=kind.to_name(), cause=f"{failed} of {total} items failed; {tolerated}% tolerated"
    )
    raise FailureEventException(
        FailureEvent(
            env=env,
            error_name=StatesErrorName(typ=kind),
            event_type=HistoryEventType.MapRunFailed,
            event_details=EventDetails(mapRunFailedEventDetails=details),
        )
    )


@dataclass
class Wait:
    """A Wait state that began: which execution, which state, and until when."""

    execution: str
    state: str
    until: datetime | None  # Timestamp/TimestampPath waits
    seconds: int  # as moto computed it (Seconds waits; unreliable for timestamps)
    env: Any

    @property
    def stopped(self) -> bool:
        return not self.env.is_running()


def patch_waits(waiter: Callable[[Wait], None]) -> None:
    """Every Wait state calls `waiter` instead of sleeping the real duration."""
    from moto.stepfunctions.parser.asl.component.state.wait.wait_function.timestamp import (
        Timestamp,
    )
    from moto.stepfunctions.parser.asl.component.state.wait.wait_function.wait_function import (
        WaitFunction,
    )

    def wait_interval(self, env, wait_seconds):
        until = None
        if isinstance(self, Timestamp):
            # moto compares the timestamp with the machine's *local* naive time; read it again
            # and keep it as the UTC instant it is.
            self.string.eval(env=env)
            until = parse_timestamp(env.stack.pop())
        context = env.states.context_object.context_object_data
        waiter(
            Wait(context["Execution"]["Name"], context["State"]["Name"], until, wait_seconds, env)
        )

    WaitFunction._wait_interval = wait_interval


def patch_retry_sleep(sleep: Callable[[float], None]) -> None:
    """Retry intervals of Task states sleep through `sleep`."""
    from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl

    class _Time:
        def __getattr__(self, name):
            return getattr(time, name)

    shim = _Time()
    shim.sleep = sleep
    retrier_decl.time = shim


def parse_timestamp(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


class ScaledWaits:
    """Sleep the wait's length divided by `scale`; a stopped execution wakes at once.

    Each execution keeps its own time: a wait starts from where the previous one ended (the
    wall clock lags far behind once waits are scaled), so a dunning's +3, +7, +14 and +30 day
    steps come 3, 7, 14 and 30 scaled days after the due date, not ever later. An execution a
    schedule started begins at the schedule's moment (`start_from`).
    """

    def __init__(self, scale: float):
        self.scale = scale
        self.reached: dict[str, datetime] = {}
        self.lock = threading.Lock()

    def start_from(self, execution: str, moment: datetime) -> None:
        with self.lock:
            self.reached[execution] = max(moment, self.reached.get(execution, moment))

    def __call__(self, request: Wait) -> None:
        with self.lock:
            start = max(
                datetime.now(UTC),
                self.reached.get(request.execution, datetime.min.replace(tzinfo=UTC)),
            )
        until = request.until or start + timedelta(seconds=request.seconds)
        deadline = time.monotonic() + max(0.0, (until - start).total_seconds() / self.scale)
        while not request.stopped and time.monotonic() < deadline:
            time.sleep(min(0.2, deadline - time.monotonic()))
        with self.lock:
            self.reached[request.execution] = max(until, start)


def scaled_waiter(scale: float) -> ScaledWaits:
    return ScaledWaits(scale)


def moto_internals() -> dict[str, Any]:
    """What the hooks above rely on in moto, for the test that fails if it moves."""
    from moto.awslambda_simple.models import LambdaSimpleBackend
    from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl
    from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration.distributed_iteration_component import (  # noqa: E501
        DistributedIterationComponent,
        DistributedIterationComponentEvalInput,
    )
    from moto.stepfunctions.parser.asl.component.state.wait.wait_function.timestamp import (
        Timestamp,
    )
    from moto.stepfunctions.parser.asl.component.state.wait.wait_function.wait_function import (
        WaitFunction,
    )

    map_run = _moto_map_run or DistributedIterationComponent._map_run
    return {
        "invoke": list(inspect.signature(LambdaSimpleBackend.invoke).parameters),
        "map_run": list(inspect.signature(map_run).parameters),
        "map_run_input": sorted(
            set(inspect.signature(DistributedIterationComponentEvalInput.__init__).parameters)
            & {"map_run_record", "tolerated_failure_percentage"}
        ),
        "wait_interval": list(inspect.signature(WaitFunction._wait_interval).parameters),
        "timestamp_string": "string" in inspect.signature(Timestamp.__init__).parameters,
        "retrier_time": getattr(retrier_decl, "time", None) is not None,
    }


# --- stream, queue and schedule ---------------------------------------------------------------


class SchedulePoller:
    """What EventBridge Scheduler does with the group's one-time schedules, which moto stores
    and never fires: at its moment a schedule starts its target state machine with its input,
    then is deleted (ActionAfterCompletion DELETE). The execution is named after the schedule
    (Scheduler's own are random names; nothing reads them)."""

    def __init__(self, endpoint: str, group: str):
        import boto3

        self.scheduler = boto3.client("scheduler", endpoint_url=endpoint, region_name=REGION)
        self.sfn = boto3.client("stepfunctions", endpoint_url=endpoint, region_name=REGION)
        self.group = group

    def pending(self) -> dict[str, datetime]:
        """Each schedule of the group, by name, with the moment it fires."""
        listed = self.scheduler.list_schedules(GroupName=self.group)["Schedules"]
        found = {}
        for summary in listed:
            schedule = self.scheduler.get_schedule(GroupName=self.group, Name=summary["Name"])
            found[summary["Name"]] = one_time_moment(schedule)
        return found

    def fire(self, name: str) -> str:
        """Start the schedule's execution now; returns the execution's name."""
        schedule = self.scheduler.get_schedule(GroupName=self.group, Name=name)
        target = schedule["Target"]
        self.sfn.start_execution(
            stateMachineArn=target["Arn"], name=name, input=target.get("Input") or "{}"
        )
        if schedule.get("ActionAfterCompletion") == "DELETE":
            self.scheduler.delete_schedule(GroupName=self.group, Name=name)
        return name

    def fire_due(self, now: datetime) -> list[str]:
        return [self.fire(name) for name, at in self.pending().items() if at <= now]


def one_time_moment(schedule: dict) -> datetime:
    """The moment of an `at(yyyy-mm-ddThh:mm:ss)` schedule, in its time zone."""
    from zoneinfo import ZoneInfo

    expression = schedule["ScheduleExpression"]
    if not (expression.startswith("at(") and expression.endswith(")")):
        raise ValueError(f"not a one-time schedule: {expression}")
    zone = ZoneInfo(schedule.get("ScheduleExpressionTimezone") or "UTC")
    return datetime.fromisoformat(expression[3:-1]).replace(tzinfo=zone).astimezone(UTC)


class StreamPoller:
    """What Lambda's DynamoDB event source mapping does, for one table's stream: records that
    pass its filter, in batches, retried from the first failure, then dead-lettered."""

    def __init__(
        self,
        endpoint: str,
        table: str,
        deliver: Callable[[dict, Any], dict],
        dead_letter_url: str | None,
        batch_size: int = 100,
        max_tries: int = MAX_STREAM_TRIES,
        start_at: str = "TRIM_HORIZON",
        record_filter: dict = RECORD_FILTER,
    ):
        import boto3
        from moto.events.models import EventPattern  # Lambda's filters are EventBridge patterns

        self.ddb = boto3.client("dynamodb", endpoint_url=endpoint, region_name=REGION)
        self.streams = boto3.client("dynamodbstreams", endpoint_url=endpoint, region_name=REGION)
        self.sqs = boto3.client("sqs", endpoint_url=endpoint, region_name=REGION)
        self.table, self.deliver, self.dead_letter_url = table, deliver, dead_letter_url
        self.batch_size, self.max_tries, self.start_at = batch_size, max_tries, start_at
        self.wanted = EventPattern.load(json.dumps(record_filter)).matches_event
        self.stream_arn = self.ddb.describe_table(TableName=table)["Table"]["LatestStreamArn"]
        self.iterators: dict[str, str | None] = {}
        self.pending: list[dict] = []
        self.tries: dict[str, int] = {}
        self.dead_lettered = 0
        self._shards()

    def _shards(self) -> None:
        described = self.streams.describe_stream(StreamArn=self.stream_arn)["StreamDescription"]
        for shard in described["Shards"]:
            if shard["ShardId"] not in self.iterators:
                self.iterators[shard["ShardId"]] = self.streams.get_shard_iterator(
                    StreamArn=self.stream_arn,
                    ShardId=shard["ShardId"],
                    ShardIteratorType=self.start_at,
                )["ShardIterator"]

    def _fetch(self) -> None:
        for shard, iterator in list(self.iterators.items()):
            while iterator:
                response = self.streams.get_records(ShardIterator=iterator, Limit=1000)
                records = response.get("Records", [])
                self.pending += [r for r in map(self._lambda_record, records) if self.wanted(r)]
                iterator = response.get("NextShardIterator")
                if not records:
                    break
            self.iterators[shard] = iterator

    def _lambda_record(self, record: dict) -> dict:
        dynamodb = dict(record["dynamodb"])
        created = dynamodb.get("ApproximateCreationDateTime")
        if isinstance(created, datetime):
            dynamodb["ApproximateCreationDateTime"] = created.timestamp()
        return {**record, "dynamodb": dynamodb, "eventSourceARN": self.stream_arn}

    def poll(self) -> int:
        """Deliver what is new; returns how many records were delivered."""
        self._fetch()
        delivered = 0
        while self.pending:
            batch = self.pending[: self.batch_size]
            try:
                result = self.deliver({"Records": batch}, None) or {}
                failures = result.get("batchItemFailures") or []
            except Exception:
                logger.exception("stream handler failed")
                failures = [{"itemIdentifier": _sequence(batch[0])}]
            if not failures:
                self.pending = self.pending[len(batch) :]
                delivered += len(batch)
                continue
            failed = failures[0]["itemIdentifier"]
            at = next((i for i, r in enumerate(batch) if _sequence(r) == failed), 0)
            self.pending = self.pending[at:]
            delivered += at
            self.tries[failed] = self.tries.get(failed, 0) + 1
            if self.tries[failed] < self.max_tries:
                break  # Lambda would retry from this record; so do we, next poll
            self._dead_letter(self.pending.pop(0))
        return delivered

    def _dead_letter(self, record: dict) -> None:
        logger.error("stream record sent to the dead-letter queue", extra={"record": record})
        self.dead_lettered += 1
        if self.dead_letter_url:
            body = json.dumps(
                {"reason": f"failed {self.max_tries} times", "record": record}, default=str
            )
            self.sqs.send_message(QueueUrl=self.dead_letter_url, MessageBody=body)


def _sequence(record: dict) -> str:
    return record.get("dynamodb", {}).get("SequenceNumber", "")


class QueuePoller:
    """What Lambda's SQS event source mapping does (ReportBatchItemFailures on)."""

    def __init__(self, endpoint: str, queue_url: str, deliver: Callable[[dict, Any], dict]):
        import boto3

        self.sqs = boto3.client("sqs", endpoint_url=endpoint, region_name=REGION)
        self.queue_url, self.deliver = queue_url, deliver
        self.queue_arn = _queue_arn(self.sqs, queue_url)

    def poll(self) -> int:
        handled = 0
        while True:
            messages = self.sqs.receive_message(
                QueueUrl=self.queue_url,
                MaxNumberOfMessages=10,
                WaitTimeSeconds=0,
                AttributeNames=["All"],  # a FIFO message's group, as Lambda hands it over
            ).get("Messages", [])
            if not messages:
                return handled
            event = {"Records": [self._lambda_record(m) for m in messages]}
            try:
                result = self.deliver(event, None) or {}
                failed = {f["itemIdentifier"] for f in result.get("batchItemFailures") or []}
            except Exception:
                logger.exception("queue consumer failed")
                failed = {m["MessageId"] for m in messages}
            done = [m for m in messages if m["MessageId"] not in failed]
            if done:
                self.sqs.delete_message_batch(
                    QueueUrl=self.queue_url,
                    Entries=[
                        {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                        for i, m in enumerate(done)
                    ],
                )
            handled += len(done)
            if failed:
                return handled  # they come back after the visibility timeout

    def _lambda_record(self, message: dict) -> dict:
        return {
            "messageId": message["MessageId"],
            "receiptHandle": message["ReceiptHandle"],
            "body": message["Body"],
            "attributes": message.get("Attributes", {}),
            "messageAttributes": message.get("MessageAttributes", {}),
            "md5OfBody": message.get("MD5OfBody"),
            "eventSource": "aws:sqs",
            "eventSourceARN": self.queue_arn,
            "awsRegion": REGION,
        }


def outbound_pollers(endpoint: str, chalice_app) -> list[QueuePoller]:
    """The fan-out's queue, then the deliveries' FIFO queue (outbound webhooks)."""
    import boto3

    from chalicelib.config import get_settings

    settings = get_settings()
    sqs = boto3.client("sqs", endpoint_url=endpoint, region_name=REGION)
    return [
        QueuePoller(endpoint, sqs.get_queue_url(QueueName=name)["QueueUrl"], handler)
        for name, handler in (
            (settings.outbound_events_queue_name, chalice_app.outbound_events),
            (settings.deliveries_queue_name, chalice_app.outbound_deliveries),
        )
    ]


def scheduled_event(rule: str) -> dict:
    """The event an EventBridge schedule hands its target."""
    return {
        "version": "0",
        "id": f"local-{time.time_ns()}",
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": ACCOUNT,
        "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": REGION,
        "resources": [f"arn:aws:events:{REGION}:{ACCOUNT}:rule/{rule}"],
        "detail": {},
    }


class Clock(threading.Thread):
    """Ticks the pollers and the nightly schedule until stopped."""

    def __init__(
        self,
        endpoint: str,
        table: str,
        scale: float,
        interval: float = 0.25,
        waits: ScaledWaits | None = None,
    ):
        super().__init__(name="localstage-clock", daemon=True)
        import app as chalice_app  # after the stage's environment is set
        from chalicelib.config import get_settings

        settings = get_settings()
        self.stream = StreamPoller(
            endpoint, table, chalice_app.forward_timeline, settings.stream_dlq_url
        )
        self.queue = QueuePoller(endpoint, settings.workflow_queue_url, chalice_app.workflow_events)
        self.outbound = outbound_pollers(endpoint, chalice_app)
        self.nightly = {
            "nightly_reconciliation": chalice_app.nightly_reconciliation,
            "nightly_series": chalice_app.nightly_series,
            "daily_plans": chalice_app.daily_plans,
        }
        self.scale, self.waits = scale, waits
        group = settings.schedule_group
        self.schedules = SchedulePoller(endpoint, group) if group else None
        self.fire_at: dict[str, float] = {}  # schedule → when (monotonic) it fires here
        self.period = max(86400 / scale, NIGHTLY_FLOOR_SECONDS)
        self.next_night = time.monotonic() + self.period
        self.interval = interval
        self._stopped = threading.Event()

    def run(self) -> None:
        while not self._stopped.is_set():
            self.tick()
            self._stopped.wait(self.interval)

    def tick(self) -> None:
        steps = (
            ("stream", self.stream.poll),
            ("queue", self.queue.poll),
            *(("outbound", poller.poll) for poller in self.outbound),
            ("schedules", self.fire_schedules),
        )
        for name, step in steps:
            try:
                step()
            except Exception:
                logger.exception("clock step failed", extra={"step": name})
        if time.monotonic() >= self.next_night:
            self.next_night += self.period
            for name, handler in self.nightly.items():
                try:
                    handler(scheduled_event(name), None)
                except Exception:
                    logger.exception("nightly work did not run", extra={"handler": name})

    def fire_schedules(self) -> None:
        """A schedule fires its distance from the wall clock, scaled, after it is first seen;
        its execution's waits then count from the schedule's moment."""
        if self.schedules is None:
            return
        for name, at in self.schedules.pending().items():
            ahead = max(0.0, (at - datetime.now(UTC)).total_seconds()) / self.scale
            due = self.fire_at.setdefault(name, time.monotonic() + ahead)
            if time.monotonic() >= due:
                execution = self.schedules.fire(name)
                if self.waits is not None:
                    self.waits.start_from(execution, at)
                del self.fire_at[name]

    def stop(self) -> None:
        self._stopped.set()


def start(endpoint: str, table: str) -> Clock:
    """Hook moto's executing mode up to this process and start ticking."""
    from chalicelib.config import get_settings
    from chalicelib.handlers.optimizer import FUNCTIONS
    from chalicelib.handlers.tasks import TASKS

    scale = max(get_settings().time_scale, 1e-6)
    route_tasks({**TASKS, **FUNCTIONS})
    waits = scaled_waiter(scale)
    patch_waits(waits)
    enforce_tolerated_failures()
    patch_retry_sleep(lambda seconds: time.sleep(seconds / scale))
    clock = Clock(endpoint, table, scale, waits=waits)
    clock.start()
    return clock
