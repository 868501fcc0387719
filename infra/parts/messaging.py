"""The event bus the timeline publishes to, its rules, and the workflow consumer's queue."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.parts.base import Names, Part, dead_letter_queue, event_pattern


class Messaging(Part):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        names: Names,
        alerts: sns.Topic,
        function_timeout_seconds: int,
    ):
        super().__init__(scope, construct_id)
        self.names = names
        self.alerts = alerts
        self.function_timeout_seconds = function_timeout_seconds
        self.bus = self._bus()
        self.workflow_queue = self._workflow_queue()
        self.outbound_events_queue, self.deliveries_queue = self._outbound_queues()

    @property
    def work_queues(self) -> list[sqs.Queue]:
        """The queues functions consume (every other queue of the stack is a dead-letter one)."""
        return [self.workflow_queue, self.outbound_events_queue, self.deliveries_queue]

    def queue_named(self, name: str) -> sqs.Queue | None:
        by_name = {
            self.names.workflow_queue: self.workflow_queue,
            self.names.outbound_events_queue: self.outbound_events_queue,
            self.names.deliveries_queue: self.deliveries_queue,
        }
        return by_name.get(name)

    def _bus(self) -> events.EventBus:
        bus = events.EventBus(self, "Bus", event_bus_name=self.names.bus)
        # Every event the timeline sent, replayable for a month (a consumer that was down).
        bus.archive(
            "Archive",
            event_pattern=events.EventPattern(source=["fieldline"]),
            retention=Duration.days(30),
        )
        # Reconciliation mismatches need a person: they go where the alarms go.
        events.Rule(
            self,
            "MismatchRule",
            event_bus=bus,
            description="Reconciliation mismatches to the alerts topic",
            event_pattern=events.EventPattern(
                source=["fieldline"], detail_type=["ReconciliationMismatch"]
            ),
            targets=[
                targets.SnsTopic(
                    self.alerts,
                    dead_letter_queue=dead_letter_queue(self, "MismatchRuleDeadLetters"),
                    retry_attempts=10,
                    max_event_age=Duration.hours(24),
                )
            ],
        )
        # A workflow task that failed past its retries (services/workflow_failures.py): a
        # reminder or dunning text that did not go out, an account left unreconciled.
        events.Rule(
            self,
            "WorkflowFailedRule",
            event_bus=bus,
            description="Workflow failures to the alerts topic",
            event_pattern=events.EventPattern(source=["fieldline"], detail_type=["WorkflowFailed"]),
            targets=[
                targets.SnsTopic(
                    self.alerts,
                    dead_letter_queue=dead_letter_queue(self, "WorkflowFailedRuleDeadLetters"),
                    retry_attempts=10,
                    max_event_age=Duration.hours(24),
                )
            ],
        )
        return bus

    def _workflow_queue(self) -> sqs.Queue:
        """Bus → queue → the workflow consumer; the event pattern is the consumer's own."""
        from chalicelib.handlers.consumer import EVENT_PATTERN

        dead_letters = dead_letter_queue(self, "WorkflowDeadLetters")
        queue = self._work_queue("WorkflowQueue", self.names.workflow_queue, dead_letters)
        self._rule_to(
            "WorkflowRule",
            "Timeline events that start or stop workflows, to the consumer's queue",
            EVENT_PATTERN,
            queue,
        )
        return queue

    def _work_queue(
        self,
        construct_id: str,
        name: str,
        dead_letters: sqs.Queue,
        max_receive_count: int = 5,
        fifo: bool | None = None,
    ) -> sqs.Queue:
        """A queue a function consumes, its failures redriven to `dead_letters`."""
        return sqs.Queue(
            self,
            construct_id,
            queue_name=name,
            fifo=fifo,
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            # Lambda needs the visibility timeout at least as long as the function's (6x: AWS).
            visibility_timeout=Duration.seconds(6 * self.function_timeout_seconds),
            retention_period=Duration.days(4),
            dead_letter_queue=sqs.DeadLetterQueue(
                max_receive_count=max_receive_count, queue=dead_letters
            ),
        )

    def _rule_to(self, construct_id: str, description: str, pattern: dict, queue: sqs.Queue):
        """A rule of the bus to a queue, retried for a day, then to a dead-letter queue."""
        events.Rule(
            self,
            construct_id,
            event_bus=self.bus,
            description=description,
            event_pattern=event_pattern(pattern),
            targets=[
                targets.SqsQueue(
                    queue,
                    dead_letter_queue=dead_letter_queue(self, f"{construct_id}DeadLetters"),
                    retry_attempts=185,
                    max_event_age=Duration.hours(24),
                )
            ],
        )

    def _outbound_queues(self) -> tuple[sqs.Queue, sqs.Queue]:
        """Outbound webhooks (ARCHITECTURE.md): bus → a standard queue → the fan-out, which puts
        one message per subscription and job on a FIFO queue (a rule's FIFO target could only
        give every event one fixed MessageGroupId) → the deliveries."""
        from chalicelib.handlers.deliveries import EVENT_PATTERN

        events_queue = self._work_queue(
            "OutboundEventsQueue",
            self.names.outbound_events_queue,
            dead_letter_queue(self, "OutboundEventsDeadLetters"),
        )
        self._rule_to(
            "OutboundRule",
            "Every timeline event, to the outbound webhooks' fan-out",
            EVENT_PATTERN,
            events_queue,
        )
        # A waiting delivery's message is received again at each retry (about 30 in its 24 h):
        # the redrive count only catches a message that keeps failing for another reason.
        deliveries_dead_letters = sqs.Queue(
            self,
            "DeliveriesDeadLetters",
            fifo=True,  # a FIFO queue's dead-letter queue is FIFO too
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=Duration.days(14),
        )
        deliveries = self._work_queue(
            "DeliveriesQueue",
            self.names.deliveries_queue,
            deliveries_dead_letters,
            max_receive_count=100,
            fifo=True,
        )
        return events_queue, deliveries
