"""Visits: create, assign, reschedule, cancel, and the status a technician reports from the field.

Every change that moves a visit's time goes through `_change`: read the job and the technician
days it touches, let the domain decide, then write the visit, the job, its timeline events and
those days in one transaction, each under its version. A racing booking of the same day makes
that transaction fail as a whole; the loser reads again and, now seeing the other visit, is
refused with 409 `double_booking`. Double booking is refused by the database, not by hope.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from chalicelib.domain import clock
from chalicelib.domain import jobs as job_rules
from chalicelib.domain import visits as rules
from chalicelib.domain.callers import TECHNICIAN, Caller
from chalicelib.domain.customers import Customer
from chalicelib.domain.errors import Conflict, FieldlineError, Invalid, NotFound
from chalicelib.domain.ids import new_id
from chalicelib.domain.jobs import Job
from chalicelib.domain.tenants import Tenant
from chalicelib.domain.timeline import TimelineEvent
from chalicelib.domain.users import Point, User
from chalicelib.domain.visits import TechDay, Visit
from chalicelib.logs import logger
from chalicelib.services import customers, jobs, messaging, tenants
from chalicelib.services.common import check_version
from chalicelib.store import jobs as job_store
from chalicelib.store import keys
from chalicelib.store import tenants as user_store
from chalicelib.store.db import ConditionFailed, Transaction
from chalicelib.store.jobs import JobCollection
from chalicelib.store.models import Item
from chalicelib.store.records import get, record

# A lost race is retried after a short random pause; a handful of rounds settles any real
# contention (each round, at least one writer of a day wins).
MAX_ATTEMPTS = 6
RETRY_PAUSE_SECONDS = 0.02

# What a change does to the job and the visit once both are loaded: mutate them and return the
# timeline events. It receives the job, the visit (a copy) and the job's other visits.
Change = Callable[[Job, Visit, list[Visit]], list[TimelineEvent | None]]


# --- use cases --------------------------------------------------------------------------------


def create_visit(caller: Caller, job_id: str, fields: dict[str, Any]) -> Visit:
    """A visit in the job's collection: `unscheduled`, or `scheduled` when technicians are given."""
    tenant = tenants.get_settings(caller)
    job = jobs.get(caller, job_id)
    if not job.is_open:
        raise Conflict(f"job is {job.stage}", code="illegal_transition")
    customer = customers.get(caller, job.customer_id)
    visit, created = rules.new_visit(
        visit_id=new_id(),
        job_id=job_id,
        window_start=fields["window_start"],
        window_end=fields["window_end"],
        duration_minutes=fields["duration_minutes"],
        timezone=customer.timezone or tenant.timezone,
        actor=caller.user_id,
        start=fields.get("start"),
        required_skills=fields.get("required_skills"),
        location=_location_of(customer),
    )
    technician_ids = fields.get("technician_ids") or []
    if not technician_ids:
        return _change(caller, tenant, job_id, visit.visit_id, _just([created]), new=visit)
    technicians = _technicians(caller, technician_ids)

    def book(job: Job, draft: Visit, _others: list[Visit]) -> list[TimelineEvent | None]:
        booked = rules.assign(draft, technician_ids, None, caller.user_id)
        rules.check_technicians(technicians, draft, tenant.timezone)
        return [created, *booked, job_rules.advance(job, "scheduled", caller.user_id)]

    return _change(caller, tenant, job_id, visit.visit_id, book, new=visit)


def assign(
    caller: Caller,
    job_id: str,
    visit_id: str,
    technician_ids: list[str],
    start: datetime | None,
    if_match: int | None = None,
) -> Visit:
    """Give a visit its technicians: 409 double_booking, 422 missing skill or off shift."""
    tenant = tenants.get_settings(caller)

    def book(job: Job, visit: Visit, _others: list[Visit]) -> list[TimelineEvent | None]:
        # Looked up once the job is known to be the caller's: another tenant's job is 404.
        technicians = _technicians(caller, technician_ids)
        assigned = rules.assign(visit, technician_ids, start, caller.user_id)
        rules.check_technicians(technicians, visit, tenant.timezone)
        return [*assigned, job_rules.advance(job, "scheduled", caller.user_id)]

    return _change(caller, tenant, job_id, visit_id, book, if_match=if_match)


