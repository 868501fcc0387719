"""Cost per job: the whole lead-to-paid journey, N times, metered, and priced.

    python -m bench.cost [--jobs 20] [--parallel 3] [--json cost.json] [--trace]

The journey runs on the local stage's components, started in this process as `make run` starts
them: the moto server (DynamoDB and its stream, EventBridge, SQS, Step Functions executing the
real ASL, SES), localstripe as a child process, Chalice's local server on a free port (every
request goes over HTTP) and the clock's pieces (stream poller, queue poller, Lambda tasks routed
to the app's handlers). In-process, because that is where meters can sit: botocore hooks on every
client the app creates, and a stopwatch around every handler. Waits of the state machines do not
sleep: each ends when the journey reaches the moment it waits for (the reminder before the
technician sets off; the first dunning step after the customer has paid), the order real time
gives them.

Per job: DynamoDB read/write request units (from the sizes of the items each call reads or
writes, by DynamoDB's rounding rules: moto's ConsumedCapacity is a constant), GSI writes, Lambda
invocations and GB-seconds, API Gateway requests, Step Functions state transitions (moto's
execution history), EventBridge entries, SQS requests, log bytes, SMS segments, emails; then
dollars per 1,000 jobs. docs/COST.md has the rules, the prices and their sources.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import json
import math
import os
import platform
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
TIMEZONE = "America/Chicago"

# --- prices: us-east-1, on-demand (docs/COST.md says when they were taken) ---------------------


@dataclass(frozen=True)
class Price:
    what: str
    dollars: float
    per: float
    unit: str
    source: str


PRICES = {
    "ddb_rru": Price(
        "DynamoDB on-demand reads",
        0.125,
        1e6,
        "read request units",
        "https://aws.amazon.com/dynamodb/pricing/on-demand/",
    ),
    "ddb_wru": Price(
        "DynamoDB on-demand writes",
        0.625,
        1e6,
        "write request units",
        "https://aws.amazon.com/dynamodb/pricing/on-demand/",
    ),
    "lambda_requests": Price(
        "Lambda requests", 0.20, 1e6, "requests", "https://aws.amazon.com/lambda/pricing/"
    ),
    "lambda_gb_s": Price(
        "Lambda duration, x86", 0.0000166667, 1, "GB-s", "https://aws.amazon.com/lambda/pricing/"
    ),
    "apigw_rest": Price(
        "API Gateway REST API", 3.50, 1e6, "requests", "https://aws.amazon.com/api-gateway/pricing/"
    ),
    "sfn_standard": Price(
        "Step Functions Standard",
        0.025,
        1e3,
        "state transitions",
        "https://aws.amazon.com/step-functions/pricing/",
    ),
    "eventbridge": Price(
        "EventBridge custom events",
        1.00,
        1e6,
        "events (64 KB chunks)",
        "https://aws.amazon.com/eventbridge/pricing/",
    ),
    "sqs": Price("SQS standard", 0.40, 1e6, "requests", "https://aws.amazon.com/sqs/pricing/"),
    "logs": Price(
        "CloudWatch Logs ingestion",
        0.50,
        2**30,
        "bytes (1 GB)",
        "https://aws.amazon.com/cloudwatch/pricing/",
    ),
    "ses": Price("SES outbound email", 0.10, 1e3, "emails", "https://aws.amazon.com/ses/pricing/"),
}
# Shown apart, with SES's per-email price: they follow the messages and the money.
SMS_PER_SEGMENT = 0.0079  # https://www.twilio.com/en-us/sms/pricing/us, carrier fees extra
CARD_PERCENT, CARD_FIXED_CENTS = 0.029, 30  # https://stripe.com/pricing, US cards

# Lambda's CPU share grows with memory: a whole vCPU at 1,769 MB.
FULL_VCPU_MB = 1769
# START, END and REPORT lines per invocation, and CloudWatch's 26 bytes per log event.
PLATFORM_LOG_BYTES, PLATFORM_LOG_EVENTS, LOG_EVENT_OVERHEAD = 265, 3, 26
# Twilio posts a status callback per status change of a text; each delivered text goes through
# `sent` and `delivered`.
TWILIO_CALLBACK_STATUSES = ("sent", "delivered")
# Typical in-region latencies of the real services (seconds). The emulators' own time is taken
# out of each handler's and these put in, for the estimate of what AWS would bill.
REAL_LATENCY = {
    "dynamodb": 0.005,
    "dynamodb.TransactWriteItems": 0.012,
    "events": 0.015,
    "stepfunctions": 0.025,
    "sqs": 0.010,
    "ses": 0.080,
    "ses.VerifyEmailIdentity": 0.0,  # the local stage's own call; deployed stages never make it
    "stripe": 0.350,
    "sms": 0.250,
}


def lambda_memory_mb() -> int:
    stages = json.loads((ROOT / ".chalice" / "config.json").read_text())["stages"]
    return int(stages.get("prod", {}).get("lambda_memory_size", 128))


# --- DynamoDB capacity, by the published rounding rules ----------------------------------------


def number_size(text: str) -> int:
    """About one byte per two significant digits, plus one."""
    mantissa = text.lstrip("-").lower().split("e")[0]
    digits = mantissa.replace(".", "").strip("0") or "0"
    return math.ceil(len(digits) / 2) + 1


def _binary_size(value: Any) -> int:
    return len(value) if isinstance(value, bytes | bytearray) else len(base64.b64decode(value))


def value_size(value: dict[str, Any]) -> int:
    ((kind, v),) = value.items()
    sizes: dict[str, Callable[[], int]] = {
        "S": lambda: len(v.encode()),
        "N": lambda: number_size(v),
        "B": lambda: _binary_size(v),
        "BOOL": lambda: 1,
        "NULL": lambda: 1,
        "SS": lambda: sum(len(s.encode()) for s in v),
        "NS": lambda: sum(number_size(n) for n in v),
        "BS": lambda: sum(_binary_size(b) for b in v),
        # A list or map: 3 bytes, plus a byte per element (and each key's name in a map).
        "L": lambda: 3 + sum(1 + value_size(e) for e in v),
        "M": lambda: 3 + sum(1 + len(k.encode()) + value_size(e) for k, e in v.items()),
    }
    return sizes[kind]()


def item_size(item: dict[str, Any] | None) -> int:
    """Attribute names plus values, in bytes (DynamoDB's item size)."""
    return sum(len(name.encode()) + value_size(v) for name, v in (item or {}).items())


def read_units(size: int, consistent: bool) -> float:
    units = max(1, math.ceil(size / 4096))
    return units if consistent else units / 2


def write_units(size: int) -> int:
    return max(1, math.ceil(size / 1024))


class TableShape:
    """The table's key and its indexes' keys, from the shared schema."""

    def __init__(self) -> None:
        from chalicelib.store.keys import TABLE_SCHEMA

        self.key = [k["AttributeName"] for k in TABLE_SCHEMA["KeySchema"]]
        self.indexes = [
            [k["AttributeName"] for k in index["KeySchema"]]
            for index in TABLE_SCHEMA["GlobalSecondaryIndexes"]
        ]

    def key_of(self, item: dict[str, Any]) -> dict[str, Any]:
        return {name: item[name] for name in self.key}

    def index_writes(self, old: dict | None, new: dict | None) -> int:
        """WRU that keep every GSI in step with one item write. Each index projects ALL, so an
        index entry is as big as the item: a key that moves costs a delete and a put; a change
        elsewhere in the item, one put; an item entering or leaving the index, one write."""
        units = 0
        for names in self.indexes:
            was = old is not None and all(n in old for n in names)
            now = new is not None and all(n in new for n in names)
            if was and now and any(old[n] != new[n] for n in names):
                units += write_units(item_size(old)) + write_units(item_size(new))
            elif was and now:
                units += write_units(item_size(new)) if old != new else 0
            elif now:
                units += write_units(item_size(new))
            elif was:
                units += write_units(item_size(old))
        return units


class Items:
    """Items as they stand in the in-process moto backend. A write's request does not carry
    the item it replaces (nor, for an update, the result), and DynamoDB bills the larger."""

    def __init__(self, table: str) -> None:
        from moto.core import DEFAULT_ACCOUNT_ID
        from moto.dynamodb.models import dynamodb_backends

        self.backend = dynamodb_backends[DEFAULT_ACCOUNT_ID]["us-east-1"]
        self.table = table

    def get(self, key: dict[str, Any]) -> dict[str, Any] | None:
        found = self.backend.get_item(self.table, key)
        return found.to_json()["Attributes"] if found is not None else None


# --- the meter ---------------------------------------------------------------------------------


@dataclass
class Usage:
    """What one handler (a route, a task, the stream or queue consumer) consumed, in total."""

    kind: str = ""
    invocations: int = 0
    wall_s: float = 0.0  # measured, less the meter's own time
    waited_s: float = 0.0  # of which inside emulated services (moto, localstripe)
    cpu_s: float = 0.0
    billed_ms: int = 0  # measured wall, rounded up per invocation as Lambda bills
    estimated_ms: int = 0  # for AWS: CPU time at this memory's share + real service latencies
    rru: float = 0.0
    wru: float = 0.0  # the table's
    gsi_wru: float = 0.0
    calls: Counter = field(default_factory=Counter)
    put_events_entries: int = 0
    log_bytes: int = 0
    log_lines: int = 0
    forwarded_nothing: int = 0  # stream invocations without a timeline event to forward


_local = threading.local()


def _label() -> str | None:
    return getattr(_local, "label", None)


class Meter:
    def __init__(self, memory_mb: int) -> None:
        self.memory_mb = memory_mb
        self.lock = threading.Condition()
        self.usage: dict[str, Usage] = defaultdict(Usage)
        self.texts: list[tuple[str, int, str]] = []  # (provider id, segments, encoding)
        self.emails = 0
        self.stripe_calls = 0
        self.sqs_requests: Counter = Counter()
        self.transitions: Counter = Counter()
        self.paid_cents = 0
        self.intents_notified: set[str] = set()  # PaymentIntents whose webhook was handled

    @contextmanager
    def invocation(self, kind: str, label: str) -> Iterator[None]:
        """One Lambda invocation of `label`."""
        _local.label, _local.overhead, _local.cpu_overhead = label, 0.0, 0.0
        _local.waited, _local.real = 0.0, 0.0
        started, cpu_started = time.perf_counter(), time.thread_time()
        try:
            yield
        finally:
            wall = time.perf_counter() - started - _local.overhead
            cpu = max(0.0, time.thread_time() - cpu_started - _local.cpu_overhead)
            # On Lambda the handler computes (at this memory's share of a vCPU) and waits for
            # the services; here it also waits for the emulators and for the GIL.
            estimate = cpu * FULL_VCPU_MB / self.memory_mb + _local.real
            with self.lock:
                usage = self.usage[label]
                usage.kind = kind
                usage.invocations += 1
                usage.wall_s += wall
                usage.waited_s += _local.waited
                usage.cpu_s += cpu
                usage.billed_ms += max(1, math.ceil(wall * 1000))
                usage.estimated_ms += max(1, math.ceil(estimate * 1000))
                self.lock.notify_all()
            _local.label = None

    def add(self, **amounts: float) -> None:
        """Add to the current invocation's usage (nothing outside an invocation)."""
        label = _label()
        if label is not None:
            with self.lock:
                usage = self.usage[label]
                for name, amount in amounts.items():
                    setattr(usage, name, getattr(usage, name) + amount)

    def wait_for_webhook(self, intent_id: str, timeout: float = 15) -> None:
        with self.lock:
            if not self.lock.wait_for(lambda: intent_id in self.intents_notified, timeout):
                raise TimeoutError(f"no webhook handled for {intent_id}")


class Meters:
    """The meter in use: setup and the warm-up job run on one thrown away, the jobs on another."""

    current = Meter(512)


@contextmanager
def metering_overhead() -> Iterator[None]:
    """Time spent metering inside a handler is not the handler's."""
    started, cpu_started = time.perf_counter(), time.thread_time()
    try:
        yield
    finally:
        if _label() is not None:
            _local.overhead += time.perf_counter() - started
            _local.cpu_overhead += time.thread_time() - cpu_started


def _waited(seconds: float, service: str) -> None:
    """A call to an emulated service took `seconds`; the real one would take its latency."""
    if _label() is not None:
        _local.waited += seconds
        _local.real += REAL_LATENCY.get(service, REAL_LATENCY.get(service.split(".")[0], 0.0))


class BotocoreMeter:
    """Hooks on every botocore client created from now on (PynamoDB's connection, the app's
    boto3 clients): DynamoDB capacity, PutEvents entries, SES sends, and each call's time."""

    WRITES = {"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"}

    def __init__(self) -> None:
        self.shape: TableShape | None = None
        self.items: Items | None = None
        self.trace: list[tuple] | None = None  # --trace: every item write, with its sizes
        self._raw = None

    def install(self) -> None:
        import botocore.session

        original = botocore.session.Session.create_client
        meter = self

        def create_client(self, service_name, *args, **kwargs):
            client = original(self, service_name, *args, **kwargs)
            client.meta.events.register("before-parameter-build", meter.before)
            client.meta.events.register("before-send", meter.sending)
            client.meta.events.register("after-call", meter.after)
            return client

        botocore.session.Session.create_client = create_client

    # One call's hooks share botocore's request `context` dict.
    def before(self, params, model, context, **_) -> None:
        if _label() is None:
            return
        context["cost_params"] = params
        if model.service_model.service_name == "dynamodb" and model.name in self.WRITES:
            with metering_overhead():
                keys = self._keys(params)
                context["cost_old"] = {k: self.items.get(json.loads(k)) for k in keys}

    def sending(self, request, **_) -> None:
        if _label() is not None:
            request.context["cost_sent"] = time.perf_counter()

    def after(self, http_response, parsed, model, context, **_) -> None:
        if _label() is None:
            return
        service, operation = model.service_model.service_name, model.name
        if "cost_sent" in context:
            _waited(time.perf_counter() - context["cost_sent"], f"{service}.{operation}")
        with metering_overhead():
            meter = Meters.current
            meter.add(calls=Counter({f"{service}.{operation}": 1}))
            params = context.get("cost_params") or {}
            if service == "dynamodb":
                self._dynamodb(meter, operation, params, context.get("cost_old", {}), parsed)
            elif service == "events" and operation == "PutEvents":
                meter.add(put_events_entries=len(params.get("Entries", [])))
            elif service in ("ses", "sesv2") and operation in ("SendEmail", "SendRawEmail"):
                with meter.lock:
                    meter.emails += 1

    def _keys(self, params: dict[str, Any]) -> list[str]:
        """Every item key a write names, as JSON."""
        found = []
        if "TransactItems" in params:
            for action in params["TransactItems"]:
                ((_, op),) = action.items()
                found.append(op.get("Key") or self.shape.key_of(op["Item"]))
        elif "RequestItems" in params:
            for requests in params["RequestItems"].values():
                for request in requests:
                    put, delete = request.get("PutRequest"), request.get("DeleteRequest")
                    found.append(self.shape.key_of(put["Item"]) if put else delete["Key"])
        else:
            found.append(params.get("Key") or self.shape.key_of(params["Item"]))
        return [json.dumps(k, sort_keys=True) for k in found]

    def _dynamodb(self, meter: Meter, operation: str, params: dict, old: dict, parsed) -> None:
        if operation == "GetItem":
            meter.add(rru=read_units(item_size(parsed.get("Item")), params.get("ConsistentRead")))
        elif operation in ("Query", "Scan"):
            meter.add(rru=self._query_units(params, parsed))
        elif operation == "BatchGetItem":
            for table, items in (parsed.get("Responses") or {}).items():
                consistent = params["RequestItems"][table].get("ConsistentRead", False)
                meter.add(rru=sum(read_units(item_size(i), consistent) for i in items))
        elif operation == "TransactGetItems":
            items = [r.get("Item") for r in parsed.get("Responses", [])]
            meter.add(rru=sum(2 * read_units(item_size(i), True) for i in items))
        elif operation in self.WRITES:
            self._writes(meter, operation, params, old, failed="Error" in parsed)

    def _query_units(self, params: dict, parsed: dict) -> float:
        """The items read, summed, then rounded up per 4 KB: a filter does not make them
        cheaper, so a filtered page is read again without it to size what was evaluated."""
        size = sum(item_size(i) for i in parsed.get("Items") or [])
        if parsed.get("ScannedCount", 0) > parsed.get("Count", 0):
            size = self._unfiltered_size(params) or size
        consistent = bool(params.get("ConsistentRead")) and "IndexName" not in params
        return read_units(size, consistent)

    def _unfiltered_size(self, params: dict) -> int | None:
        dropped = ("FilterExpression", "Select", "ProjectionExpression")
        query = {k: v for k, v in params.items() if k not in dropped}
        label, _local.label = _local.label, None  # the meter's own read is nobody's
        try:
            if self._raw is None:
                import boto3

                from chalicelib.config import get_settings

                endpoint = get_settings().aws_endpoint_url
                self._raw = boto3.client("dynamodb", endpoint_url=endpoint)
            return sum(item_size(i) for i in self._raw.query(**query).get("Items", []))
        except Exception:
            return None
        finally:
            _local.label = label

    def _writes(self, meter: Meter, operation: str, params: dict, old: dict, failed: bool):
        transactional = operation == "TransactWriteItems"
        checks = {
            json.dumps(action["ConditionCheck"]["Key"], sort_keys=True)
            for action in params.get("TransactItems", [])
            if "ConditionCheck" in action
        }
        for key, before in old.items():
            after = self.items.get(json.loads(key))
            index_units = 0
            if key in checks or failed:
                # A condition check (or a refused write) is billed on the item as it stands.
                units = write_units(item_size(before))
            else:
                units = write_units(max(item_size(before), item_size(after)))
                index_units = self.shape.index_writes(before, after)
            units *= 2 if transactional else 1
            meter.add(wru=units, gsi_wru=index_units)
            if self.trace is not None:
                kind = json.loads(key).get("SK", {}).get("S", "?").split("#")[0]
                check = " check" if key in checks else ""
                self.trace.append(
                    (_label(), operation + check, kind, item_size(before), item_size(after))
                    + (units, index_units)
                )


class LogMeter:
    """A stream for the app's Powertools logger that counts what it would ship to CloudWatch."""

    def install(self) -> None:
        from chalicelib.logs import logger

        logger.registered_handler.setStream(self)

    def write(self, text: str) -> int:
        if _label() is not None:
            data = text.encode()
            Meters.current.add(log_bytes=len(data), log_lines=data.count(b"\n"))
        return len(text)

    def flush(self) -> None:
        pass


def fast_emulator_reads() -> None:
    """Let moto answer reads at DynamoDB's speed.

    moto 5.2 renders each response through a generic, model-driven serializer that costs about a
    millisecond per attribute map: a Query of one job's 30 items took 230-300 ms here, ten times
    the app's own work, and would have been billed as the app's (and the stream poller's
    GetRecords made the run slow). These results are already in the wire format, so they are
    sent as plain JSON instead: the same document, parsed by botocore the same way.
    """
    from moto.dynamodb.responses import DynamoHandler
    from moto.dynamodbstreams.responses import DynamoDBStreamsHandler

    reads = {"GetItem", "Query", "BatchGetItem", "TransactGetItems", "GetRecords"}
    for handler in (DynamoHandler, DynamoDBStreamsHandler):
        handler.serialized = _plain_json(handler.serialized, reads)


def _epoch(value: Any) -> float:
    """Timestamps go over JSON protocols as epoch seconds (moto keeps naive UTC datetimes)."""
    if isinstance(value, datetime):
        zone = value.tzinfo or ZoneInfo("UTC")
        return value.replace(tzinfo=zone).timestamp()
    raise TypeError(type(value).__name__)


def _plain_json(original: Callable, actions: set[str]) -> Callable:
    def serialized(self, action_result):
        result = action_result.result
        if isinstance(result, dict) and self._get_action() in actions:
            try:
                body = json.dumps(result, default=_epoch)
            except TypeError:
                return original(self, action_result)
            headers = {"Content-Type": "application/x-amz-json-1.0", **self.response_headers}
            return 200, headers, body
        return original(self, action_result)

    return serialized


# --- wrappers around the app's entry points and outbound calls ---------------------------------


def _invocation(kind: str, label: str, handler: Callable) -> Callable:
    def run(event, context=None):
        meter = Meters.current
        with meter.invocation(kind, label):
            entries = meter.usage[label].put_events_entries
            result = handler(event, context)
            if kind == "stream" and meter.usage[label].put_events_entries == entries:
                meter.add(forwarded_nothing=1)
            return result

    return run


def _time_api_invocations(stage: Stage) -> None:
    """Chalice's local server hands each request to the app as API Gateway hands it to Lambda:
    the app object is called with the proxy event. Time that call. Stripe's webhook arrives on
    its own: it takes the stage's turn like a job's step, and tells the job it was handled."""
    from chalice.app import Chalice

    original = Chalice.__call__

    def call(self, event, context):
        request = event.get("requestContext") or {}
        method = event.get("httpMethod") or request.get("httpMethod")
        label = f"{method} {request.get('resourcePath') or event.get('resource')}"
        meter = Meters.current
        if label != "POST /webhooks/stripe/connect":  # the tenants' payments: Connect events
            with meter.invocation("api", label):
                return original(self, event, context)
        with stage.turn:
            with meter.invocation("api", label):
                response = original(self, event, context)
            stage.settle()
        if response.get("statusCode") == 200:
            intent = json.loads(event.get("body") or "{}").get("data", {}).get("object", {})
            with meter.lock:
                meter.intents_notified.add(intent.get("id"))
                meter.lock.notify_all()
        return response

    Chalice.__call__ = call


def _meter_outbound() -> None:
    """Texts (with segments as carriers bill them) and the app's Stripe API calls."""
    from chalicelib.domain.templates import segments
    from chalicelib.integrations import payments_stripe, sms

    send = sms.OutboxGateway.send

    def counted_send(self, to, from_, body, status_callback):
        sid = send(self, to, from_, body, status_callback)
        _waited(0.0, "sms")
        encoding, count = segments(body)
        with Meters.current.lock:
            Meters.current.texts.append((sid, count, encoding))
        return sid

    sms.OutboxGateway.send = counted_send
    calling = payments_stripe._calling

    @contextmanager
    def timed_calling(what: str):
        with calling(what):
            started = time.perf_counter()
            try:
                yield
            finally:
                _waited(time.perf_counter() - started, "stripe")
                with Meters.current.lock:
                    Meters.current.stripe_calls += 1

    payments_stripe._calling = timed_calling


def _meter_queue_requests(poller) -> None:
    """SQS requests per message: EventBridge's SendMessage, the event source mapping's receive
    and its delete. (Its empty long polls are a fixed cost per hour, not per job.)"""
    sqs = poller.sqs
    receive, delete = sqs.receive_message, sqs.delete_message_batch

    def receive_message(**kwargs):
        response = receive(**kwargs)
        if response.get("Messages"):
            with Meters.current.lock:
                Meters.current.sqs_requests["ReceiveMessage"] += 1
                Meters.current.sqs_requests["SendMessage"] += len(response["Messages"])
        return response

    def delete_message_batch(**kwargs):
        with Meters.current.lock:
            Meters.current.sqs_requests["DeleteMessageBatch"] += 1
        return delete(**kwargs)

    sqs.receive_message, sqs.delete_message_batch = receive_message, delete_message_batch


# --- the stage, in this process ----------------------------------------------------------------


class Gate:
    """Wait states end when the journey says so."""

    def __init__(self) -> None:
        self.changed = threading.Condition()
        self.waiting: set[str] = set()
        self.released: set[str] = set()

    def wait(self, request) -> None:  # a localstage.clock.Wait, in moto's execution thread
        with self.changed:
            self.waiting.add(request.execution)
            self.changed.notify_all()
            while request.execution not in self.released and not request.stopped:
                self.changed.wait(0.05)
            self.waiting.discard(request.execution)
            self.released.discard(request.execution)

    def release(self, name_part: str, timeout: float = 20) -> str:
        """End the wait of the execution whose name contains `name_part` (once it waits)."""
        with self.changed:
            found = self.changed.wait_for(
                lambda: [n for n in self.waiting if name_part in n], timeout
            )
            if not found:
                raise TimeoutError(f"no execution for {name_part} reached its wait")
            self.released.add(found[0])
            self.changed.notify_all()
            return found[0]


class Stage:
    def __init__(self, botocore_meter: BotocoreMeter) -> None:
        from localstage import emulators

        self.emulators = emulators
        self.port, self.stripe_port = emulators.free_port(), emulators.free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.botocore = botocore_meter
        self.gate = Gate()
        self.moto = self.stripe = self.server = None
        self.settling = threading.Lock()  # the pollers are one event source mapping each
        self.turn = threading.RLock()  # one job's step at a time (see run_job)

    def start(self) -> None:
        from localstage import clock
        from localstage.__main__ import TABLE, chalice_server, stage_environment

        local_dir = Path(tempfile.mkdtemp(prefix="fieldline-cost-"))
        log = local_dir / "localstripe.log"
        stripe = threading.Thread(  # it takes seconds to come up: meanwhile, moto
            target=lambda: setattr(
                self, "stripe", self.emulators.start_localstripe(self.stripe_port, log_path=log)
            )
        )
        stripe.start()
        self.moto, endpoint = self.emulators.start_moto()
        fast_emulator_reads()
        os.environ.update(stage_environment(endpoint, self.stripe_port, self.base, local_dir))
        self.emulators.create_table(endpoint, TABLE)
        env = clock.provision(endpoint)
        stripe.join()
        self._subscribe_webhook()

        import app as chalice_app
        from chalicelib.handlers.tasks import TASKS

        self.botocore.shape, self.botocore.items = TableShape(), Items(TABLE)
        tasks = {name: _invocation("task", f"task: {name}", fn) for name, fn in TASKS.items()}
        clock.route_tasks(tasks)
        clock.patch_waits(self.gate.wait)
        clock.patch_retry_sleep(lambda seconds: None)
        _time_api_invocations(self)
        LogMeter().install()
        _meter_outbound()
        self.server = chalice_server(self.port)
        http_server = self.server.server  # its handler class is a partial of Chalice's
        http_server.RequestHandlerClass.func.log_message = lambda *args: None  # no access log
        report_error = http_server.handle_error

        def handle_error(request, client_address):
            if not isinstance(sys.exc_info()[1], ConnectionError):  # a client hanging up
                report_error(request, client_address)

        http_server.handle_error = handle_error
        threading.Thread(target=http_server.serve_forever, daemon=True).start()
        forward = _invocation("stream", "stream: timeline → bus", chalice_app.forward_timeline)
        self.stream = clock.StreamPoller(endpoint, TABLE, forward, env["FIELDLINE_STREAM_DLQ_URL"])
        consume = _invocation("queue", "queue: workflow consumer", chalice_app.workflow_events)
        self.queue = clock.QueuePoller(endpoint, env["FIELDLINE_WORKFLOW_QUEUE_URL"], consume)
        _meter_queue_requests(self.queue)
        import boto3

        self.sfn = boto3.client("stepfunctions", endpoint_url=endpoint)
        self.machines = {
            "reminders": env["FIELDLINE_REMINDERS_STATE_MACHINE_ARN"],
            "dunning": env["FIELDLINE_DUNNING_STATE_MACHINE_ARN"],
        }
        self.emulators.wait_until_up(f"{self.base}/health")

    def _subscribe_webhook(self) -> None:
        """localstripe posts what a Stripe Connect endpoint subscribed to the app's events
        receives (the tenants' payments are on their connected accounts)."""
        import urllib.request

        from chalicelib.services.payments import ACCOUNT_EVENTS, HANDLERS
        from localstage.__main__ import CONNECT_WEBHOOK_SECRET

        body = {
            "url": f"{self.base}/webhooks/stripe/connect",
            "secret": CONNECT_WEBHOOK_SECRET,
            "events": sorted({*HANDLERS, *ACCOUNT_EVENTS, "payout.paid"}),
        }
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.stripe_port}/_config/connect_webhooks/fieldline",
            data=json.dumps(body).encode(),
            headers={**self.emulators.stripe_auth(), "Content-Type": "application/json"},
            method="POST",
        )
        urllib.request.urlopen(request, timeout=5)

    def settle(self) -> None:
        """Deliver what was written, as Lambda's pollers would: stream → bus → queue →
        consumer, until quiet. Called after each request: at a job's pace (minutes to days
        between requests) every write request is a stream batch of its own."""
        with self.settling:
            for _ in range(50):
                # Only forwarded events reach the queue; only the consumer's writes (a claim,
                # a started workflow) reach the stream again.
                if not self.stream.poll() or not self.queue.poll():
                    return
        raise RuntimeError("the stream and the queue never went quiet")

    def finished(self, workflow: str, name: str, timeout: float = 20) -> str:
        arn = self.machines[workflow].replace(":stateMachine:", ":execution:", 1) + f":{name}"
        deadline = time.monotonic() + timeout
        while self.sfn.describe_execution(executionArn=arn)["status"] == "RUNNING":
            if time.monotonic() > deadline:
                raise TimeoutError(f"{name} still running")
            time.sleep(0.01)
        return arn

    def transitions(self, arn: str) -> int:
        """State transitions as Step Functions bills them: one per state entered."""
        entered, token = 0, None
        while True:
            page = self.sfn.get_execution_history(
                executionArn=arn, maxResults=1000, **({"nextToken": token} if token else {})
            )
            entered += sum(1 for e in page["events"] if e["type"].endswith("StateEntered"))
            token = page.get("nextToken")
            if not token:
                return entered

    def stop(self) -> None:
        if self.server is not None:
            self.server.server.shutdown()
        if self.stripe is not None:
            self.emulators.stop(self.stripe)
        if self.moto is not None:
            self.moto.stop()


