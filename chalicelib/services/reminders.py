"""Appointment reminders: one Step Functions execution per visit version (reminders.asl.json).

A visit scheduled or moved gets an execution named from its id and version, so a repeated or
late event can only find the execution that already exists. The visit's `Reminder` item names
the current one; starting a newer one stops the older. The execution plans the moment
(PlanReminder), waits, then SendReminder reads the visit again and texts only if it is still
booked at the planned time and nothing newer has taken over.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from chalicelib.domain import clock
from chalicelib.domain import reminders as rules
from chalicelib.domain.callers import SYSTEM, Caller
from chalicelib.domain.errors import NotFound
from chalicelib.domain.reminders import Reminder
from chalicelib.domain.timefmt import local_window
from chalicelib.domain.visits import Visit
from chalicelib.integrations import workflows
from chalicelib.logs import logger
from chalicelib.services import customers, jobs, messaging, tenants
from chalicelib.services.common import retrying
from chalicelib.store import keys
from chalicelib.store.db import Transaction
from chalicelib.store.records import get, record

ATTEMPTS = 3
# What an execution starts with (`_ensure_running`), and a deferred one again.
EXECUTION_INPUT = ("tenant_id", "job_id", "visit_id", "visit_version", "start", "technician_ids")


def system(tenant_id: str) -> Caller:
    return Caller(tenant_id=tenant_id, user_id=SYSTEM, role=SYSTEM)


def execution_name(visit_id: str, visit_version: int) -> str:
    return workflows.execution_name("reminder", visit_id, f"v{visit_version}")


# --- the consumer's side: keep one live execution per visit ---------------------------------


def on_visit_changed(tenant_id: str, job_id: str, visit_id: str) -> str:
    """Bring the visit's reminder in line with the visit as it is now; returns what was done.

    Reading the visit (rather than trusting the event) makes late and repeated events harmless:
    they all converge on the execution for the visit's current version.
    """

    def attempt() -> str:  # lost if another consumer moved the reminder meanwhile: look again
        visit = _visit(system(tenant_id), job_id, visit_id)
        current = _reminder(tenant_id, visit_id)
        if visit is not None and _wants_reminder(visit):
            return _ensure_running(tenant_id, visit, current)
        return _stop(tenant_id, current, "the visit no longer needs a reminder")

    return retrying(attempt, ATTEMPTS, reraise=True)


def _wants_reminder(visit: Visit) -> bool:
    return visit.status in rules.REMINDABLE and visit.start > clock.now()


def _ensure_running(tenant_id: str, visit: Visit, current: Reminder | None) -> str:
    if current is not None and current.visit_version >= visit.version:
        return "current"  # this version (or a newer one) already has its execution
    if current is not None and current.state == "sent" and current.start == visit.start:
        return "already_reminded"  # e.g. another technician, same time: no second text
    name = execution_name(visit.visit_id, visit.version)
    started = workflows.start(
        workflows.REMINDERS,
        name,
        {
            "tenant_id": tenant_id,
            "job_id": visit.job_id,
            "visit_id": visit.visit_id,
            "visit_version": visit.version,
            "start": clock.iso(visit.start),
            "technician_ids": sorted(visit.technician_ids),
        },
    )
    reminder = Reminder(
        visit_id=visit.visit_id,
        job_id=visit.job_id,
        visit_version=visit.version,
        start=visit.start,
        execution_name=name,
        execution_arn=started.execution_arn,
        version=current.version if current else None,
    )
    _save(tenant_id, reminder)
    if current is not None and current.execution_arn and current.state == "waiting":
        workflows.stop(current.execution_arn, f"visit moved to version {visit.version}")
    return "started"


def _stop(tenant_id: str, current: Reminder | None, cause: str) -> str:
    if current is None or current.state != "waiting":
        return "nothing_to_stop"
    current.state = "stopped"
    _save(tenant_id, current)
    if current.execution_arn:
        workflows.stop(current.execution_arn, cause)
    return "stopped"


# --- the state machine's tasks ----------------------------------------------------------------


def plan(task: dict[str, Any]) -> dict[str, Any]:
    """PlanReminder: when to text, in the property's zone and out of quiet hours. A moment past
    this execution's year is left to a fresh execution that a schedule starts the day before."""
    caller = system(task["tenant_id"])
    visit = _visit(caller, task["job_id"], task["visit_id"])
    if visit is None or not _still_planned(visit, task):
        return {**task, "skip": True, "reason": "visit_changed"}
    tenant = tenants.get_settings(caller)
    started = workflows.started_at(task)
    moment = rules.remind_at(
        visit.start, tenant.reminder_hours_before, visit.timezone, tenant.quiet_hours, started
    )
    if moment is None:
        return {**task, "skip": True, "reason": "too_late"}
    if workflows.beyond_horizon(moment, started):
        restart = {name: task[name] for name in EXECUTION_INPUT if name in task}
        deferred = workflows.defer(workflows.REMINDERS, visit.visit_id, restart, moment)
        return {**task, "skip": False, **deferred}
    return {**task, "skip": False, "remind_at": clock.iso(moment)}