def reschedule(
    caller: Caller,
    job_id: str,
    visit_id: str,
    window_start: datetime,
    window_end: datetime,
    start: datetime | None,
    if_match: int | None = None,
) -> Visit:
    """Move a visit, keeping its technicians; their new day is checked like a new booking."""
    tenant = tenants.get_settings(caller)

    def move(job: Job, visit: Visit, _others: list[Visit]) -> list[TimelineEvent | None]:
        moved = rules.reschedule(visit, window_start, window_end, start, caller.user_id)
        if visit.technician_ids:
            technicians = _technicians(caller, visit.technician_ids)
            rules.check_technicians(technicians, visit, tenant.timezone)
        return moved

    return _change(caller, tenant, job_id, visit_id, move, if_match=if_match)


def cancel(
    caller: Caller, job_id: str, visit_id: str, reason: str | None, if_match: int | None = None
) -> Visit:
    """Call a visit off and give its time back to its technicians."""
    tenant = tenants.get_settings(caller)

    def call_off(job: Job, visit: Visit, others: list[Visit]) -> list[TimelineEvent | None]:
        cancelled = rules.cancel(visit, reason, caller.user_id)
        # Cancelling the last open visit can leave only completed ones: the work is done.
        done = None
        if rules.all_done([*others, visit]) and job.is_open:
            done = job_rules.advance(job, "completed", caller.user_id)
        return [cancelled, done]

    return _change(caller, tenant, job_id, visit_id, call_off, if_match=if_match, closing=True)


def report_status(
    caller: Caller,
    job_id: str,
    visit_id: str,
    status: str,
    note: str | None = None,
    location: Point | None = None,
    if_match: int | None = None,
) -> Visit:
    """en_route (texts the customer), on_site (job in progress), completed, no_access."""
    tenant = tenants.get_settings(caller)
    customer_of_job: list[str] = []

    def reported(job: Job, visit: Visit, others: list[Visit]) -> list[TimelineEvent | None]:
        customer_of_job[:] = [job.customer_id]
        happened = rules.report(visit, status, caller.user_id, note, location)
        if caller.is_technician:
            happened.data["technician_id"] = caller.user_id
        stage = None
        if status == "on_site":
            stage = job_rules.advance(job, "in_progress", caller.user_id)
        elif status == "completed" and rules.all_done([*others, visit]):
            stage = job_rules.advance(job, "completed", caller.user_id)
        return [happened, stage]

    visit = _change(caller, tenant, job_id, visit_id, reported, if_match=if_match)
    if status == "en_route":
        _text_on_my_way(caller, tenant, customer_of_job[0], visit, location)
    return visit


def get_visit(caller: Caller, job_id: str, visit_id: str) -> Visit:
    return _visit_in(caller, jobs.load(caller, job_id), visit_id)


# --- the one way a visit changes --------------------------------------------------------------


def _change(
    caller: Caller,
    tenant: Tenant,
    job_id: str,
    visit_id: str,
    change: Change,
    new: Visit | None = None,
    if_match: int | None = None,
    closing: bool = False,
) -> Visit:
    """Load, change, check the technicians' days and save together; retry a lost race.

    `closing` lets a change through on a closed job (cancelling its visits frees the time).
    """
    for attempt in range(1, MAX_ATTEMPTS + 1):
        collection = jobs.load(caller, job_id)
        job = collection.header()
        before = None if new is not None else _visit_in(caller, collection, visit_id)
        if before is not None:
            check_version(before.version, if_match)
        visit = (before or new).model_copy(deep=True)
        if not job.is_open and not closing:
            raise Conflict(f"job is {job.stage}", code="illegal_transition")
        others = [v for v in collection.children("visit", Visit) if v.visit_id != visit_id]
        events = [e for e in change(job, visit, others) if e is not None]
        job_rules.touch(job)
        days = _read_days(caller, rules.days_to_change(before, visit, tenant.timezone))
        changed_days = rules.rebook(
            before, visit, days, tenant.timezone, tenant.travel_buffer_minutes
        )
        tx = Transaction()
        tx.put(_visit_item(caller.tenant_id, visit, tenant.timezone), label="visit", entity=visit)
        for day in changed_days:
            label = f"technician day {day.technician_id} {day.day}"
            tx.put(_day_item(caller.tenant_id, day), label=label, entity=day)
        jobs.save(tx, caller, job, *events)
        try:
            tx.commit()
            return visit
        except ConditionFailed as lost:
            if attempt == MAX_ATTEMPTS:
                raise
            logger.info("visit change lost a race; retrying", extra={"failed": lost.labels})
            time.sleep(random.uniform(0, RETRY_PAUSE_SECONDS * attempt))
    raise AssertionError("unreachable")  # pragma: no cover


