"""Visits: create, assign, reschedule, cancel, and the status a technician reports from the field.

Every change that moves a visit's time goes through `_change`: read the job and the technician
days it touches, let the domain decide, then write the visit, the job, its timeline events and
those days in one transaction, each under its version. A racing booking of the same day makes
that transaction fail as a whole; the loser reads again and, now seeing the other visit, is
refused with 409 `double_booking`. Double booking is refused by the database, not by hope.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, datetime
from datetime import time as clock_time
from typing import Any
from zoneinfo import ZoneInfo

from chalicelib.domain import checklists as checklist_rules
from chalicelib.domain import clock, recurrence
from chalicelib.domain import jobs as job_rules
from chalicelib.domain import visits as rules
from chalicelib.domain.callers import TECHNICIAN, Caller
from chalicelib.domain.customers import Customer
from chalicelib.domain.errors import Conflict, FieldlineError, Invalid, NotFound
from chalicelib.domain.ids import new_id
from chalicelib.domain.jobs import Job
from chalicelib.domain.tenants import Tenant
from chalicelib.domain.timeline import TimelineEvent, event
from chalicelib.domain.users import Point, User
from chalicelib.domain.visits import Tally, TechDay, Visit
from chalicelib.logs import logger
from chalicelib.services import customers, jobs, messaging, tenants
from chalicelib.services import time as timekeeping
from chalicelib.services.common import check_version, retrying
from chalicelib.store import jobs as job_store
from chalicelib.store import series as series_store
from chalicelib.store import tenants as user_store
from chalicelib.store import visits as visit_store
from chalicelib.store.db import ConditionFailed, Transaction
from chalicelib.store.jobs import JobCollection
from chalicelib.store.records import Page

# A lost race is retried after a short random pause; a handful of rounds settles any real
# contention (each round, at least one writer of a day wins).
MAX_ATTEMPTS = 6

# What a change does to the job and the visit once both are loaded: mutate them and return the
# timeline events. It receives the job, the visit (a copy) and the tally of the job's other
# visits (counted, not read: a change costs the same on a job with 500 visits).
Change = Callable[[Job, Visit, Tally], list[TimelineEvent | None]]


# --- use cases --------------------------------------------------------------------------------


def create_visit(
    caller: Caller,
    job_id: str,
    fields: dict[str, Any],
    visit_id: str | None = None,
    series_id: str | None = None,
) -> Visit:
    """A visit in the job's collection: `unscheduled`, or `scheduled` when technicians are given.
    (`visit_id` and `series_id`, and `fields["checklist"]` the series' items: a series' next
    visit, written by the nightly schedule.)"""
    tenant = tenants.get_settings(caller)
    job = jobs.get(caller, job_id)
    if not job.is_open:
        raise Conflict(f"job is {job.stage}", code="illegal_transition")
    customer = customers.get(caller, job.customer_id)
    visit, created = rules.new_visit(
        visit_id=visit_id or new_id(),
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
    visit.series_id = series_id
    visit.checklist = [item.model_copy() for item in fields.get("checklist") or []]
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

    def call_off(job: Job, visit: Visit, others: Tally) -> list[TimelineEvent | None]:
        cancelled = rules.cancel(visit, reason, caller.user_id)
        # Cancelling the last open visit can leave only completed ones: the work is done.
        done = None
        if others.plus(visit).work_done and job.is_open:
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

    def reported(job: Job, visit: Visit, others: Tally) -> list[TimelineEvent | None]:
        customer_of_job[:] = [job.customer_id]
        happened = rules.report(visit, status, caller.user_id, note, location)
        if caller.is_technician:
            happened.data["technician_id"] = caller.user_id
        stage = None
        if status == "on_site":
            stage = job_rules.advance(job, "in_progress", caller.user_id)
        elif status == "completed" and others.plus(visit).work_done:
            stage = job_rules.advance(job, "completed", caller.user_id)
        return [happened, stage]

    def time_spent(tx: Transaction, visit: Visit) -> None:
        timekeeping.queue_visit_time(tx, caller.tenant_id, visit)

    visit = _change(caller, tenant, job_id, visit_id, reported, if_match=if_match, also=time_spent)
    if status == "en_route":
        _text_on_my_way(caller, tenant, customer_of_job[0], visit, location)
    return visit


def list_visits(
    caller: Caller,
    job_id: str,
    first_day: date | None,
    last_day: date | None,
    cursor: str | None,
    limit: int,
) -> Page:
    """The job's visits by start time; days are the tenant's."""
    zone = ZoneInfo(tenants.get_settings(caller).timezone)

    def moment(day: date | None, at: clock_time) -> str | None:
        return clock.iso(datetime.combine(day, at, zone)) if day else None

    return jobs.visits(
        caller,
        job_id,
        moment(first_day, clock_time.min),
        moment(last_day, clock_time.max),
        cursor,
        limit,
    )


def get_visit(caller: Caller, job_id: str, visit_id: str) -> Visit:
    return _visit_in(caller, jobs.load(caller, job_id), visit_id)


def unassign(caller: Caller, job_id: str, visit_id: str, if_match: int | None = None) -> Visit:
    """Take a visit off its technicians' days (dispatch re-plans it): `unscheduled` again."""
    tenant = tenants.get_settings(caller)
    return _change(
        caller,
        tenant,
        job_id,
        visit_id,
        lambda job, visit, others: [rules.unassign(visit, caller.user_id)],
        if_match=if_match,
    )


