"""The day board and a technician's day: one local day read in a bounded number of calls.

Reading a day costs the same whatever else the table holds. The technicians come from the
users index (one Query), their bookings from their day-lock items (`T#t#TECH#u / DAY#d`, one
BatchGetItem per 100 technicians: the lock holds every visit a technician is booked on,
including visits shared with another technician, which the day index lists under the first
one only), the unassigned visits from the day's unassigned index (one Query), then the visits,
their job headers and their customers with BatchGetItem (100 keys a call). So the calls grow
with the technicians and the day's visits, never with the number of jobs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

from chalicelib.domain.callers import TECHNICIAN, Caller
from chalicelib.domain.customers import Customer
from chalicelib.domain.errors import Invalid
from chalicelib.domain.jobs import Job
from chalicelib.domain.tenants import Tenant
from chalicelib.domain.users import WEEKDAYS, User
from chalicelib.domain.visits import TechDay, Visit
from chalicelib.services import tenants
from chalicelib.store import customers as customer_store
from chalicelib.store import tenants as user_store
from chalicelib.store import visits as visit_store

# Free to be moved by the optimiser: booked, nobody on the road yet.
MOVABLE = ("scheduled", "dispatched")
IN_PROGRESS = ("en_route", "on_site")
FINISHED = ("completed", "no_access")


# --- reading a day ------------------------------------------------------------------------------


@dataclass
class Day:
    """One local day of the tenant: technicians, their bookings, the visits and who they're for."""

    tenant: Tenant
    date: date
    technicians: list[User]
    days: dict[str, TechDay]
    visits: dict[str, Visit]
    unassigned: list[str]
    jobs: dict[str, Job] = field(default_factory=dict)
    customers: dict[str, Customer] = field(default_factory=dict)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.tenant.timezone)

    def visits_of(self, technician_id: str) -> list[Visit]:
        day = self.days.get(technician_id)
        found = (
            [self.visits[b.visit_id] for b in day.bookings if b.visit_id in self.visits]
            if day
            else []
        )
        return sorted(found, key=lambda v: (v.start, v.visit_id))


def board(caller: Caller, day: date) -> dict[str, Any]:
    """Every active technician's visits in route order, and the day's unassigned visits."""
    read = read_day(caller, day, all_technicians(caller))
    return {
        "date": day.isoformat(),
        "timezone": read.tenant.timezone,
        "technicians": [
            {
                "id": tech.user_id,
                "name": tech.name,
                "skills": tech.skills,
                "shift": _shift_today(tech, day),
                "visits": [_visit_view(read, v) for v in read.visits_of(tech.user_id)],
            }
            for tech in read.technicians
        ],
        "unassigned": [_visit_view(read, read.visits[v]) for v in read.unassigned],
    }


def my_day(caller: Caller, day: date) -> dict[str, Any]:
    """The calling technician's day, in order, with customer, address and job summary."""
    me = user_store.get_user(caller.tenant_id, caller.user_id)
    technicians = [me] if me is not None and me.role == TECHNICIAN else []
    read = read_day(caller, day, technicians, with_unassigned=False)
    return {
        "date": day.isoformat(),
        "timezone": read.tenant.timezone,
        "technician": {"id": caller.user_id, "name": me.name if me else None},
        "visits": [_visit_view(read, v) for v in read.visits_of(caller.user_id)],
    }


