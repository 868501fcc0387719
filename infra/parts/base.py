"""What the stack's parts share: stage options, physical names, ids, dead-letter queues."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aws_cdk import CfnElement, Duration, Stack
from aws_cdk import aws_events as events
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sqs as sqs
from constructs import Construct

ROOT = Path(__file__).resolve().parents[2]
CHALICE_CONFIG = ROOT / ".chalice" / "config.json"


class StackError(Exception):
    """The app and the stack disagree (an unknown event source, an unresolved ASL name…)."""


@dataclass(frozen=True)
class StageOptions:
    """What may differ between deployments, from `cdk ... -c name=value` context."""

    stage: str
    public_base_url: str | None = None
    twilio_account_sid: str | None = None
    alarm_email: str | None = None
    # The customer's pay page loads Stripe.js with it (not a secret: pk_live_… / pk_test_…).
    stripe_publishable_key: str | None = None
    # "amazon_location" (road travel times from a route calculator) or "straight_line".
    travel_provider: str = "amazon_location"
    # The platform's fee on each card payment, in basis points (0: none; at most 1000).
    application_fee_bps: int = 0
    cors_origins: tuple[str, ...] = ("*",)
    throttle_rate_limit: float = 50.0
    throttle_burst_limit: int = 100
    log_retention_days: int = 90

    @classmethod
    def from_context(cls, node) -> StageOptions:
        def value(name: str):
            found = node.try_get_context(name)
            return None if found in (None, "") else found

        stage = value("stage") or "dev"
        origins = value("cors_origins")
        return cls(
            stage=stage,
            public_base_url=value("public_base_url"),
            twilio_account_sid=value("twilio_account_sid"),
            alarm_email=value("alarm_email"),
            stripe_publishable_key=value("stripe_publishable_key"),
            travel_provider=value("travel_provider") or cls.travel_provider,
            application_fee_bps=int(value("application_fee_bps") or cls.application_fee_bps),
            cors_origins=tuple(origins.split(",")) if origins else cls.cors_origins,
            throttle_rate_limit=float(value("throttle_rate_limit") or cls.throttle_rate_limit),
            throttle_burst_limit=int(value("throttle_burst_limit") or cls.throttle_burst_limit),
            log_retention_days=int(value("log_retention_days") or cls.log_retention_days),
        )


@dataclass(frozen=True)
class Names:
    """Physical names the app must know before the stack exists (it reads them at import)."""

    stage: str

    @property
    def prefix(self) -> str:
        return f"fieldline-{self.stage}"

    @property
    def table(self) -> str:
        return self.prefix

    @property
    def bus(self) -> str:
        return self.prefix

    @property
    def workflow_queue(self) -> str:
        return f"{self.prefix}-workflow-events"

    @property
    def outbound_events_queue(self) -> str:
        """Outbound webhooks: the bus's events, to the fan-out (handlers/deliveries.py)."""
        return f"{self.prefix}-outbound-events"

    @property
    def deliveries_queue(self) -> str:
        """Outbound webhooks: one message group per subscription and job (FIFO)."""
        return f"{self.prefix}-deliveries.fifo"

    @property
    def secret(self) -> str:
        return f"fieldline/{self.stage}/integrations"

    @property
    def function_log_group(self) -> str:
        return f"/aws/lambda/{self.prefix}"

    @property
    def route_calculator(self) -> str:
        return f"{self.prefix}-routes"

    @property
    def optimizer_function(self) -> str:
        """Named, so the API function can invoke it without a reference to it (a cycle)."""
        return f"{self.prefix}-optimize_day"

    def state_machine(self, workflow: str) -> str:
        return f"{self.prefix}-{workflow}"

    @property
    def schedule_group(self) -> str:
        return self.prefix


def stage_block(stage: str) -> dict[str, Any]:
    """The stage's block of .chalice/config.json: memory, timeout, its static environment."""
    stages = json.loads(CHALICE_CONFIG.read_text())["stages"]
    if stage == "local" or stage not in stages:
        deployable = sorted(name for name in stages if name != "local")
        raise StackError(f"unknown stage '{stage}'; .chalice/config.json has {deployable}")
    return stages[stage]


class Part(Construct):
    """A part of the stack. Its id stays out of its resources' logical ids (see flat_logical_id):
    the parts were carved out of one flat stack, and a stateful resource whose logical id
    changes is a new resource to CloudFormation (the table, the secret, the bucket and the
    user pool keep their names, so their replacements would fail to create)."""


class PartsStack(Stack):
    """A stack whose resources' logical ids leave out the parts they sit in.

    Not the ids CDK derives from another construct's whole path (Names.unique_id): a queue
    subscribed to a topic is named after the topic's path, a rule's Lambda permission after
    its target's, an SQS policy statement's Sid after its rule's. Those do change with a part;
    api.py keeps its rule targets in the stack itself for that reason."""

    def _allocate_logical_id(self, cfn_element: CfnElement) -> str:
        scopes = cfn_element.node.scopes
        return flat_logical_id(scopes[scopes.index(self) + 1 :])


def flat_logical_id(path: list[Construct]) -> str:
    """CDK's logical id (makeUniqueId, aws-cdk-lib core/lib/private/uniqueid.ts) of a resource,
    from its path below the stack without the parts (Part) it sits in."""
    components = [c.node.id for c in path if not isinstance(c, Part) and c.node.id != "Default"]
    if len(components) == 1:
        return _alphanumeric(components[0])
    digest = hashlib.md5("/".join(components).encode()).hexdigest()[:8].upper()
    human = [c for c in _without_repeats(components) if c != "Resource"]
    return "".join(_alphanumeric(c) for c in human)[:240] + digest


def _without_repeats(components: list[str]) -> list[str]:
    kept: list[str] = []
    for component in components:
        if not kept or not kept[-1].endswith(component):
            kept.append(component)
    return kept


def _alphanumeric(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]", "", text)


def dead_letter_queue(scope: Construct, construct_id: str) -> sqs.Queue:
    """Where an asynchronous consumer's failures wait for a person (each has an alarm)."""
    return sqs.Queue(
        scope,
        construct_id,
        encryption=sqs.QueueEncryption.SQS_MANAGED,
        enforce_ssl=True,
        retention_period=Duration.days(14),
    )


def event_pattern(pattern: dict[str, Any]) -> events.EventPattern:
    allowed = {"source", "detail-type", "detail", "account", "region", "resources"}
    unknown = set(pattern) - allowed
    if unknown:
        raise StackError(f"event pattern fields the stack does not map: {sorted(unknown)}")
    return events.EventPattern(**{k.replace("-", "_"): v for k, v in pattern.items()})


RETENTION = {
    7: logs.RetentionDays.ONE_WEEK,
    14: logs.RetentionDays.TWO_WEEKS,
    30: logs.RetentionDays.ONE_MONTH,
    60: logs.RetentionDays.TWO_MONTHS,
    90: logs.RetentionDays.THREE_MONTHS,
    180: logs.RetentionDays.SIX_MONTHS,
    365: logs.RetentionDays.ONE_YEAR,
    400: logs.RetentionDays.THIRTEEN_MONTHS,
}


def retention(days: int) -> logs.RetentionDays:
    if days not in RETENTION:
        raise StackError(f"log_retention_days must be one of {sorted(RETENTION)}, not {days}")
    return RETENTION[days]


def camel(name: str) -> str:
    return "".join(part.capitalize() for part in re.split(r"[-_]", name))
