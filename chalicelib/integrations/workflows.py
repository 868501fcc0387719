"""Step Functions executions: start one under a name that makes starting it idempotent, stop it,
and hand a moment past an execution's year to EventBridge Scheduler.

An execution name is unique per state machine (for 90 days in AWS), so a name derived from what
the execution is about (a visit and its version, an invoice and when it was sent) turns a
retried or duplicated start into a no-op: `ExecutionAlreadyExists` means "already done".

A Standard execution runs for at most a year, and one still waiting then is timed out (moto
has no such limit). An execution therefore waits only for moments up to `HORIZON` after it
started; for a later one its planning task calls `defer`: a one-time schedule starts a fresh
execution of the same workflow with the same input `RESTART_LEAD` before the moment, and the
current execution ends (its `Deferred` state). The fresh execution plans again from what is
stored then, so a schedule made stale by a change (a visit moved, an invoice paid) texts
nothing.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from chalicelib.config import get_settings
from chalicelib.domain import clock
from chalicelib.domain.errors import Unavailable
from chalicelib.integrations.aws import client
from chalicelib.logs import logger

REMINDERS, DUNNING, RECONCILIATION = "reminders", "dunning", "reconciliation"
MAX_NAME = 80
_NOT_IN_NAME = re.compile(r"[^A-Za-z0-9_-]")
# A year is AWS's limit on a Standard execution; the margin covers retries and quiet hours.
HORIZON = timedelta(days=330)
RESTART_LEAD = timedelta(days=1)
# Scheduler retries a failed start for up to a day, then parks it in the dead-letter queue.
SCHEDULE_RETRY = {"MaximumEventAgeInSeconds": 86400, "MaximumRetryAttempts": 185}


@dataclass(frozen=True)
class Started:
    execution_arn: str
    already_existed: bool


def execution_name(*parts: Any) -> str:
    """A valid execution name (1-80 of letters, digits, - and _) from its parts."""
    name = "-".join(_NOT_IN_NAME.sub("_", str(part)) for part in parts)
    return name[:MAX_NAME]


def state_machine_arn(workflow: str) -> str:
    settings = get_settings()
    arn = {
        REMINDERS: settings.reminders_state_machine_arn,
        DUNNING: settings.dunning_state_machine_arn,
        RECONCILIATION: settings.reconciliation_state_machine_arn,
    }[workflow]
    if not arn:
        raise Unavailable(f"the {workflow} state machine is not configured", code="no_workflow")
    return arn


def execution_arn(workflow: str, name: str) -> str:
    """The ARN an execution of this name has (or will have): no call needed to know it."""
    machine = state_machine_arn(workflow)
    return machine.replace(":stateMachine:", ":execution:", 1) + f":{name}"


def start(workflow: str, name: str, payload: dict[str, Any]) -> Started:
    """Start the execution unless one of that name exists already (running or finished)."""
    from botocore.exceptions import ClientError

    try:
        response = client("stepfunctions").start_execution(
            stateMachineArn=state_machine_arn(workflow),
            name=name,
            input=json.dumps(payload, separators=(",", ":"), sort_keys=True),
        )
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "ExecutionAlreadyExists":
            return Started(execution_arn(workflow, name), already_existed=True)
        raise _unavailable(exc) from exc
    return Started(response["executionArn"], already_existed=False)


def stop(arn: str, cause: str) -> None:
    """Stop an execution; one that has finished or never existed is fine as it is."""
    from botocore.exceptions import ClientError

    try:
        client("stepfunctions").stop_execution(executionArn=arn, cause=cause[:256])
    except ClientError as exc:
        if exc.response["Error"]["Code"] in ("ExecutionDoesNotExist", "ValidationException"):
            logger.info("nothing to stop", extra={"execution": arn})
            return
        raise _unavailable(exc) from exc


def _unavailable(exc) -> Unavailable:
    code = exc.response["Error"]["Code"]
    return Unavailable(f"Step Functions refused the call ({code})", code="workflow_unavailable")


# --- moments past an execution's year -----------------------------------------------------------


def started_at(task: dict[str, Any]) -> datetime:
    """The moment this execution's planning counts from: now, or the moment its deferred start
    was scheduled for, whichever is later (they agree in AWS; the local stage's clock runs its
    waits ahead of the wall clock)."""
    restart = task.get("restart_at")
    now = clock.now()
    return max(now, datetime.fromisoformat(restart.replace("Z", "+00:00"))) if restart else now


def beyond_horizon(moment: datetime, started: datetime) -> bool:
    return moment > started + HORIZON


def defer(workflow: str, about: str, payload: dict[str, Any], moment: datetime) -> dict[str, Any]:
    """Have a fresh execution of `workflow`, given `payload`, start shortly before `moment`.

    The schedule is named after what it is `about` (a visit, an invoice) and a digest of the
    payload and time, so a retried task makes it once.
    Returns what the task adds to its output: `deferred` (the state machine's Choice ends the
    execution on it) and when the next one starts.
    """
    from botocore.exceptions import ClientError

    settings = get_settings()
    if not (settings.schedule_group and settings.scheduler_role_arn):
        raise Unavailable("EventBridge Scheduler is not configured", code="no_scheduler")
    at = moment - RESTART_LEAD
    restart = {**payload, "restart_at": clock.iso(at)}
    name = schedule_name(workflow, about, restart)
    target: dict[str, Any] = {
        "Arn": state_machine_arn(workflow),
        "RoleArn": settings.scheduler_role_arn,
        "Input": json.dumps(restart, separators=(",", ":"), sort_keys=True),
        "RetryPolicy": SCHEDULE_RETRY,
    }
    if settings.scheduler_dead_letter_arn:
        target["DeadLetterConfig"] = {"Arn": settings.scheduler_dead_letter_arn}
    try:
        client("scheduler").create_schedule(
            Name=name,
            GroupName=settings.schedule_group,
            ScheduleExpression=f"at({at.astimezone(UTC):%Y-%m-%dT%H:%M:%S})",
            ScheduleExpressionTimezone="UTC",
            FlexibleTimeWindow={"Mode": "OFF"},
            ActionAfterCompletion="DELETE",
            Target=target,
        )
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ConflictException":
            raise _unavailable(exc) from exc
    logger.info("execution deferred", extra={"workflow": workflow, "schedule": name})
    return {"deferred": True, "restart_at": clock.iso(at), "schedule": name}


def schedule_name(workflow: str, about: str, restart: dict[str, Any]) -> str:
    """1-64 letters, digits, - _ . : the workflow, its subject, a digest of its input."""
    digest = hashlib.sha256(json.dumps(restart, sort_keys=True).encode()).hexdigest()[:16]
    subject = _NOT_IN_NAME.sub("_", about)[: 64 - len(workflow) - len(digest) - 2]
    return f"{workflow}-{subject}-{digest}"
