"""Workflows that survive faults: a task that times out is retried without texting twice; one
that fails past its retries is recorded on the job's timeline and on the bus, and the execution
fails (the stack alarms on that). The tasks fail as Lambda would report it to Step Functions:
the error is the exception's type."""

from __future__ import annotations

import json

from chalicelib.domain.errors import Unavailable
from tests.integration.stripe_helpers import invoice, new_job, work
from tests.workflows.helpers import given_scheduled_visit, texts

VISIT_AT = "2025-03-10T09:00:00-05:00"
# What Lambda reports when a function runs out of time (no Python class has a dotted name).
LambdaTimeout = type("Sandbox.Timedout", (Exception,), {})


def _failed_events(owner, job_id: str) -> list[dict]:
    events = owner.get(f"/jobs/{job_id}/timeline?limit=200").data["items"]
    return [e for e in events if e["type"] == "WorkflowFailed"]


def test_a_reminder_that_times_out_after_texting_is_retried_and_texts_once(
    stage, virtual_time, owner, monkeypatch
):
    from chalicelib.services import reminders

    # Given SendReminder texting, then running out of time before it can answer (once)
    real_send, timed_out = reminders.send, []

    def send_then_time_out(task):
        outcome = real_send(task)
        if not timed_out:
            timed_out.append(outcome["outcome"])
            raise LambdaTimeout("Task timed out after 30.00 seconds")
        return outcome

    monkeypatch.setattr(reminders, "send", send_then_time_out)
    job, visit = given_scheduled_visit(owner, VISIT_AT)
    # When the reminder's moment comes
    stage.run_until_idle()
    # Then the timed-out task was retried, the execution succeeded, and the customer got one text
    [execution] = stage.executions("reminders", visit["id"])
    assert timed_out == ["sent"]
    assert execution["status"] == "SUCCEEDED"
    assert len(texts(owner, job["id"], "reminder")) == 1
    assert _failed_events(owner, job["id"]) == []


def test_a_reminder_that_cannot_be_sent_is_recorded_on_the_job_and_fails_the_execution(
    stage, virtual_time, owner, monkeypatch
):
    from chalicelib.services import reminders

    # Given SendReminder failing with an error no retry can fix
    def broken(task):
        raise RuntimeError("the reminder template cannot be read")

    monkeypatch.setattr(reminders, "send", broken)
    job, visit = given_scheduled_visit(owner, VISIT_AT)
    stage.failures()  # only this test's announcements count
    # When the reminder's moment comes
    stage.run_until_idle()
    # Then the execution failed
    [execution] = stage.executions("reminders", visit["id"])
    described = stage.sfn.describe_execution(executionArn=execution["executionArn"])
    assert (described["status"], described["error"]) == ("FAILED", "WorkflowFailed")
    # And the job's timeline says which workflow failed where, and why
    [failed] = _failed_events(owner, job["id"])
    assert failed["actor"] == "system"
    assert failed["data"] == {
        "workflow": "reminders",
        "state": "SendReminder",
        "error": "RuntimeError",
        "message": "the reminder template cannot be read",
        "execution": execution["executionArn"],
        "visit_id": visit["id"],
        "visit_version": visit["version"],
    }
    # And the same event reached the bus, where the stack's rule alerts a person
    stage.pump()
    announced = [f for f in stage.failures() if f.get("job_id") == job["id"]]
    assert [(f["tenant_id"], f["event_id"], f["data"]) for f in announced] == [
        (owner.tenant_id, failed["id"], failed["data"])
    ]
    assert texts(owner, job["id"], "reminder") == []


def test_a_dunning_step_that_stays_unavailable_is_retried_with_backoff_then_recorded(
    stage, virtual_time, owner, monkeypatch
):
    from chalicelib.services import dunning

    # Given an invoice whose dunning steps find Twilio and DynamoDB unreachable, every time
    tries = []

    def unavailable(task):
        tries.append(task["next"])
        raise Unavailable("the carrier is unreachable", code="sms_unavailable")

    monkeypatch.setattr(dunning, "step", unavailable)
    job = new_job(owner)
    sent = invoice(owner, job["id"], line_items=work(12000))
    # When its first step comes
    stage.run_until_idle()
    # Then the step was tried once and retried five times (the state machine's backoff)
    assert tries == [0] * 6
    # And the failure is on the job, naming the invoice, and the execution failed
    [failed] = _failed_events(owner, job["id"])
    assert (failed["data"]["workflow"], failed["data"]["state"]) == ("dunning", "DunningStep")
    assert (failed["data"]["error"], failed["data"]["invoice_id"]) == ("Unavailable", sent["id"])
    [execution] = stage.executions("dunning", sent["id"])
    assert execution["status"] == "FAILED"


def test_the_failure_path_keeps_a_lambda_errors_message_not_its_stack_trace():
    from chalicelib.services.workflow_failures import describe

    cause = {"errorMessage": "boom", "errorType": "KeyError", "stackTrace": ["  File ..."]}
    details = describe(
        {
            "workflow": "dunning",
            "state": "PlanDunning",
            "error": {"Error": "KeyError", "Cause": json.dumps(cause)},
            "execution": "arn:aws:states:us-east-1:123456789012:execution:m:e",
            "task": {"tenant_id": "t1", "job_id": "j1", "invoice_id": "i1", "steps": []},
        }
    )
    assert details == {
        "workflow": "dunning",
        "state": "PlanDunning",
        "error": "KeyError",
        "message": "boom",
        "execution": "arn:aws:states:us-east-1:123456789012:execution:m:e",
        "invoice_id": "i1",
    }
    # A timeout's Cause is plain text (or empty): kept as it is, within bounds
    assert describe({"error": {"Error": "States.Timeout", "Cause": "x" * 900}})["message"] == (
        "x" * 500
    )
