"""The stack's side of workflows that survive faults (issue 17): failures reach a person, a
distributed Map may start its own children, and deferred executions are started by EventBridge
Scheduler with no more rights than that."""

from __future__ import annotations

import json
from typing import Any

import pytest

pytestmark = pytest.mark.infra

STAGE = "prod"  # the stage the session synthesizes (conftest)
PREFIX = f"fieldline-{STAGE}"


def _one(synthesized, resource_type: str, where=lambda properties: True) -> tuple[str, dict]:
    [(logical_id, resource)] = [
        (lid, r)
        for lid, r in synthesized.resources(resource_type).items()
        if where(r.get("Properties", {}))
    ]
    return logical_id, resource["Properties"]


def _policy_statements(properties: dict[str, Any]) -> list[dict[str, Any]]:
    return [s for p in properties.get("Policies", []) for s in p["PolicyDocument"]["Statement"]]


def _text(value: Any) -> str:
    """A template value (with its Fn::Join / Ref parts) as text, for matching names in it."""
    return json.dumps(value, sort_keys=True)


def test_every_workflow_failure_goes_to_the_alerts_topic(synthesized):
    _, rule = _one(
        synthesized,
        "AWS::Events::Rule",
        lambda p: p.get("EventPattern", {}).get("detail-type") == ["WorkflowFailed"],
    )
    assert rule["EventPattern"]["source"] == ["fieldline"]
    topic, _ = _one(synthesized, "AWS::SNS::Topic")
    [target] = rule["Targets"]
    assert target["Arn"] == {"Ref": topic}
    assert "DeadLetterConfig" in target and target["RetryPolicy"]["MaximumRetryAttempts"] >= 3
    # And every state machine's failed executions raise an alarm (test_stack checks all of them)
    alarmed = [
        a["Properties"]
        for a in synthesized.resources("AWS::CloudWatch::Alarm").values()
        if a["Properties"]["MetricName"] == "ExecutionsFailed"
    ]
    assert len(alarmed) == len(synthesized.resources("AWS::StepFunctions::StateMachine"))


def test_the_reconciliation_may_start_watch_and_stop_its_own_child_executions(synthesized):
    machine_id, machine = _one(
        synthesized,
        "AWS::StepFunctions::StateMachine",
        lambda p: p["StateMachineName"] == f"{PREFIX}-reconciliation",
    )
    role_id = machine["RoleArn"]["Fn::GetAtt"][0]
    statements = [
        s
        for policy in synthesized.resources("AWS::IAM::Policy").values()
        if {"Ref": role_id} in policy["Properties"]["Roles"]
        for s in policy["Properties"]["PolicyDocument"]["Statement"]
    ]
    by_action = {_text(s["Action"]): _text(s["Resource"]) for s in statements}
    starts = by_action['"states:StartExecution"']
    assert f":stateMachine:{PREFIX}-reconciliation" in starts and "*" not in starts
    watches = by_action['["states:DescribeExecution", "states:StopExecution"]']
    assert f":execution:{PREFIX}-reconciliation/*" in watches
    # The other machines have no Map: no such rights
    for other in ("reminders", "dunning"):
        _, props = _one(
            synthesized,
            "AWS::StepFunctions::StateMachine",
            lambda p, other=other: p["StateMachineName"] == f"{PREFIX}-{other}",
        )
        other_role = props["RoleArn"]["Fn::GetAtt"][0]
        other_actions = {
            _text(s["Action"])
            for policy in synthesized.resources("AWS::IAM::Policy").values()
            if {"Ref": other_role} in policy["Properties"]["Roles"]
            for s in policy["Properties"]["PolicyDocument"]["Statement"]
        }
        assert '"states:StartExecution"' not in other_actions, other
    assert machine_id


def test_deferred_executions_are_started_by_scheduler_with_a_role_that_can_only_do_that(
    synthesized,
):
    group_id, group = _one(synthesized, "AWS::Scheduler::ScheduleGroup")
    assert group["Name"] == PREFIX
    role_id, role = _one(
        synthesized,
        "AWS::IAM::Role",
        lambda p: _text(p["AssumeRolePolicyDocument"]).count("scheduler.amazonaws.com"),
    )
    [trust] = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Condition"]["StringEquals"]["aws:SourceAccount"] == {"Ref": "AWS::AccountId"}
    allowed = {_text(s["Action"]): s["Resource"] for s in _policy_statements(role)}
    assert set(allowed) == {'"states:StartExecution"', '"sqs:SendMessage"'}
    started = _text(allowed['"states:StartExecution"'])
    assert f"{PREFIX}-reminders" in started and f"{PREFIX}-dunning" in started
    # The functions: create schedules in the group only, and hand them this role only
    functions = synthesized.resources("AWS::Serverless::Function")
    [function_role] = {_text(f["Properties"]["Role"]) for f in functions.values()}
    function_role_id = json.loads(function_role)["Fn::GetAtt"][0]
    resources = synthesized.template["Resources"]
    function_policy = _policy_statements(resources[function_role_id]["Properties"])
    statements = {s["Sid"]: s for s in function_policy}
    defer = statements["DeferWorkflows"]
    assert defer["Action"] == "scheduler:CreateSchedule"
    assert f":schedule/{PREFIX}/*" in _text(defer["Resource"])
    passing = statements["PassSchedulerRole"]
    assert passing["Resource"] == {"Fn::GetAtt": [role_id, "Arn"]}
    assert passing["Condition"] == {
        "StringEquals": {"iam:PassedToService": "scheduler.amazonaws.com"}
    }
    # And every function knows the group, the role and the dead-letter queue
    for function in functions.values():
        env = function["Properties"]["Environment"]["Variables"]
        assert env["FIELDLINE_SCHEDULE_GROUP"] == {"Ref": group_id}
        assert env["FIELDLINE_SCHEDULER_ROLE_ARN"] == {"Fn::GetAtt": [role_id, "Arn"]}
        assert "FIELDLINE_SCHEDULER_DLQ_ARN" in env