def read_day(
    caller: Caller,
    day: date,
    technicians: list[User],
    with_unassigned: bool = True,
    consistent: bool = False,
    tenant: Tenant | None = None,
) -> Day:
    tenant = tenant or tenants.get_settings(caller)
    t = caller.tenant_id
    wanted_days = [(tech.user_id, day.isoformat()) for tech in technicians]
    locks = visit_store.tech_days(t, wanted_days, consistent)
    days = {tech: found for (tech, _), found in locks.items()}
    unassigned = _unassigned_visits(caller, day) if with_unassigned else []
    booked = [(b.job_id, b.visit_id) for d in days.values() for b in d.bookings]
    job_ids = {*(job_id for job_id, _ in booked), *(v.job_id for v in unassigned)}
    if consistent:
        # The index is eventually consistent: planning records versions read from the table.
        booked += [(v.job_id, v.visit_id) for v in unassigned]
    found_visits, found_jobs = visit_store.visits_and_jobs(t, booked, sorted(job_ids), consistent)
    visits = {v.visit_id: v for v in unassigned} | {v.visit_id: v for v in found_visits}
    jobs = {job.job_id: job for job in found_jobs}
    # One assigned or called off meanwhile is no longer unassigned.
    unassigned = [visits[v.visit_id] for v in unassigned if _waiting(visits[v.visit_id])]
    customer_ids = sorted({job.customer_id for job in jobs.values()})
    customers = {c.customer_id: c for c in customer_store.customers_by_id(t, customer_ids)}
    return Day(
        tenant=tenant,
        date=day,
        technicians=technicians,
        days=days,
        visits=visits,
        unassigned=[v.visit_id for v in sorted(unassigned, key=lambda v: (v.start, v.visit_id))],
        jobs=jobs,
        customers=customers,
    )


def all_technicians(caller: Caller) -> list[User]:
    """Active technicians by name: one Query per 200 technicians."""
    found, cursor = [], None
    while True:
        listed = user_store.list_users(caller.tenant_id, TECHNICIAN, cursor, 200)
        found += [tech for tech in listed.items if tech.active]
        cursor = listed.next_cursor
        if cursor is None:
            return found


def _unassigned_visits(caller: Caller, day: date) -> list[Visit]:
    found = visit_store.unassigned_visits(caller.tenant_id, day.isoformat())
    return [v for v in found if _waiting(v)]


def _waiting(visit: Visit) -> bool:
    return not visit.technician_ids and visit.status not in ("cancelled", "completed")


def _visit_view(read: Day, visit: Visit) -> dict[str, Any]:
    zone = read.zone
    job = read.jobs.get(visit.job_id)
    customer = read.customers.get(job.customer_id) if job else None
    return {
        "id": visit.visit_id,
        "job_id": visit.job_id,
        "series_id": visit.series_id,
        "status": visit.status,
        "start": visit.start.astimezone(zone),
        "end": visit.end.astimezone(zone),
        "window_start": visit.window_start.astimezone(zone),
        "window_end": visit.window_end.astimezone(zone),
        "duration_minutes": visit.duration_minutes,
        "technician_ids": visit.technician_ids,
        "required_skills": visit.required_skills,
        "location": visit.location,
        "checklist": visit.checklist,
        "flags": visit.flags,
        "job": (
            {
                "id": job.job_id,
                "title": job.title,
                "stage": job.stage,
                "priority": job.priority,
                "source": job.source,
            }
            if job
            else None
        ),
        "customer": (
            {"id": customer.customer_id, "name": customer.name, "phone": customer.phone}
            if customer
            else None
        ),
        "address": customer.address if customer else None,
        "version": visit.version,
    }


def _shift_today(tech: User, day: date) -> dict[str, str] | None:
    shift = tech.shift
    if shift is None or WEEKDAYS[day.weekday()] not in shift.days:
        return None
    return {"start": shift.start, "end": shift.end}


def chosen_technicians(active: list[User], technician_ids: list[str] | None) -> list[User]:
    if not technician_ids:
        return active
    by_id = {tech.user_id: tech for tech in active}
    unknown = [t for t in dict.fromkeys(technician_ids) if t not in by_id]
    if unknown:
        raise Invalid(
            f"no active technician {', '.join(unknown)}",
            details=[{"technician_id": t, "reason": "unknown_technician"} for t in unknown],
            code="unknown_technician",
        )
    return [by_id[t] for t in dict.fromkeys(technician_ids)]
