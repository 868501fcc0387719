"""Step Functions task handlers (`@app.lambda_function`): each takes the state's input and
returns its output. An exception fails the task with the exception's class name as the error
(`Unavailable`, `ConditionFailed`, ...), which the state machines retry.

| Lambda (Chalice name) | ASL substitution              | state machine           |
|-----------------------|-------------------------------|-------------------------|
| plan_reminder         | ${PlanReminderTaskArn}        | reminders.asl.json      |
| send_reminder         | ${SendReminderTaskArn}        | reminders.asl.json      |
| plan_dunning          | ${PlanDunningTaskArn}         | dunning.asl.json        |
| dunning_step          | ${DunningStepTaskArn}         | dunning.asl.json        |
| plan_reconciliation   | ${PlanReconciliationTaskArn}  | reconciliation.asl.json |
| reconcile_page        | ${ReconcilePageTaskArn}       | reconciliation.asl.json |
| record_workflow_failure | ${RecordWorkflowFailureTaskArn} | every state machine   |

Every Task state retries Lambda's transient errors and timeouts and catches the rest into its
machine's failure path: `record_workflow_failure`, then a Fail state (services.workflow_failures).
"""

from __future__ import annotations

from typing import Any

from chalicelib.services import dunning, reconciliation, reminders, workflow_failures


def plan_reminder(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    return reminders.plan(event)


def send_reminder(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    return reminders.send(event)


def plan_dunning(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    return dunning.plan(event)


def dunning_step(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    return dunning.step(event)


def plan_reconciliation(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    return reconciliation.plan(event)


def reconcile_page(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    return reconciliation.read_page(event)


def record_workflow_failure(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    return workflow_failures.record(event)


# Chalice function name → handler; the local stage and the tests route Lambda invokes by it.
TASKS = {
    "plan_reminder": plan_reminder,
    "send_reminder": send_reminder,
    "plan_dunning": plan_dunning,
    "dunning_step": dunning_step,
    "plan_reconciliation": plan_reconciliation,
    "reconcile_page": reconcile_page,
    "record_workflow_failure": record_workflow_failure,
}
# The ASL files name each task's ARN by this substitution; the stack (and the tests) fill it.
SUBSTITUTIONS = {
    "PlanReminderTaskArn": "plan_reminder",
    "SendReminderTaskArn": "send_reminder",
    "PlanDunningTaskArn": "plan_dunning",
    "DunningStepTaskArn": "dunning_step",
    "PlanReconciliationTaskArn": "plan_reconciliation",
    "ReconcilePageTaskArn": "reconcile_page",
    "RecordWorkflowFailureTaskArn": "record_workflow_failure",
}