def change_visit(
    caller: Caller, job_id: str, visit_id: str, change: Change, if_match: int | None = None
) -> Visit:
    """Any other change to one visit (its checklist, say), saved the one way visits are."""
    return _change(
        caller, tenants.get_settings(caller), job_id, visit_id, change, if_match=if_match
    )


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
    also: Callable[[Transaction, Visit], None] | None = None,
) -> Visit:
    """Load, change, check the technicians' days and save together; retry a lost race.

    `closing` lets a change through on a closed job (cancelling its visits frees the time);
    `also` adds writes that belong to the change (the time a status change ends).
    """

    def attempt() -> Visit:
        collection = jobs.load(caller, job_id)
        job = collection.header()
        before = None if new is not None else _visit_in(caller, collection, visit_id)
        if before is not None:
            check_version(before.version, if_match)
        visit = (before or new).model_copy(deep=True)
        if not job.is_open and not closing:
            raise Conflict(f"job is {job.stage}", code="illegal_transition")
        others = collection.tally().model_copy(deep=True)
        if before is not None:
            others.count(before, -1)
        stage = job.stage
        events = [e for e in change(job, visit, others) if e is not None]
        tx = Transaction()
        queue_visits(tx, caller, tenant, [(before, visit)], collection)
        _save_job_if_changed(tx, caller, job, stage, events)
        if also is not None:
            also(tx, visit)
        tx.commit()
        return visit

    return retrying(attempt, MAX_ATTEMPTS, reraise=True)


def _save_job_if_changed(
    tx: Transaction, caller: Caller, job: Job, stage: str, events: list[TimelineEvent]
) -> None:
    """The header is rewritten only when the change moved the job's stage; otherwise the
    transaction just checks it is unchanged (a job closed meanwhile fails it), so changes to two
    visits of one job don't race each other."""
    if job.stage != stage:
        job_rules.touch(job)
        jobs.save(tx, caller, job, *events)
        return
    job_store.check_unchanged(tx, caller.tenant_id, job)
    jobs.record_events(tx, caller, *events)


def queue_visits(
    tx: Transaction,
    caller: Caller,
    tenant: Tenant,
    changes: list[tuple[Visit | None, Visit]],
    collection: JobCollection,
) -> None:
    """Queue changed visits (before, after), the technician days they take or give back, and
    the job's visit tally when a count moved (under its version).

    The days are read once, strongly consistent, and each is written once under the version
    read, however many of the visits share it: the transaction fails as a whole if any day
    changed meanwhile. 409 double_booking when a visit's new time clashes.
    """
    timezone = tenant.timezone
    wanted = {
        key for before, after in changes for key in rules.days_to_change(before, after, timezone)
    }
    days = _read_many_days(caller, sorted(wanted))
    changed: dict[tuple[str, str], TechDay] = {}
    for before, after in changes:
        for day in rules.rebook(before, after, days, timezone, tenant.travel_buffer_minutes):
            changed[(day.technician_id, day.day)] = day
    for _, visit in changes:
        label = "visit" if len(changes) == 1 else f"visit {visit.visit_id}"
        tx.put(visit_store.visit_item(caller.tenant_id, visit, timezone), label=label, entity=visit)
    for day in changed.values():
        _put_day(tx, caller.tenant_id, day)
    _queue_tally(tx, caller, collection, changes)


