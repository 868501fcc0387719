"""What a workflow does once a task has failed past its retries (the ASL files' failure path).

Every Task state of the three state machines catches what its retries could not fix and goes
to `RecordFailure`, then to a `Fail` state (the stack alarms on failed executions). Recording:

- an execution about a job (a visit's reminder, an invoice's dunning) gets a `WorkflowFailed`
  event on the job's timeline: the office sees that the text did not go out, and the stream
  forwards the event to the bus like any other;
- an execution about no job (reconciliation: one Stripe account) puts the same event on the bus
  itself.

On the bus, the stack's rule sends every `WorkflowFailed` to the alerts topic.
"""

from __future__ import annotations

import json
from typing import Any

from chalicelib.domain.callers import SYSTEM
from chalicelib.domain.errors import Unavailable
from chalicelib.domain.timeline import event
from chalicelib.integrations import eventbus
from chalicelib.store import jobs as job_store
from chalicelib.store.db import Transaction

EVENT = "WorkflowFailed"
MAX_MESSAGE = 500
# What an execution was about, carried from its input into the event when present.
SUBJECTS = ("visit_id", "visit_version", "invoice_id", "account", "run_id")


def record(failure: dict[str, Any]) -> dict[str, Any]:
    """RecordFailure: `failure` is the failure path's Pass output: the workflow, the state that
    failed, Step Functions' error ({Error, Cause}), the execution and the failed state's input."""
    task = failure.get("task") or {}
    details = describe(failure)
    tenant_id, job_id = task.get("tenant_id"), task.get("job_id")
    failed = event(job_id or "", EVENT, SYSTEM, **details)
    if tenant_id and job_id:
        tx = Transaction()
        tx.put(job_store.event_item(tenant_id, failed), label=EVENT)
        tx.commit()
        return {"recorded": "timeline", "event_id": failed.event_id}
    # Shaped as the stream forwards a timeline event, so one rule and one reader fit both.
    detail = {**failed.model_dump(mode="json"), "job_id": None, "tenant_id": tenant_id}
    refused = eventbus.publish([eventbus.BusEvent(EVENT, detail, failed.at)])
    if refused:
        raise Unavailable("the workflow failure could not be announced", code="bus_unavailable")
    return {"recorded": "bus"}


def describe(failure: dict[str, Any]) -> dict[str, Any]:
    """Which workflow failed where, and why, in words a person can act on."""
    error = failure.get("error") or {}
    task = failure.get("task") or {}
    details: dict[str, Any] = {
        "workflow": str(failure.get("workflow") or "unknown"),
        "state": str(failure.get("state") or "unknown"),
        "error": str(error.get("Error") or "States.Unknown"),
        "message": _message(error.get("Cause")),
        "execution": failure.get("execution"),
    }
    details.update({name: task[name] for name in SUBJECTS if task.get(name) is not None})
    return details


def _message(cause: Any) -> str:
    """A Lambda error's Cause is a JSON object with a stack trace: keep its message only (the
    timeline is the office's to read)."""
    text = "" if cause is None else str(cause)
    try:
        parsed = json.loads(text)
    except ValueError:
        parsed = None
    if isinstance(parsed, dict) and parsed.get("errorMessage") is not None:
        text = str(parsed["errorMessage"])
    return text[:MAX_MESSAGE]