# --- the journey -------------------------------------------------------------------------------


def line(description: str, cents: int, quantity: int = 1, taxable: bool = True) -> dict:
    return {
        "description": description,
        "quantity": quantity,
        "unit_price_cents": cents,
        "taxable": taxable,
    }


THREE_OPTIONS = [
    {"name": "Good", "line_items": [line("Cartridge", 1999), line("Labour", 8500, taxable=False)]},
    {
        "name": "Better",
        "line_items": [line("Faucet", 14900), line("Labour", 8500, 2, taxable=False)],
    },
    {"name": "Best", "line_items": [line("Faucet", 32900), line("Labour", 8500, 2, taxable=False)]},
]
TEST_CARD = {"number": "4242424242424242", "exp_month": 12, "exp_year": 2034, "cvc": "123"}
CHICAGO_LOOP = {"lat": 41.8781, "lng": -87.6298}


class Http:
    """Requests to the stage; a session per thread (jobs run side by side)."""

    def __init__(self, base: str) -> None:
        self.base, self.local = base, threading.local()

    def call(self, method: str, path: str, token: str | None = None, **kwargs) -> Any:
        import requests

        if not hasattr(self.local, "session"):
            self.local.session = requests.Session()
        headers = kwargs.pop("headers", {})
        if token:
            headers["Authorization"] = f"Bearer {token}"
        url = self.base + path
        response = self.local.session.request(method, url, headers=headers, timeout=30, **kwargs)
        if response.status_code >= 300:
            raise RuntimeError(f"{method} {path}: {response.status_code} {response.text}")
        return response.json() if response.content else None


