"""The stack's parts (infra/parts/) leave their resources' logical ids as they were at the
stack's top level: a stateful resource whose logical id changes is replaced by CloudFormation
(and the table, bucket, secret and user pool keep their names, so the new one fails)."""

from __future__ import annotations

import pytest

from tests.infra.conftest import require_tooling

pytestmark = pytest.mark.infra


def _resources(build) -> dict[str, str]:
    import aws_cdk as cdk

    app = cdk.App()
    stack = build(app)
    template = app.synth().get_stack_by_name(stack.stack_name).template
    return {logical_id: r["Type"] for logical_id, r in template["Resources"].items()}


def _add_resources(scope) -> None:
    from aws_cdk import aws_dynamodb as dynamodb
    from aws_cdk import aws_events as events
    from aws_cdk import aws_events_targets as targets
    from aws_cdk import aws_sns as sns
    from aws_cdk import aws_sns_subscriptions as subscriptions
    from aws_cdk import aws_sqs as sqs

    key = dynamodb.CfnTable.KeySchemaProperty(attribute_name="PK", key_type="HASH")
    dynamodb.CfnTable(scope, "Table", key_schema=[key])  # an L1 at the top: its id as it is
    queue = sqs.Queue(scope, "Queue-1")  # an L2: its Resource child, a hash of the path
    topic = sns.Topic(scope, "Alerts")
    rule = events.Rule(scope, "Rule", schedule=events.Schedule.expression("rate(1 day)"))
    rule.add_target(targets.SqsQueue(queue))  # a queue policy, under the queue
    topic.add_subscription(subscriptions.EmailSubscription("ops@example.com"))  # under the topic


def test_a_resource_in_a_part_has_the_logical_id_it_has_at_the_stack_top_level():
    require_tooling()
    from aws_cdk import Stack

    from infra.parts.base import Part, PartsStack

    def flat(app):
        stack = Stack(app, "flat")
        _add_resources(stack)
        return stack

    def in_parts(app):
        stack = PartsStack(app, "flat")
        _add_resources(Part(Part(stack, "Outer"), "Inner"))
        return stack

    top_level = _resources(flat)
    assert "Table" in top_level and len(top_level) > 4
    assert _resources(in_parts) == top_level