def _queue_tally(
    tx: Transaction,
    caller: Caller,
    collection: JobCollection,
    changes: list[tuple[Visit | None, Visit]],
) -> None:
    tally = collection.tally()
    moved = [tally.change(before, after) for before, after in changes]
    if any(moved):
        item = job_store.tally_item(caller.tenant_id, collection.job_id, tally)
        tx.put(item, label="visit tally", entity=tally)


def _just(events: list[TimelineEvent]) -> Change:
    return lambda job, visit, others: list(events)


def _visit_in(caller: Caller, collection: JobCollection, visit_id: str) -> Visit:
    """A technician sees only the visits they are on; others look like no visit at all."""
    visit = collection.child("visit", visit_id, Visit)
    if visit is None or (caller.is_technician and caller.user_id not in visit.technician_ids):
        raise NotFound("visit not found")
    return visit


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


# --- technician days --------------------------------------------------------------------------


def _put_day(tx: Transaction, tenant_id: str, day: TechDay) -> None:
    label = f"technician day {day.technician_id} {day.day}"
    tx.put(visit_store.tech_day_item(tenant_id, day), label=label, entity=day)


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


# --- recurring series -------------------------------------------------------------------------

# TransactWriteItems takes at most 100 writes; a long series is written in batches below that.
MAX_TRANSACTION_WRITES = 100


def create_series(caller: Caller, job_id: str, fields: dict[str, Any]) -> list[Visit]:
    """One visit per occurrence of `fields["recurrence"]` in the series' first quarter (from
    now, or from its first visit if later), sharing a `series_id`; the series item keeps the
    rule, and the nightly schedule writes the later visits as the days pass (services/series.py).

    Every occurrence is checked before anything is written (technicians' skills and shifts,
    and their days as they are now): a problem with any of them is a 409/422 naming it, and
    nothing is written. A long series exceeds one transaction (100 writes), so it is written
    in batches, each atomic and holding its technician days under their versions: double
    booking stays impossible. Only a booking that races in between the check and a later
    batch can leave earlier batches written; the 409 then lists them (`created_visit_ids`),
    each an ordinary visit that can be cancelled alone.
    """
    tenant = tenants.get_settings(caller)
    job = jobs.get(caller, job_id)
    if not job.is_open:
        raise Conflict(f"job is {job.stage}", code="illegal_transition")
    customer = customers.get(caller, job.customer_id)
    timezone = customer.timezone or tenant.timezone
    technician_ids = fields.get("technician_ids") or []
    series = recurrence.Series(
        series_id=new_id(),
        job_id=job_id,
        rule=fields["recurrence"],
        window_start=fields["window_start"],
        window_end=fields["window_end"],
        start=fields.get("start"),
        duration_minutes=fields["duration_minutes"],
        timezone=timezone,
        technician_ids=technician_ids,
        required_skills=fields.get("required_skills") or [],
        checklist=checklist_rules.define([], fields.get("checklist") or [], "unscheduled"),
        created_by=caller.user_id,
        created_at=clock.now(),
    )
    occurrences = recurrence.next_occurrences(series, recurrence.horizon(series, clock.now()))
    technicians = _technicians(caller, technician_ids) if technician_ids else []
    series_id = series.series_id
    planned: list[tuple[int, Visit, list[TimelineEvent]]] = []
    for number, occurrence in enumerate(occurrences, 1):
        visit, created = rules.new_visit(
            visit_id=new_id(),
            job_id=job_id,
            window_start=occurrence.window_start,
            window_end=occurrence.window_end,
            duration_minutes=fields["duration_minutes"],
            timezone=timezone,
            actor=caller.user_id,
            start=occurrence.start,
            required_skills=fields.get("required_skills"),
            location=_location_of(customer),
        )
        visit.series_id = series_id
        visit.checklist = [item.model_copy() for item in series.checklist]
        events = [created]
        if technician_ids:
            events += rules.assign(visit, technician_ids, None, caller.user_id)
            with _occurrence(number, visit):
                rules.check_technicians(technicians, visit, tenant.timezone)
        planned.append((number, visit, events))
    # Every occurrence against the days as they are now, before any is written.
    _book_series(caller, tenant, [(n, v.model_copy(deep=True)) for n, v, _ in planned])
    started = event(
        job_id,
        "VisitSeriesCreated",
        caller.user_id,
        series_id=series_id,
        recurrence=fields["recurrence"],
        visit_ids=[visit.visit_id for _, visit, _ in planned],
    )
    written: list[Visit] = []
    for batch in _series_batches(planned, len(technician_ids)):
        first = not written
        try:
            _write_series_batch(
                caller, tenant, job_id, batch, [started] if first else [], series if first else None
            )
        except FieldlineError as problem:
            if written:
                problem.details = [
                    *problem.details,
                    {"created_visit_ids": [v.visit_id for v in written], "series_id": series_id},
                ]
            raise
        written += [visit for _, visit, _ in batch]
    return written