@dataclass
class Tenant:
    owner: str
    technician_id: str
    technician: str


def setup_tenant(http: Http) -> Tenant:
    """Once per tenant, not per job."""
    created = http.call("POST", "/dev/tenants", json={"name": "Cost Bench", "timezone": TIMEZONE})
    owner = created["owner_token"]
    http.call("PATCH", "/settings", owner, json={"tax_rate_bps": 825, "phone": "(312) 555-0100"})
    every_day = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
    tech = http.call(
        "POST",
        "/technicians",
        owner,
        json={
            "name": "Sam Ortiz",
            "phone": "(312) 555-0177",
            "shift": {"days": every_day, "start": "07:00", "end": "19:00"},
            "home": CHICAGO_LOOP,
        },
    )
    token = http.call(
        "POST",
        "/dev/tokens",
        json={"tenant_id": created["tenant_id"], "role": "technician", "user_id": tech["id"]},
    )["token"]
    return Tenant(owner, tech["id"], token)


def visit_window(n: int) -> tuple[str, str]:
    """Job n's slot: five a day from the day after tomorrow, none overlapping."""
    zone = ZoneInfo(TIMEZONE)
    day = datetime.now(zone).date() + timedelta(days=2 + n // 5)
    start = datetime(day.year, day.month, day.day, 8 + 2 * (n % 5), tzinfo=zone)
    return start.isoformat(), (start + timedelta(hours=2)).isoformat()


def run_job(stage: Stage, http: Http, tenant: Tenant, n: int) -> dict[str, Any]:
    """One job from lead to paid, with its reminder and dunning executions.

    Each step takes the stage's turn: its request (or the end of a wait) and the delivery of
    what it wrote happen before another job's step, so every writing request is a stream
    batch of its own, as at a job's real pace. Only the wait for Stripe's webhook (localstripe
    sends it a second later) lets another job go ahead.
    """

    def step(method: str, path: str, token: str | None = None, body: dict | None = None):
        with stage.turn:
            answer = http.call(method, path, token, json=body)
            stage.settle()
            return answer

    def time_passes(workflow: str, about: str) -> str:
        with stage.turn:
            name = stage.gate.release(about)
            stage.finished(workflow, name)
            stage.settle()
            return name

    owner, technician = tenant.owner, tenant.technician
    customer = step(
        "POST",
        "/customers",
        owner,
        {
            "name": f"Dana Whitfield {n}",
            "phone": f"(312) 555-{100 + n % 100:04d}",
            "email": f"dana{n}@example.com",
            "address": {
                "line1": "1200 W Fulton St",
                "city": "Chicago",
                "region": "IL",
                "postal_code": "60607",
                "lat": 41.8868,
                "lng": -87.6597,
            },
        },
    )
    lead = {"customer_id": customer["id"], "title": "New faucet"}
    job_id = step("POST", "/leads", owner, lead)["id"]
    quote = step("POST", f"/jobs/{job_id}/quotes", owner, {"options": THREE_OPTIONS})
    sent = step("POST", f"/jobs/{job_id}/quotes/{quote['id']}/send", owner)
    # The customer opens the texted link and approves the middle option.
    token = sent["link"].rsplit("/", 1)[1]
    shown = step("GET", f"/public/quotes/{token}")
    better = next(o for o in shown["options"] if o["name"] == "Better")
    approval = {"option_id": better["id"], "signed_by": f"Dana Whitfield {n}"}
    step("POST", f"/public/quotes/{token}/approve", body=approval)
    start, end = visit_window(n)
    booking = {
        "window_start": start,
        "window_end": end,
        "duration_minutes": 60,
        "technician_ids": [tenant.technician_id],
    }
    visit = step("POST", f"/jobs/{job_id}/visits", owner, booking)
    # The day before: the reminder's wait ends and it texts.
    reminder = time_passes("reminders", visit["id"])
    # The visit's day: the technician sets off, arrives, finishes.
    status = f"/jobs/{job_id}/visits/{visit['id']}/status"
    step("POST", status, technician, {"status": "en_route", "location": CHICAGO_LOOP})
    step("POST", status, technician, {"status": "on_site"})
    step("POST", status, technician, {"status": "completed"})
    invoice = step("POST", f"/jobs/{job_id}/invoices", owner, {"kind": "final"})
    invoice = step("POST", f"/jobs/{job_id}/invoices/{invoice['id']}/send", owner)
    # The customer opens the pay link and pays by card; Stripe tells the app by webhook (whose
    # handler takes the turn, see _time_api_invocations).
    page = step("GET", f"/public/invoices/{invoice['link'].rsplit('/', 1)[1]}")
    intent_id = page["client_secret"].split("_secret_")[0]
    pay_with_test_card(stage, intent_id)
    Meters.current.wait_for_webhook(intent_id)
    # The first dunning step comes round, finds the invoice paid and ends the execution.
    dunning = time_passes("dunning", invoice["id"])
    return {
        "job_id": job_id,
        "executions": {"reminders": reminder, "dunning": dunning},
        "total_cents": page["total_cents"],
    }


def pay_with_test_card(stage: Stage, intent_id: str) -> None:
    """What Stripe.js does in the customer's browser (localstripe's confirm refuses a
    payment_method argument: set it on the intent, then confirm)."""
    import stripe

    client = stripe.StripeClient(
        "sk_test_local",
        base_addresses={"api": f"http://127.0.0.1:{stage.stripe_port}"},
        max_network_retries=0,
    )
    card = client.v1.payment_methods.create(params={"type": "card", "card": TEST_CARD})
    client.v1.payment_intents.update(intent_id, params={"payment_method": card.id})
    confirmed = client.v1.payment_intents.confirm(intent_id)
    if confirmed.status != "succeeded":
        raise RuntimeError(f"the test card was not charged: {confirmed.status}")


def twilio_callbacks(stage: Stage, http: Http, sids: list[str]) -> None:
    """Twilio's delivery-status callbacks for the texts, signed as Twilio signs them."""
    from chalicelib.config import get_settings

    settings = get_settings()
    path = "/webhooks/twilio/status"
    for sid in sids:
        for status in TWILIO_CALLBACK_STATUSES:
            params = {
                "AccountSid": settings.twilio_account_sid,
                "ApiVersion": "2010-04-01",
                "MessageSid": sid,
                "MessageStatus": status,
                "SmsSid": sid,
                "SmsStatus": status,
            }
            signed = (
                settings.public_base_url + path + "".join(f"{k}{params[k]}" for k in sorted(params))
            )
            digest = hmac.new(settings.twilio_auth_token.encode(), signed.encode(), hashlib.sha1)
            headers = {
                "Content-Type": "application/x-www-form-urlencoded",
                "X-Twilio-Signature": base64.b64encode(digest.digest()).decode(),
            }
            http.call("POST", path, headers=headers, data=urlencode(params))
            stage.settle()


# --- the report --------------------------------------------------------------------------------


@dataclass
class Report:
    figures: dict[str, float]  # per job
    dollars: dict[str, float]  # per 1,000 jobs
    apart: dict[str, float]  # per 1,000 jobs
    handlers: list[dict[str, Any]]  # per job


def report(meter: Meter, jobs: int) -> Report:
    usage = meter.usage.values()
    gb = meter.memory_mb / 1024

    def total(attribute: str, kind: str | None = None) -> float:
        return sum(getattr(u, attribute) for u in usage if kind in (None, u.kind))

    def ddb_calls(u: Usage) -> int:
        return sum(n for op, n in u.calls.items() if op.startswith("dynamodb."))

    invocations = total("invocations")
    platform_logs = invocations * (PLATFORM_LOG_BYTES + PLATFORM_LOG_EVENTS * LOG_EVENT_OVERHEAD)
    figures = {
        "ddb_rru": total("rru"),
        "ddb_wru_table": total("wru"),
        "ddb_wru_gsi": total("gsi_wru"),
        "ddb_calls": sum(ddb_calls(u) for u in usage),
        "lambda_invocations": invocations,
        "api_requests": total("invocations", "api"),
        "webhooks": sum(
            u.invocations for label, u in meter.usage.items() if label.startswith("POST /webhook")
        ),
        "stream_batches": total("invocations", "stream"),
        "stream_batches_forwarding_nothing": total("forwarded_nothing"),
        "queue_batches": total("invocations", "queue"),
        "task_invocations": total("invocations", "task"),
        "handler_seconds": total("wall_s"),
        "emulator_seconds": total("waited_s"),
        "cpu_seconds": total("cpu_s"),
        "gb_s_measured": total("billed_ms") / 1000 * gb,
        "gb_s_estimated": total("estimated_ms") / 1000 * gb,
        "sfn_transitions": sum(meter.transitions.values()),
        "eventbridge_entries": total("put_events_entries"),
        "sqs_requests": sum(meter.sqs_requests.values()),
        "log_bytes": total("log_bytes") + LOG_EVENT_OVERHEAD * total("log_lines") + platform_logs,
        "texts": len(meter.texts),
        "sms_segments": sum(s for _, s, _ in meter.texts),
        "texts_ucs2": sum(1 for _, _, encoding in meter.texts if encoding == "UCS-2"),
        "emails": meter.emails,
        "stripe_calls": meter.stripe_calls,
    }
    f = {name: value / jobs for name, value in figures.items()}

    def dollars(key: str, amount: float) -> float:
        return 1000 * amount * PRICES[key].dollars / PRICES[key].per

    # Lambda duration at the larger of the two: what was measured on the emulators, and the
    # estimate for AWS (own CPU at 512 MB's share, real services' latency).
    gb_s = max(f["gb_s_measured"], f["gb_s_estimated"])
    costs = {
        "DynamoDB reads": dollars("ddb_rru", f["ddb_rru"]),
        "DynamoDB writes, table": dollars("ddb_wru", f["ddb_wru_table"]),
        "DynamoDB writes, GSIs": dollars("ddb_wru", f["ddb_wru_gsi"]),
        "Lambda requests": dollars("lambda_requests", f["lambda_invocations"]),
        "Lambda duration": dollars("lambda_gb_s", gb_s),
        "API Gateway (REST)": dollars("apigw_rest", f["api_requests"]),
        "Step Functions (Standard)": dollars("sfn_standard", f["sfn_transitions"]),
        "EventBridge": dollars("eventbridge", f["eventbridge_entries"]),
        "SQS": dollars("sqs", f["sqs_requests"]),
        "CloudWatch Logs": dollars("logs", f["log_bytes"]),
    }
    invoice_cents = meter.paid_cents / jobs
    apart = {
        "SES email": dollars("ses", f["emails"]),
        "SMS (Twilio)": 1000 * f["sms_segments"] * SMS_PER_SEGMENT,
        "Card fees (Stripe)": 1000 * (CARD_PERCENT * invoice_cents + CARD_FIXED_CENTS) / 100,
        "invoice_dollars": invoice_cents / 100,
    }
    handlers = [
        {
            "handler": label,
            "kind": u.kind,
            "invocations": u.invocations / jobs,
            "ms_measured": 1000 * u.wall_s / u.invocations,
            "ms_in_emulators": 1000 * u.waited_s / u.invocations,
            "ms_estimated": u.estimated_ms / u.invocations,
            "ddb_calls": ddb_calls(u) / jobs,
            "rru": u.rru / jobs,
            "wru": (u.wru + u.gsi_wru) / jobs,
        }
        for label, u in sorted(meter.usage.items(), key=lambda kv: -(kv[1].wru + kv[1].gsi_wru))
    ]
    return Report(f, costs, apart, handlers)


def _all_calls(meter: Meter) -> Counter:
    calls: Counter = Counter()
    for usage in meter.usage.values():
        calls.update(usage.calls)
    return calls


def _number(value: float) -> str:
    return f"{value:,.2f}".rstrip("0").rstrip(".") if value % 1 else f"{value:,.0f}"


def print_report(result: Report, jobs: int, parallel: int, seconds: float, memory_mb: int):
    f = result.figures
    runs = f"{jobs} job{'s' if jobs != 1 else ''}, {min(parallel, jobs)} at a time"
    print(f"\nFieldline cost per job: {runs}, lead to paid, in {seconds:.0f} s")
    print(f"machine: {platform.platform()}, {os.cpu_count()} CPUs, Python {sys.version.split()[0]}")
    rows = [
        ("DynamoDB read request units", f["ddb_rru"]),
        ("DynamoDB write request units, table", f["ddb_wru_table"]),
        ("DynamoDB write request units, GSIs", f["ddb_wru_gsi"]),
        ("DynamoDB calls", f["ddb_calls"]),
        ("Lambda invocations", f["lambda_invocations"]),
        ("  API Gateway requests", f["api_requests"]),
        ("    of which webhooks (Stripe, Twilio)", f["webhooks"]),
        ("  stream batches", f["stream_batches"]),
        ("    with no timeline event to forward", f["stream_batches_forwarding_nothing"]),
        ("  workflow queue batches", f["queue_batches"]),
        ("  Step Functions task invocations", f["task_invocations"]),
        ("handler seconds measured", f["handler_seconds"]),
        ("  of which waiting on the emulators", f["emulator_seconds"]),
        (f"GB-s at {memory_mb} MB, measured", f["gb_s_measured"]),
        (f"GB-s at {memory_mb} MB, estimated for AWS", f["gb_s_estimated"]),
        ("Step Functions state transitions", f["sfn_transitions"]),
        ("EventBridge PutEvents entries", f["eventbridge_entries"]),
        ("SQS requests", f["sqs_requests"]),
        ("CloudWatch Logs bytes", f["log_bytes"]),
        ("texts", f["texts"]),
        ("  of which UCS-2 (70 characters a segment)", f["texts_ucs2"]),
        ("SMS segments", f["sms_segments"]),
        ("emails", f["emails"]),
        ("Stripe API calls by the app", f["stripe_calls"]),
    ]
    print("\nper job")
    for name, value in rows:
        print(f"  {name:44} {_number(value):>10}")
    total = sum(result.dollars.values())
    print("\ndollars per 1,000 jobs, us-east-1 on-demand")
    for name, dollars in sorted(result.dollars.items(), key=lambda kv: -kv[1]):
        print(f"  {name:44} {dollars:10.4f}  {100 * dollars / total:5.1f}%")
    verdict = "under" if total < 1 else "OVER"
    print(f"  {'infrastructure':44} {total:10.4f}  {verdict} the $1.00 target")
    print(f"  dominant: {max(result.dollars, key=result.dollars.get)}")
    print("shown apart (messages and money), per 1,000 jobs")
    print(f"  {'email, SES':44} {result.apart['SES email']:10.4f}")
    print(f"  {'SMS, Twilio (before carrier fees)':44} {result.apart['SMS (Twilio)']:10.2f}")
    card = result.apart["Card fees (Stripe)"]
    invoice = result.apart["invoice_dollars"]
    print(f"  {'card fees, Stripe 2.9% + 30c':44} {card:10.2f}  (invoices of ${invoice:,.2f})")
    print("prices used (us-east-1; docs/COST.md says when they were taken)")
    for price in PRICES.values():
        dollars = f"{price.dollars:.10f}".rstrip("0").rstrip(".")
        print(f"  {price.what:44} ${dollars} per {price.per:,.0f} {price.unit}")
    print(f"  {'Twilio SMS, US':44} ${SMS_PER_SEGMENT:g} per segment")
    print("\nper job, by handler (ms per invocation: measured / in emulators / AWS estimate)")
    print(f"  {'handler':40} {'inv':>5} {'meas':>6} {'emul':>6} {'est':>5} {'calls':>5}", end="")
    print(f" {'RRU':>5} {'WRU':>5}")
    for h in result.handlers:
        print(
            f"  {h['handler'][:40]:40} {h['invocations']:5.2f} {h['ms_measured']:6.1f} "
            f"{h['ms_in_emulators']:6.1f} {h['ms_estimated']:5.1f} {h['ddb_calls']:5.1f} "
            f"{h['rru']:5.1f} {h['wru']:5.1f}"
        )


def print_trace(writes: list[tuple]) -> None:
    print("\nevery item the jobs wrote (sizes in bytes, before and after)")
    print(f"  {'handler':40} {'operation':24} {'item':8} {'old':>5} {'new':>5} {'WRU':>4} GSI")
    for label, operation, kind, old, new, units, index_units in writes:
        print(
            f"  {label[:40]:40} {operation:24} {kind:8} {old:5} {new:5} {units:4} {index_units:3}"
        )


# --- main --------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=20)
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    parser.add_argument("--parallel", type=int, default=3, help="jobs in flight at once")
    parser.add_argument("--trace", action="store_true", help="list every write (use --jobs 1)")
    args = parser.parse_args()
    from localstage import emulators

    os.environ.update(emulators.FAKE_AWS_ENV)
    for name in [n for n in os.environ if n.startswith("FIELDLINE_")]:
        os.environ.pop(name)  # the stage configures itself, as it does for a user
    os.environ["POWERTOOLS_LOG_LEVEL"] = "INFO"  # as the deployed stages log
    botocore_meter = BotocoreMeter()
    botocore_meter.install()
    stage = Stage(botocore_meter)
    try:
        run(stage, args.jobs, max(1, args.parallel), args.json, args.trace)
    finally:
        stage.stop()


def run(stage: Stage, jobs: int, parallel: int, json_path: Path | None, trace: bool) -> None:
    memory = lambda_memory_mb()
    stage.start()
    http = Http(stage.base)
    tenant = setup_tenant(http)
    stage.settle()
    # A first job on the throw-away meter: each handler's first call pays imports and lazy
    # model builds (a cold start: bench.coldstart measures it). The jobs measured run warm.
    run_job(stage, http, tenant, 0)
    Meters.current = meter = Meter(memory)
    started = time.perf_counter()
    if trace:
        stage.botocore.trace = []
    # Jobs side by side, taking turns (see run_job): one's wait for a webhook is another's go.
    with ThreadPoolExecutor(max_workers=parallel) as pool:
        done = list(pool.map(lambda n: run_job(stage, http, tenant, n), range(1, jobs + 1)))
    twilio_callbacks(stage, http, [sid for sid, _, _ in meter.texts])
    seconds = time.perf_counter() - started
    Meters.current = Meter(memory)  # nothing from here on is a job's
    for job in done:
        for workflow, name in job["executions"].items():
            meter.transitions[workflow] += stage.transitions(stage.finished(workflow, name))
        meter.paid_cents += job["total_cents"]
        stage_now = http.call("GET", f"/jobs/{job['job_id']}", tenant.owner)["stage"]
        if stage_now != "paid":
            raise RuntimeError(f"job {job['job_id']} ended {stage_now}, not paid")
    result = report(meter, jobs)
    print_report(result, jobs, parallel, seconds, memory)
    if trace:
        print_trace(stage.botocore.trace or [])
    if json_path:
        figures = {
            "jobs": jobs,
            "parallel": parallel,
            "seconds": seconds,
            "memory_mb": memory,
            "per_job": result.figures,
            "dollars_per_1000_jobs": result.dollars,
            "apart_per_1000_jobs": result.apart,
            "transitions": {k: v / jobs for k, v in meter.transitions.items()},
            "sqs_requests": {k: v / jobs for k, v in meter.sqs_requests.items()},
            "calls": {k: v / jobs for k, v in sorted(_all_calls(meter).items())},
            "handlers": result.handlers,
        }
        json_path.write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
