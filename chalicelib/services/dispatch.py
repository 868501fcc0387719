"""Dispatch: the day board, a technician's day, and planning a day with the route optimiser.

Reading a day costs the same whatever else the table holds. The technicians come from the
users index (one Query), their bookings from their day-lock items (`T#t#TECH#u / DAY#d`, one
BatchGetItem per 100 technicians: the lock holds every visit a technician is booked on,
including visits shared with another technician, which the day index lists under the first
one only), the unassigned visits from the day's unassigned index (one Query), then the visits,
their job headers and their customers with BatchGetItem (100 keys a call). So the calls grow
with the technicians and the day's visits, never with the number of jobs.

Optimising runs off the request path: `optimize` stores a running proposal and queues the
optimizer's own invocation (an asynchronous Lambda invoke, `handlers.optimizer`), which reads
the day, turns it into a `RoutingProblem` (domain.routing), solves it with PyVRP
(integrations.routing_pyvrp) and stores the plan, or the reason it failed. A proposal still
running past its deadline (twice the time limit, since a second pass may follow the first,
plus time to read the day and fetch travel times) is failed: the invocation was lost or killed.
The plan is stored with the versions of every visit it may move and of every technician day it
plans; applying it refuses (409) if any of them changed, then books each visit through
scheduling's own assignment (the double-booking guard), in an order that never makes one visit
of the plan clash with another one's old slot.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, Field

from chalicelib.config import get_settings
from chalicelib.domain import clock
from chalicelib.domain import routing as plan
from chalicelib.domain.callers import SYSTEM, TECHNICIAN, Caller
from chalicelib.domain.customers import Customer
from chalicelib.domain.errors import Conflict, FieldlineError, Invalid, NotFound, Unavailable
from chalicelib.domain.ids import new_id
from chalicelib.domain.jobs import Job
from chalicelib.domain.tenants import Tenant
from chalicelib.domain.users import WEEKDAYS, User
from chalicelib.domain.visits import Booking, TechDay, Visit, find_clash
from chalicelib.logs import logger
from chalicelib.services import scheduling, tenants
from chalicelib.store import customers as customer_store
from chalicelib.store import proposals as proposal_store
from chalicelib.store import tenants as user_store
from chalicelib.store import visits as visit_store
from chalicelib.store.db import ConditionFailed, Transaction

PRIORITY_JOBS = ("high", "emergency")
# Free to be moved by the optimiser: booked, nobody on the road yet.
MOVABLE = ("scheduled", "dispatched")
IN_PROGRESS = ("en_route", "on_site")
DONE = ("completed", "no_access")
PROPOSAL_TTL = timedelta(days=1)
# The optimizer's function runs for up to 15 minutes (infra/fieldline_stack.py): two passes of
# the longest limit and the overhead below fit in it.
DEFAULT_TIME_LIMIT_SECONDS, MAX_TIME_LIMIT_SECONDS = 10, 300
SOLVE_OVERHEAD = timedelta(minutes=2)
# A bigger day is planned in parts (per technician group).
MAX_VISITS = 500
RUNNING, DONE, FAILED = "running", "done", "failed"
TIMED_OUT_REASON = "the optimizer did not finish in time; try again, or plan fewer technicians"
CRASHED_REASON = "the optimizer failed; try again"
NO_LOCATION_REASON = "no location"
NO_TECHNICIAN_REASON = "no technician can be planned that day"
NOT_ON_THIS_DAY_REASON = "window is not on this day"
PIN = "@"
MINUTE = 60  # a pinned stop's routing id: visit@technician (a shared visit is pinned to each)


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
    read = _read_day(caller, day, _all_technicians(caller))
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
    read = _read_day(caller, day, technicians, with_unassigned=False)
    return {
        "date": day.isoformat(),
        "timezone": read.tenant.timezone,
        "technician": {"id": caller.user_id, "name": me.name if me else None},
        "visits": [_visit_view(read, v) for v in read.visits_of(caller.user_id)],
    }


def _read_day(
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


def _all_technicians(caller: Caller) -> list[User]:
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
        "job": (
            {"id": job.job_id, "title": job.title, "stage": job.stage, "priority": job.priority}
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


# --- the proposal as stored ---------------------------------------------------------------------


class ProposedStop(BaseModel):
    visit_id: str
    job_id: str
    arrival: datetime
    start: datetime
    end: datetime
    travel_seconds: int  # from the previous stop (or home)
    pinned: bool = False


class ProposedRoute(BaseModel):
    technician_id: str
    name: str
    stops: list[ProposedStop]
    travel_seconds: int
    leaves_home: datetime
    back_home: datetime | None


class LeftOut(BaseModel):
    visit_id: str
    job_id: str
    reason: str
    currently_assigned_to: list[str] = Field(default_factory=list)


class SkippedTechnician(BaseModel):
    technician_id: str
    name: str
    reason: str


class Proposal(BaseModel):
    """A request to plan a day and, once its invocation is done, the plan."""

    proposal_id: str
    # Proposals stored before optimizing ran in the background were made done.
    status: Literal["running", "done", "failed"] = DONE
    date: date
    timezone: str
    seed: int
    time_limit_seconds: float
    technician_ids: list[str] | None = None  # as asked: None plans every active technician
    deadline: datetime | None = None  # running after it means failed
    started_at: datetime | None = None  # the invocation that claimed the solve
    reason: str | None = None  # why it failed
    routes: list[ProposedRoute] = Field(default_factory=list)
    unassigned: list[LeftOut] = Field(default_factory=list)
    skipped_technicians: list[SkippedTechnician] = Field(default_factory=list)
    total_travel_seconds: int = 0
    # What the plan was made from: applying refuses if any of it changed.
    visit_versions: dict[str, int] = Field(default_factory=dict)
    day_versions: dict[str, int | None] = Field(default_factory=dict)
    created_by: str
    created_at: datetime
    expires_at: datetime
    applied_at: datetime | None = None
    version: int | None = None

    def current_status(self, now: datetime) -> tuple[str, str | None]:
        """The status and reason a client sees: running past the deadline is failed."""
        if self.status == RUNNING and self.deadline is not None and now >= self.deadline:
            return FAILED, TIMED_OUT_REASON
        return self.status, self.reason


# --- optimise -----------------------------------------------------------------------------------


def optimize(
    caller: Caller,
    day: date,
    technician_ids: list[str] | None = None,
    time_limit_seconds: float = DEFAULT_TIME_LIMIT_SECONDS,
    seed: int = 0,
) -> dict[str, Any]:
    """Start planning the day in the optimizer's own invocation; the proposal, running.

    What a client can get wrong is refused here (a past day, an unknown technician); the rest
    (the day's visits, travel times, the solve) is the invocation's, which records the plan or
    why it failed. Should the invocation not start, the proposal is failed and this is a 503.
    """
    tenant = tenants.get_settings(caller)
    if day < clock.now().astimezone(ZoneInfo(tenant.timezone)).date():
        raise Invalid(
            f"{day.isoformat()} is past; only today or a later day can be planned",
            details=[{"field": "date", "message": "must be today or later"}],
        )
    _chosen(_all_technicians(caller), technician_ids)
    moment = clock.now()
    proposal = Proposal(
        proposal_id=new_id(),
        status=RUNNING,
        date=day,
        timezone=tenant.timezone,
        seed=seed,
        time_limit_seconds=time_limit_seconds,
        technician_ids=technician_ids,
        deadline=moment + 2 * timedelta(seconds=time_limit_seconds) + SOLVE_OVERHEAD,
        created_by=caller.user_id,
        created_at=moment,
        expires_at=moment + PROPOSAL_TTL,
    )
    _save(caller.tenant_id, proposal)
    from chalicelib.integrations import lambdas

    try:
        lambdas.invoke_async(
            get_settings().optimizer_function,
            {"tenant_id": caller.tenant_id, "proposal_id": proposal.proposal_id},
        )
    except Unavailable:
        _finish(caller.tenant_id, proposal, FAILED, "the optimizer could not be started")
        raise
    return proposal_view(proposal)


def get_proposal(caller: Caller, proposal_id: str) -> dict[str, Any]:
    """The proposal: running, done with its plan, or failed with the reason."""
    return proposal_view(_load(caller.tenant_id, proposal_id))


def proposal_view(proposal: Proposal) -> dict[str, Any]:
    status, reason = proposal.current_status(clock.now())
    shown = proposal.model_dump(exclude={"visit_versions", "day_versions", "started_at"})
    shown |= {"status": status, "reason": reason}
    if status != DONE:  # no plan yet, or none to come
        for name in ("routes", "unassigned", "skipped_technicians", "total_travel_seconds"):
            shown[name] = None
    return shown


def run_optimization(tenant_id: str, proposal_id: str) -> str:
    """The optimizer's invocation: solve the proposal's day, store the plan or why it failed.

    Lambda may deliver one asynchronous event twice: the first invocation claims the proposal
    (`started_at`, under its version) and a second one finds it claimed and does nothing.
    Returns the status it leaves (or "skipped").
    """
    proposal = proposal_store.get_proposal(tenant_id, proposal_id, Proposal)
    if proposal is None or proposal.status != RUNNING or proposal.started_at is not None:
        return "skipped"
    if proposal.current_status(clock.now())[0] == FAILED:  # queued past its deadline
        return _finish(tenant_id, proposal, FAILED, TIMED_OUT_REASON)
    proposal.started_at = clock.now()
    try:
        _save(tenant_id, proposal)
    except ConditionFailed:
        return "skipped"
    system = Caller(tenant_id=tenant_id, user_id=SYSTEM, role=SYSTEM)
    try:
        solved = _solve(system, proposal)
    except FieldlineError as problem:  # too many visits, a technician gone, no travel times
        return _finish(tenant_id, proposal, FAILED, problem.message)
    except Exception:
        logger.exception("optimization failed", extra={"proposal_id": proposal_id})
        _finish(tenant_id, proposal, FAILED, CRASHED_REASON)
        raise  # the function's error metric and dead-letter queue see it
    if solved.current_status(clock.now())[0] == FAILED:
        # Past the deadline a client was told it failed: it stays failed.
        return _finish(tenant_id, proposal, FAILED, TIMED_OUT_REASON)
    _save(tenant_id, solved)
    return solved.status


def _solve(caller: Caller, proposal: Proposal) -> Proposal:
    """The proposal with its plan: per technician a route with arrival times, and what could
    not be placed."""
    from chalicelib.integrations import routing_pyvrp

    tenant = tenants.get_settings(caller)
    technicians = _chosen(_all_technicians(caller), proposal.technician_ids)
    read = _read_day(caller, proposal.date, technicians, consistent=True, tenant=tenant)
    problem_day = _ProblemBuilder(read, clock.now()).build()
    if len(problem_day.problem.visits) > MAX_VISITS:
        raise Invalid(f"at most {MAX_VISITS} visits can be planned at once; choose technicians")
    solved = routing_pyvrp.solve(
        problem_day.problem,
        WholeMinutes(travel_provider()),
        seed=proposal.seed,
        time_limit_seconds=proposal.time_limit_seconds,
    )
    return proposal.model_copy(
        update={
            "status": DONE,
            "timezone": tenant.timezone,
            "routes": [problem_day.route(r) for r in solved.routes],
            "unassigned": [problem_day.left_out(u.visit_id, u.reason) for u in solved.unassigned]
            + problem_day.not_planned,
            "skipped_technicians": problem_day.skipped,
            "total_travel_seconds": solved.total_travel_seconds,
            "visit_versions": {v.visit_id: v.version for v in problem_day.free},
            "day_versions": {
                tech.user_id: (
                    read.days[tech.user_id].version if tech.user_id in read.days else None
                )
                for tech in problem_day.planned_technicians
            },
        }
    )


def _finish(tenant_id: str, proposal: Proposal, status: str, reason: str) -> str:
    proposal.status, proposal.reason = status, reason
    _save(tenant_id, proposal)
    return status


def _save(tenant_id: str, proposal: Proposal) -> None:
    """Write the proposal under the version it was read at (a lost race is ConditionFailed)."""
    tx = Transaction()
    item = proposal_store.proposal_item(
        tenant_id, proposal.proposal_id, proposal, proposal.expires_at
    )
    tx.put(item, label="proposal", entity=proposal)
    tx.commit()


def _load(tenant_id: str, proposal_id: str) -> Proposal:
    proposal = proposal_store.get_proposal(tenant_id, proposal_id, Proposal)
    if proposal is None or proposal.expires_at <= clock.now():
        raise NotFound("proposal not found")
    return proposal


def travel_provider() -> plan.TravelTimeProvider:
    """Straight-line estimates by default; Amazon Location's road times where configured."""
    settings = get_settings()
    if settings.travel_provider == "amazon_location" and settings.route_calculator_name:
        from chalicelib.integrations.travel_location import AmazonLocationTravel

        return AmazonLocationTravel(settings.route_calculator_name)
    return plan.StraightLineTravel()


@dataclass(frozen=True)
class WholeMinutes:
    """Travel rounded up to whole minutes: with windows, shifts and durations on whole minutes
    too, every proposed start is one a customer can be told (09:47, not 09:46:13)."""

    travel: plan.TravelTimeProvider

    def matrix(self, locations) -> list[list[int]]:
        return [[-(-s // MINUTE) * MINUTE for s in row] for row in self.travel.matrix(locations)]


def _chosen(active: list[User], technician_ids: list[str] | None) -> list[User]:
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


@dataclass
class _ProblemDay:
    """The routing problem of a day and how to read its answer back in Fieldline's terms."""

    read: Day
    problem: plan.RoutingProblem
    midnight: datetime
    buffer_seconds: int
    planned_technicians: list[User]
    free: list[Visit]
    skipped: list[SkippedTechnician]
    not_planned: list[LeftOut]

    def at(self, seconds: int) -> datetime:
        return (self.midnight + timedelta(seconds=seconds)).astimezone(self.read.zone)

    def route(self, route: plan.TechnicianRoute) -> ProposedRoute:
        tech = next(t for t in self.planned_technicians if t.user_id == route.technician_id)
        start_of_day = next(
            t.shift_start for t in self.problem.technicians if t.id == route.technician_id
        )
        stops, previous_departure = [], start_of_day
        for stop in route.stops:
            visit = self.read.visits[stop.visit_id.split(PIN)[0]]
            begins = self.at(stop.start_service)
            stops.append(
                ProposedStop(
                    visit_id=visit.visit_id,
                    job_id=visit.job_id,
                    arrival=self.at(stop.arrival),
                    start=begins,
                    end=begins + timedelta(minutes=visit.duration_minutes),
                    travel_seconds=stop.arrival - previous_departure,
                    pinned=PIN in stop.visit_id,
                )
            )
            previous_departure = stop.departure
        # The last stop's departure includes the travel buffer; the drive home does not.
        back_home = route.back_home - self.buffer_seconds if stops else None
        return ProposedRoute(
            technician_id=tech.user_id,
            name=tech.name,
            stops=stops,
            travel_seconds=route.travel_seconds,
            leaves_home=self.at(start_of_day),
            back_home=self.at(back_home) if back_home is not None else None,
        )

    def left_out(self, visit_id: str, reason: str) -> LeftOut:
        visit = self.read.visits[visit_id]
        return LeftOut(
            visit_id=visit_id,
            job_id=visit.job_id,
            reason=reason if self.problem.technicians else NO_TECHNICIAN_REASON,
            currently_assigned_to=visit.technician_ids,
        )


class _ProblemBuilder:
    """A day as PyVRP sees it: seconds from the tenant's local midnight of that date.

    - Technicians leave home at their shift start (or now, planning today) and are back by its
      end; one without a home or not working that weekday is skipped, with the reason.
    - Free visits (unassigned, or booked on one planned technician and not yet under way) keep
      their window (the latest start leaves room for the duration) and skills; a visit for a
      high or emergency job must be served, others are optional.
    - Visits under way are pinned first on their technician's route, starting no earlier than
      booked; so are visits shared with another technician (they cannot move alone) and booked
      ones whose start has passed. Finished ones (completed, no access) only push the
      technician's day past their end.
    - Every visit is followed by the tenant's travel buffer, which the double-booking guard
      demands between visits: the plan can then be applied through that guard unchanged.
    """

    def __init__(self, read: Day, now: datetime):
        self.read = read
        self.now = now
        self.zone = read.zone
        # Elapsed seconds, counted in UTC: on a DST day local arithmetic would be an hour off.
        self.midnight = datetime.combine(read.date, time(0), tzinfo=self.zone).astimezone(UTC)
        self.buffer = read.tenant.travel_buffer_minutes * 60

    def seconds(self, moment: datetime) -> float:
        return (moment.astimezone(UTC) - self.midnight).total_seconds()

    def build(self) -> _ProblemDay:
        technicians, visits, free, skipped, planned = [], [], [], [], []
        for tech in self.read.technicians:
            made = self._technician(tech)
            if isinstance(made, SkippedTechnician):
                skipped.append(made)
                continue
            routing_tech, pins, movable = made
            technicians.append(routing_tech)
            visits += pins
            free += movable
            planned.append(tech)
        free += [self.read.visits[v] for v in self.read.unassigned]
        not_planned = []
        for visit in free:
            routing_visit = self._free_visit(visit)
            if isinstance(routing_visit, str):
                not_planned.append(
                    LeftOut(
                        visit_id=visit.visit_id,
                        job_id=visit.job_id,
                        reason=routing_visit,
                        currently_assigned_to=visit.technician_ids,
                    )
                )
            else:
                visits.append(routing_visit)
        problem = plan.RoutingProblem(tuple(technicians), tuple(visits))
        return _ProblemDay(
            read=self.read,
            problem=problem,
            midnight=self.midnight,
            buffer_seconds=self.buffer,
            planned_technicians=planned,
            free=free,
            skipped=skipped,
            not_planned=not_planned,
        )

    def _technician(self, tech: User):
        def skip(reason: str) -> SkippedTechnician:
            return SkippedTechnician(technician_id=tech.user_id, name=tech.name, reason=reason)

        if tech.home is None:
            return skip("no home location")
        shift = tech.shift
        if shift is not None and WEEKDAYS[self.read.date.weekday()] not in shift.days:
            return skip("not working that day")
        if shift is None:
            next_midnight = datetime.combine(self.read.date + timedelta(days=1), time(0))
            shift_start, shift_end = 0, self.seconds(next_midnight.replace(tzinfo=self.zone))
        else:
            shift_start = self.seconds(self._local(shift.start))
            shift_end = self.seconds(self._local(shift.end))
        start = max(shift_start, _minute_up(self.seconds(self.now)))
        home = plan.Location(tech.home.lat, tech.home.lng)
        pins, movable, pinned_visits = [], [], []
        here = home
        for visit in self.read.visits_of(tech.user_id):
            if (
                visit.status in MOVABLE
                and visit.technician_ids == [tech.user_id]
                and visit.start >= self.now  # the past is not re-planned
                and self._job_open(visit)
            ):
                movable.append(visit)
            elif visit.status in DONE:
                start = max(start, _minute_up(self.seconds(visit.end)) + self.buffer)
            else:
                pinned_visits.append(visit)
        # Under way first, then what is shared with other technicians, each in booked order.
        pinned_visits.sort(key=lambda v: (v.status not in IN_PROGRESS, v.start, v.visit_id))
        for visit in pinned_visits:
            where = _location(visit) or here
            booked = _minute_up(self.seconds(visit.start))
            pins.append(
                plan.Visit(
                    id=f"{visit.visit_id}{PIN}{tech.user_id}",
                    location=where,
                    window_start=booked,
                    window_end=booked,
                    duration=visit.duration_minutes * 60 + self.buffer,
                )
            )
            here = where
        start, end = _minute_up(start), math.floor(shift_end / MINUTE) * MINUTE
        if start >= end:
            return skip("shift is over")
        routing_tech = plan.Technician(
            id=tech.user_id,
            home=home,
            shift_start=start,
            shift_end=end,
            skills=frozenset(tech.skills),
            pinned_visit_ids=tuple(p.id for p in pins),
        )
        return routing_tech, pins, movable

    def _free_visit(self, visit: Visit) -> plan.Visit | str:
        location = _location(visit)
        if location is None:
            return NO_LOCATION_REASON
        duration = visit.duration_minutes * 60
        earliest = max(0, _minute_up(self.seconds(visit.window_start)))
        latest = math.floor(self.seconds(visit.window_end) / MINUTE) * MINUTE - duration
        if latest < earliest:
            return NOT_ON_THIS_DAY_REASON
        job = self.read.jobs.get(visit.job_id)
        if not self._job_open(visit):
            return f"job is {job.stage if job else 'gone'}"
        return plan.Visit(
            id=visit.visit_id,
            location=location,
            window_start=earliest,
            window_end=latest,
            duration=duration + self.buffer,
            required_skills=frozenset(visit.required_skills),
            priority=job is not None and job.priority in PRIORITY_JOBS,
        )

    def _job_open(self, visit: Visit) -> bool:
        job = self.read.jobs.get(visit.job_id)
        return job is not None and job.is_open

    def _local(self, hhmm: str) -> datetime:
        hours, minutes = hhmm.split(":")
        return datetime.combine(self.read.date, time(int(hours), int(minutes)), tzinfo=self.zone)


def _minute_up(seconds: float) -> int:
    return math.ceil(seconds / MINUTE) * MINUTE


def _location(visit: Visit) -> plan.Location | None:
    if visit.location is None:
        return None
    return plan.Location(visit.location.lat, visit.location.lng)


# --- apply --------------------------------------------------------------------------------------


@dataclass
class _Step:
    action: str  # "assign" or "unassign"
    visit_id: str
    job_id: str
    technician_id: str | None = None
    start: datetime | None = None


def apply(caller: Caller, proposal_id: str) -> dict[str, Any]:
    """Book the plan: 409 if any visit or technician day it was made from has changed.

    Each visit is assigned through `scheduling.assign`, the same transaction (visit, job,
    timeline, technician days under their versions) as a manual assignment. The steps are
    ordered so no visit of the plan lands on another one's old slot; where the plan swaps
    slots, one visit is first unassigned to free its slot. Visits the plan leaves out lose
    their technician. Nothing is written when the check fails; should a booking race in
    mid-way, the 409 lists the steps already applied (each one whole, never a double booking).
    """
    proposal = _load(caller.tenant_id, proposal_id)
    status, reason = proposal.current_status(clock.now())
    if status == RUNNING:
        raise Conflict(
            "the proposal is still being planned; apply it once its status is done",
            code="proposal_running",
        )
    if status == FAILED:
        raise Conflict(f"the proposal failed: {reason}", code="proposal_failed")
    if proposal.applied_at is not None:
        raise Conflict(
            f"the proposal was applied at {clock.iso(proposal.applied_at)}",
            code="proposal_applied",
        )
    visits, days = _current(caller, proposal)
    _refuse_if_changed(proposal, visits, days)
    # Claimed first: a second apply of the same proposal stops here.
    proposal.applied_at = clock.now()
    _save(caller.tenant_id, proposal)
    tenant = tenants.get_settings(caller)
    steps = _steps(proposal, visits, days, tenant.travel_buffer_minutes)
    versions = {visit_id: visit.version for visit_id, visit in visits.items()}
    applied: list[dict[str, Any]] = []
    for step in steps:
        try:
            if step.action == "unassign":
                done = scheduling.unassign(
                    caller, step.job_id, step.visit_id, if_match=versions[step.visit_id]
                )
            else:
                done = scheduling.assign(
                    caller,
                    step.job_id,
                    step.visit_id,
                    [step.technician_id],
                    step.start,
                    if_match=versions[step.visit_id],
                )
        except FieldlineError as problem:
            problem.details = [
                *problem.details,
                {"proposal_id": proposal_id, "failed_visit_id": step.visit_id, "applied": applied},
            ]
            raise
        versions[step.visit_id] = done.version
        applied.append(_step_view(step))
    return {
        "proposal_id": proposal_id,
        "applied_at": proposal.applied_at,
        "steps": applied,
        "unchanged_visit_ids": sorted(set(proposal.visit_versions) - {s.visit_id for s in steps}),
    }


def _current(caller: Caller, proposal: Proposal) -> tuple[dict[str, Visit], dict[str, TechDay]]:
    """The proposal's visits and technician days as they are now (one consistent read)."""
    t, day = caller.tenant_id, proposal.date.isoformat()
    job_of = {stop.visit_id: stop.job_id for route in proposal.routes for stop in route.stops} | {
        left.visit_id: left.job_id for left in proposal.unassigned
    }
    wanted_visits = [(job_of[v], v) for v in proposal.visit_versions]
    wanted_days = [(tech, day) for tech in proposal.day_versions]
    visits, days = visit_store.visits_and_tech_days(t, wanted_visits, wanted_days)
    return {v.visit_id: v for v in visits}, {d.technician_id: d for d in days}


def _refuse_if_changed(
    proposal: Proposal, visits: dict[str, Visit], days: dict[str, TechDay]
) -> None:
    changed: list[dict[str, Any]] = [
        {"visit_id": visit_id, "version": version, "current_version": _version(visits, visit_id)}
        for visit_id, version in proposal.visit_versions.items()
        if _version(visits, visit_id) != version
    ]
    changed += [
        {
            "technician_id": tech,
            "date": proposal.date.isoformat(),
            "version": version,
            "current_version": _version(days, tech),
        }
        for tech, version in proposal.day_versions.items()
        if _version(days, tech) != version
    ]
    if changed:
        raise Conflict(
            "the day changed since the proposal was made; optimise again",
            details=changed,
            code="proposal_stale",
        )


def _version(found: dict[str, Any], key: str) -> int | None:
    return found[key].version if key in found else None


def _steps(
    proposal: Proposal, visits: dict[str, Visit], days: dict[str, TechDay], buffer_minutes: int
) -> list[_Step]:
    """The order to book the plan in, simulated on the technicians' days as they are."""
    free = set(proposal.visit_versions)
    booked = {tech: day.model_copy(deep=True) for tech, day in days.items()}

    def release(visit_id: str) -> None:
        for day in booked.values():
            day.release(visit_id)

    steps: list[_Step] = []
    for left in proposal.unassigned:
        visit = visits.get(left.visit_id)
        if left.visit_id in free and visit is not None and visit.technician_ids:
            steps.append(_Step("unassign", visit.visit_id, visit.job_id))
            release(visit.visit_id)
    pending = [
        _Step("assign", stop.visit_id, stop.job_id, route.technician_id, stop.start)
        for route in proposal.routes
        for stop in route.stops
        if not stop.pinned and not _already(visits[stop.visit_id], route.technician_id, stop.start)
    ]
    unassigned: set[str] = set()
    while pending:
        ready = next((s for s in pending if _fits(s, visits, booked, buffer_minutes)), None)
        if ready is None:
            # Every remaining visit lands on another one's old slot (a swap): free one first.
            stuck = next(
                (
                    s
                    for s in pending
                    if s.visit_id not in unassigned and visits[s.visit_id].technician_ids
                ),
                None,
            )
            if stuck is None:
                steps += pending  # blocked by something outside the plan: the guard will say
                break
            steps.append(_Step("unassign", stuck.visit_id, stuck.job_id))
            release(stuck.visit_id)
            unassigned.add(stuck.visit_id)
            continue
        pending.remove(ready)
        steps.append(ready)
        release(ready.visit_id)
        target = booked.setdefault(
            ready.technician_id,
            TechDay(technician_id=ready.technician_id, day=proposal.date.isoformat()),
        )
        target.bookings.append(_booking(ready, visits))
    return steps


def _already(visit: Visit, technician_id: str, start: datetime) -> bool:
    return (
        visit.status in MOVABLE and visit.technician_ids == [technician_id] and visit.start == start
    )


def _booking(step: _Step, visits: dict[str, Visit]) -> Booking:
    visit = visits[step.visit_id]
    return Booking(
        visit_id=visit.visit_id,
        job_id=visit.job_id,
        start=step.start,
        end=step.start + timedelta(minutes=visit.duration_minutes),
    )


def _fits(
    step: _Step, visits: dict[str, Visit], booked: dict[str, TechDay], buffer_minutes: int
) -> bool:
    day = booked.get(step.technician_id)
    if day is None:
        return True
    return find_clash(day.bookings, _booking(step, visits), buffer_minutes) is None


def _step_view(step: _Step) -> dict[str, Any]:
    shown: dict[str, Any] = {
        "action": step.action,
        "visit_id": step.visit_id,
        "job_id": step.job_id,
    }
    if step.action == "assign":
        shown |= {"technician_id": step.technician_id, "start": step.start}
    return shown