@contextmanager
def _occurrence(number: int, visit: Visit) -> Iterator[None]:
    """Name the occurrence in any refusal, so the office knows which date is the problem."""
    try:
        yield
    except (Conflict, Invalid) as problem:
        if isinstance(problem, ConditionFailed):
            raise
        day = rules.local_day(visit.start, visit.timezone)
        problem.message = f"occurrence {number} on {day}: {problem.message}"
        problem.details = [{**d, "occurrence": number, "date": day} for d in problem.details]
        raise


def _book_series(
    caller: Caller, tenant: Tenant, visits: list[tuple[int, Visit]]
) -> dict[tuple[str, str], TechDay]:
    """Book each occurrence into its technicians' days (read once); 409 naming a clash."""
    wanted = sorted(
        {key for _, visit in visits for key in rules.days_to_change(None, visit, tenant.timezone)}
    )
    days = _read_many_days(caller, wanted)
    for number, visit in visits:
        with _occurrence(number, visit):
            rules.rebook(None, visit, days, tenant.timezone, tenant.travel_buffer_minutes)
    return days


def _series_batches(
    planned: list[tuple[int, Visit, list[TimelineEvent]]], technicians: int
) -> Iterator[list[tuple[int, Visit, list[TimelineEvent]]]]:
    # Besides its occurrences, a batch writes the job header, the series event and the job's
    # stage change (first batch only): keep room for those three.
    room = MAX_TRANSACTION_WRITES - 3
    batch: list[tuple[int, Visit, list[TimelineEvent]]] = []
    used = 0
    for entry in planned:
        writes = 1 + len(entry[2]) + technicians
        if batch and used + writes > room:
            yield batch
            batch, used = [], 0
        batch.append(entry)
        used += writes
    if batch:
        yield batch


def _write_series_batch(
    caller: Caller,
    tenant: Tenant,
    job_id: str,
    batch: list[tuple[int, Visit, list[TimelineEvent]]],
    extra_events: list[TimelineEvent],
    series: recurrence.Series | None = None,
) -> None:

    def attempt() -> None:
        # Only the header and the tally: the caller was allowed on the job before the first batch.
        collection = job_store.load_collection(caller.tenant_id, job_id)
        job = collection.header()
        if job is None:
            raise NotFound("job not found")
        if not job.is_open:
            raise Conflict(f"job is {job.stage}", code="illegal_transition")
        days = _book_series(caller, tenant, [(n, v) for n, v, _ in batch])
        events = [e for _, _, occurrence_events in batch for e in occurrence_events]
        if any(v.technician_ids for _, v, _ in batch):
            events.append(job_rules.advance(job, "scheduled", caller.user_id))
        job_rules.touch(job)
        tx = Transaction()
        for number, visit, _ in batch:
            item = visit_store.visit_item(caller.tenant_id, visit, tenant.timezone)
            tx.put(item, label=f"visit {visit.visit_id} (occurrence {number})", entity=visit)
        for day in days.values():
            _put_day(tx, caller.tenant_id, day)
        _queue_tally(tx, caller, collection, [(None, visit) for _, visit, _ in batch])
        if series is not None:
            tx.put(series_store.series_item(caller.tenant_id, series), label="series")
        jobs.save(tx, caller, job, *extra_events, *events)
        tx.commit()

    retrying(attempt, MAX_ATTEMPTS, reraise=True)


def _read_many_days(
    caller: Caller, wanted: list[tuple[str, str]]
) -> dict[tuple[str, str], TechDay]:
    # Strongly consistent: the versions the writes will be checked against.
    found = visit_store.tech_days(caller.tenant_id, wanted, consistent=True)
    return {key: found.get(key) or TechDay(technician_id=key[0], day=key[1]) for key in wanted}