def send(task: dict[str, Any]) -> dict[str, Any]:
    """SendReminder: text the customer if the visit is still as planned; at most once.

    Everything is read again now, hours after planning: a visit that lost or changed its
    technicians, left the booked statuses, or whose job was cancelled or lost is not
    reminded of (`visit_changed`); a newer execution takes over when the visit still needs one.
    """
    tenant_id = task["tenant_id"]
    caller = system(tenant_id)
    collection = _collection(caller, task["job_id"])
    visit = _find_visit(collection, task["visit_id"])
    if visit is None or not _still_planned(visit, task):
        return _outcome(task, "visit_changed")
    job = collection.header()
    if not job.is_open:
        return _outcome(task, "visit_changed", reason=f"the job is {job.stage}")
    reminder = _reminder(tenant_id, visit.visit_id)
    name = execution_name(visit.visit_id, task["visit_version"])
    if reminder is None or reminder.execution_name != name or reminder.state != "waiting":
        # A newer execution took over, the reminder was stopped, or this one already texted.
        return _outcome(task, "superseded" if reminder and reminder.state == "waiting" else "done")
    if visit.version != task["visit_version"]:
        # Changed in a way that needs no new reminder (its checklist, say): the time still holds.
        logger.info("visit changed since planning; same time, reminding anyway")
    customer = customers.get(caller, job.customer_id)
    tenant = tenants.get_settings(caller)
    # Claim before sending: a retried task finds it claimed and sends nothing twice.
    reminder.state, reminder.sent_at = "sent", clock.now()
    _save(tenant_id, reminder)
    window = local_window(visit.window_start, visit.window_end, visit.timezone)
    message = messaging.text_from_template(
        tenant,
        customer,
        visit.job_id,
        "reminder",
        {"visit_window": window, "job_title": job.title, "link": _visit_page(tenant_id, visit)},
        SYSTEM,
    )
    # An opted-out customer's reminder is recorded as suppressed by the one send path.
    return _outcome(task, message.status, message_id=message.message_id)


def _visit_page(tenant_id: str, visit: Visit) -> str:
    from chalicelib.services.visit_links import visit_link

    end = visit.start + timedelta(minutes=visit.duration_minutes)
    return visit_link(tenant_id, visit.job_id, visit.visit_id, end + timedelta(days=1))


def _still_planned(visit: Visit, task: dict[str, Any]) -> bool:
    if visit.status not in rules.REMINDABLE or not visit.technician_ids:
        return False
    # Executions started before technicians were part of the plan carry none: time alone.
    if "technician_ids" in task and sorted(visit.technician_ids) != task["technician_ids"]:
        return False
    return clock.iso(visit.start) == task["start"] and visit.version >= task["visit_version"]


def _outcome(task: dict[str, Any], outcome: str, **extra: Any) -> dict[str, Any]:
    return {**task, "outcome": outcome, **extra}


# --- storage ----------------------------------------------------------------------------------


def _visit(caller: Caller, job_id: str, visit_id: str) -> Visit | None:
    return _find_visit(_collection(caller, job_id), visit_id)


def _collection(caller: Caller, job_id: str):
    try:
        return jobs.load(caller, job_id)
    except NotFound:
        return None


def _find_visit(collection, visit_id: str) -> Visit | None:
    if collection is None:
        return None
    return collection.child("visit", visit_id, Visit)


def _reminder(tenant_id: str, visit_id: str) -> Reminder | None:
    return get(keys.workflow(tenant_id, workflows.REMINDERS, visit_id), Reminder)


def _save(tenant_id: str, reminder: Reminder) -> None:
    key = keys.workflow(tenant_id, workflows.REMINDERS, reminder.visit_id)
    tx = Transaction()
    tx.put(record(key, "workflow", tenant_id, reminder), label="reminder", entity=reminder)
    tx.commit()
