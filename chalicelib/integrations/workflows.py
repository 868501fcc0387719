"""Step Functions executions: start one under a name that makes starting it idempotent, stop it.

An execution name is unique per state machine (for 90 days in AWS), so a name derived from what
the execution is about (a visit and its version, an invoice and when it was sent) turns a
retried or duplicated start into a no-op: `ExecutionAlreadyExists` means "already done".
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from chalicelib.config import get_settings
from chalicelib.domain.errors import Unavailable
from chalicelib.integrations.aws import client
from chalicelib.logs import logger

REMINDERS, DUNNING, RECONCILIATION = "reminders", "dunning", "reconciliation"
MAX_NAME = 80
_NOT_IN_NAME = re.compile(r"[^A-Za-z0-9_-]")


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