def _just(events: list[TimelineEvent]) -> Change:
    return lambda job, visit, others: list(events)


def _visit_in(caller: Caller, collection: JobCollection, visit_id: str) -> Visit:
    """A technician sees only the visits they are on; others look like no visit at all."""
    for visit in collection.children("visit", Visit):
        if visit.visit_id == visit_id:
            if caller.is_technician and caller.user_id not in visit.technician_ids:
                break
            return visit
    raise NotFound("visit not found")


def _read_days(caller: Caller, wanted: list[tuple[str, str]]) -> dict[tuple[str, str], TechDay]:
    # Strongly consistent reads: the version read is the one the write will be checked against.
    days = {}
    for technician_id, day in wanted:
        found = get(keys.tech_day(caller.tenant_id, technician_id, day), TechDay)
        days[(technician_id, day)] = found or TechDay(technician_id=technician_id, day=day)
    return days


def _technicians(caller: Caller, technician_ids: list[str]) -> list[User]:
    found, unknown = [], []
    for user_id in dict.fromkeys(technician_ids):
        user = user_store.get_user(caller.tenant_id, user_id)
        if user is None or user.role != TECHNICIAN or not user.active:
            unknown.append(user_id)
        else:
            found.append(user)
    if unknown:
        raise Invalid(
            f"no active technician {', '.join(unknown)}",
            details=[{"technician_id": u, "reason": "unknown_technician"} for u in unknown],
            code="unknown_technician",
        )
    return found


def _location_of(customer: Customer) -> Point | None:
    address = customer.address
    if address is None or address.lat is None or address.lng is None:
        return None
    return Point(lat=address.lat, lng=address.lng)


# --- items ------------------------------------------------------------------------------------


def _visit_item(tenant_id: str, visit: Visit, timezone: str) -> Item:
    """The visit, indexed on the day board of its (first) technician or as unassigned.

    A visit with two technicians appears on the first one's board only; each technician's
    day lock still holds it, so neither can be double booked.
    """
    gsi1 = None
    if visit.status != "cancelled":
        day = rules.local_day(visit.start, timezone)
        board = (
            keys.tech_day_index(tenant_id, visit.technician_ids[0], day)
            if visit.technician_ids
            else keys.unassigned_index(tenant_id, day)
        )
        gsi1 = (board, keys.visit_day_sort(clock.iso(visit.start), visit.visit_id))
    return job_store.child_item(tenant_id, visit.job_id, "VISIT", visit.visit_id, visit, gsi1=gsi1)


def _day_item(tenant_id: str, day: TechDay) -> Item:
    return record(keys.tech_day(tenant_id, day.technician_id, day.day), "tech_day", tenant_id, day)


# --- telling the customer ---------------------------------------------------------------------


def _text_on_my_way(
    caller: Caller, tenant: Tenant, customer_id: str, visit: Visit, location: Point | None
) -> None:
    """Sent after the status is saved: a carrier or a slow table never undoes 'en route'."""
    job_id = visit.job_id
    try:
        customer = customers.get(caller, customer_id)
        technician_id = (
            caller.user_id if caller.is_technician else next(iter(visit.technician_ids), None)
        )
        technician = user_store.get_user(caller.tenant_id, technician_id) if technician_id else None
        first_name = technician.name.split()[0] if technician and technician.name.split() else None
        eta = rules.eta_phrase(rules.eta_for(visit, location), clock.now(), visit.timezone)
        values = {"technician": first_name or "your technician", "eta": eta}
        messaging.text_from_template(tenant, customer, job_id, "on_my_way", values, caller.user_id)
    except FieldlineError as exc:
        logger.warning("on-my-way text not sent", extra={"job_id": job_id, "error": exc.message})
