"""A stored plan of a day: started (`optimize`), read, and applied through scheduling.

Optimising runs off the request path: `optimize` stores a running proposal and queues the
optimizer's own invocation (an asynchronous Lambda invoke, `handlers.optimizer`), which reads
the day, turns it into a `RoutingProblem` (domain.routing), solves it with PyVRP
(integrations.routing_pyvrp) and stores the plan, or the reason it failed. A proposal still
running past its deadline (twice the time limit, since a second pass may follow the first,
plus time to read the day and fetch travel times) is failed: the invocation was lost or killed.
The plan is stored with the versions of every visit it may move and of every technician day it
plans; applying it refuses (409) if any of them changed, then books each visit through
scheduling's own assignment (the double-booking guard), in an order that never makes one visit
of the plan clash with another one's old slot. A plan of more than ASYNC_APPLY_STEPS changes is
applied off the request path too (the optimizer's function, `run_apply`): one transaction per
moved visit would outlast API Gateway's 29 seconds.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, Field

from chalicelib.config import get_settings
from chalicelib.domain import clock
from chalicelib.domain.callers import SYSTEM, Caller
from chalicelib.domain.errors import Conflict, FieldlineError, Invalid, NotFound, Unavailable
from chalicelib.domain.ids import new_id
from chalicelib.domain.tenants import Tenant
from chalicelib.domain.visits import Booking, TechDay, Visit, find_clash
from chalicelib.logs import logger
from chalicelib.services import scheduling, tenants
from chalicelib.services.dispatch_board import MOVABLE, all_technicians, chosen_technicians
from chalicelib.store import proposals as proposal_store
from chalicelib.store import visits as visit_store
from chalicelib.store.db import ConditionFailed, Transaction

PROPOSAL_TTL = timedelta(days=1)
# The optimizer's function runs for up to 15 minutes (infra/fieldline_stack.py): two passes of
# the longest limit (the priority fallback), a shorter re-solve on refined road times
# (planning.RESOLVE_SHARE of the limit, twice with the fallback) and the overhead below (reading
# the day, asking for travel times) fit in it.
DEFAULT_TIME_LIMIT_SECONDS, MAX_TIME_LIMIT_SECONDS = 10, 300
SOLVE_PASSES = 2.5
SOLVE_OVERHEAD = timedelta(minutes=2)
RUNNING, DONE, FAILED = "running", "done", "failed"
APPLYING, APPLIED = "applying", "applied"
TIMED_OUT_REASON = "the optimizer did not finish in time; try again, or plan fewer technicians"
CRASHED_REASON = "the optimizer failed; try again"
# Changes applied within the request; a bigger plan is applied by the optimizer's function.
# One change is one scheduling transaction with its reads: 48 ms on moto (a 60-change plan
# applied in 2.9 s through the test client, 2026-12-03), so 1,000 would take some 50 s, past
# API Gateway's 29 s; 50 take 2.5 s, with room for slower round trips and a cold start.
ASYNC_APPLY_STEPS = 50
# The optimizer's function stops at 15 minutes: an apply still running past this has stopped.
APPLY_DEADLINE = timedelta(minutes=16)
APPLY_PROGRESS_EVERY = 25  # changes between two saves of the progress
APPLY_TIMED_OUT_REASON = "applying stopped part way; apply again to resume"


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


class Change(BaseModel):
    """A re-plan's move of one visit: from whom and when, to whom and when (None: nobody)."""

    visit_id: str
    job_id: str
    from_technician_id: str | None
    from_start: datetime | None
    to_technician_id: str | None
    to_start: datetime | None
    to_end: datetime | None


class SkippedVisit(BaseModel):
    visit_id: str
    reason: str


class Application(BaseModel):
    """A plan being applied by the optimizer's function, and how far it got."""

    applied_by: str
    attempt: int = 1  # applying again after a failure resumes: attempt 2, ...
    deadline: datetime
    visit_ids: list[str]  # the visits the plan changes
    run_started_at: datetime | None = None  # the invocation that claimed this attempt
    applied_visit_ids: list[str] = Field(default_factory=list)
    skipped: list[SkippedVisit] = Field(default_factory=list)
    texted_visit_ids: list[str] = Field(default_factory=list)
    finished_at: datetime | None = None


class Proposal(BaseModel):
    """A request to plan a day and, once its invocation is done, the plan."""

    proposal_id: str
    # Proposals stored before optimizing ran in the background were made done.
    status: Literal["running", "done", "failed", "applying", "applied"] = DONE
    # A re-plan starts from the day as it is (work under way pinned, moves penalised) and
    # says what it changes; applying it texts the customers whose time moved.
    kind: Literal["optimize", "replan"] = "optimize"
    replan_reason: str | None = None
    unavailable_technician_ids: list[str] = Field(default_factory=list)
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
    changes: list[Change] = Field(default_factory=list)
    # What the plan was made from: applying refuses if any of it changed.
    visit_versions: dict[str, int] = Field(default_factory=dict)
    day_versions: dict[str, int | None] = Field(default_factory=dict)
    created_by: str
    created_at: datetime
    expires_at: datetime
    applied_at: datetime | None = None
    application: Application | None = None  # applied by the optimizer's function
    version: int | None = None

    def current_status(self, now: datetime) -> tuple[str, str | None]:
        """The status and reason a client sees: running or applying past the deadline is failed."""
        if self.status == RUNNING and self.deadline is not None and now >= self.deadline:
            return FAILED, TIMED_OUT_REASON
        if self.status == APPLYING and self.application and now >= self.application.deadline:
            return FAILED, APPLY_TIMED_OUT_REASON
        return self.status, self.reason


# --- started, read, stored --------------------------------------------------------------------


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
    chosen_technicians(all_technicians(caller), technician_ids)
    fields = {"technician_ids": technician_ids, "time_limit_seconds": time_limit_seconds}
    return _start(caller, day, seed=seed, **fields)


def replan(
    caller: Caller,
    day: date,
    reason: str | None = None,
    unavailable_technician_ids: list[str] | None = None,
    time_limit_seconds: float = DEFAULT_TIME_LIMIT_SECONDS,
    seed: int = 0,
) -> dict[str, Any]:
    """Start re-planning the day from where it stands, like `optimize`: visits under way stay
    pinned, the unavailable technicians' visits not yet begun must move, and every other move
    of a visit to another technician costs MOVE_PENALTY (routing_problem)."""
    unavailable = list(dict.fromkeys(unavailable_technician_ids or []))
    chosen_technicians(all_technicians(caller), unavailable or None)
    return _start(
        caller,
        day,
        seed=seed,
        kind="replan",
        replan_reason=reason,
        unavailable_technician_ids=unavailable,
        time_limit_seconds=time_limit_seconds,
    )


def _start(caller: Caller, day: date, **fields: Any) -> dict[str, Any]:
    tenant = tenants.get_settings(caller)
    if day < clock.now().astimezone(ZoneInfo(tenant.timezone)).date():
        raise Invalid(
            f"{day.isoformat()} is past; only today or a later day can be planned",
            details=[{"field": "date", "message": "must be today or later"}],
        )
    moment = clock.now()
    limit = timedelta(seconds=fields["time_limit_seconds"])
    proposal = Proposal(
        proposal_id=new_id(),
        status=RUNNING,
        date=day,
        timezone=tenant.timezone,
        deadline=moment + SOLVE_PASSES * limit + SOLVE_OVERHEAD,
        created_by=caller.user_id,
        created_at=moment,
        expires_at=moment + PROPOSAL_TTL,
        **fields,
    )
    save(caller.tenant_id, proposal)
    from chalicelib.integrations import lambdas

    try:
        lambdas.invoke_async(
            get_settings().optimizer_function,
            {"tenant_id": caller.tenant_id, "proposal_id": proposal.proposal_id},
        )
    except Unavailable:
        finish(caller.tenant_id, proposal, FAILED, "the optimizer could not be started")
        raise
    return proposal_view(proposal)


def get_proposal(caller: Caller, proposal_id: str) -> dict[str, Any]:
    """The proposal: running, done with its plan, or failed with the reason."""
    return proposal_view(load(caller.tenant_id, proposal_id))


PLAN_FIELDS = ("routes", "unassigned", "skipped_technicians", "total_travel_seconds", "changes")


def proposal_view(proposal: Proposal) -> dict[str, Any]:
    status, reason = proposal.current_status(clock.now())
    shown = proposal.model_dump(exclude={"visit_versions", "day_versions", "started_at"})
    shown |= {"status": status, "reason": reason}
    if status in (RUNNING, FAILED) and proposal.application is None:  # no plan, or none to come
        for name in PLAN_FIELDS:
            shown[name] = None
    return shown


def finish(tenant_id: str, proposal: Proposal, status: str, reason: str) -> str:
    proposal.status, proposal.reason = status, reason
    save(tenant_id, proposal)
    return status


def save(tenant_id: str, proposal: Proposal) -> None:
    """Write the proposal under the version it was read at (a lost race is ConditionFailed)."""
    tx = Transaction()
    item = proposal_store.proposal_item(
        tenant_id, proposal.proposal_id, proposal, proposal.expires_at
    )
    tx.put(item, label="proposal", entity=proposal)
    tx.commit()


def load(tenant_id: str, proposal_id: str) -> Proposal:
    proposal = proposal_store.get_proposal(tenant_id, proposal_id, Proposal)
    if proposal is None or proposal.expires_at <= clock.now():
        raise NotFound("proposal not found")
    return proposal


# --- apply --------------------------------------------------------------------------------------


@dataclass
class _Step:
    action: str  # "assign" or "unassign"
    visit_id: str
    job_id: str
    technician_id: str | None = None
    start: datetime | None = None


def apply(caller: Caller, proposal_id: str) -> dict[str, Any] | Deferred:
    """Book the plan: 409 if any visit or technician day it was made from has changed.

    Each visit is assigned through `scheduling.assign`, the same transaction (visit, job,
    timeline, technician days under their versions) as a manual assignment. The steps are
    ordered so no visit of the plan lands on another one's old slot; where the plan swaps
    slots, one visit is first unassigned to free its slot. Visits the plan leaves out lose
    their technician. Nothing is written when the check fails; should a booking race in
    mid-way, the 409 lists the steps already applied (each one whole, never a double booking).
    A plan of more than ASYNC_APPLY_STEPS steps, or one whose background apply failed (it
    resumes), is `Deferred`: the proposal, applying, which the optimizer's function applies.
    """
    proposal = load(caller.tenant_id, proposal_id)
    resuming = _refuse_unless_applicable(proposal)
    visits, days = _current(caller, proposal)
    if not resuming:  # a resumed apply changed the day itself: each visit is checked instead
        _refuse_if_changed(proposal, visits, days)
    tenant = tenants.get_settings(caller)
    steps = _steps(proposal, visits, days, tenant.travel_buffer_minutes)
    if resuming or len(steps) > ASYNC_APPLY_STEPS:
        return Deferred(_apply_later(caller, proposal, steps))
    # Claimed first: a second apply of the same proposal stops here.
    proposal.applied_at = clock.now()
    save(caller.tenant_id, proposal)
    versions = {visit_id: visit.version for visit_id, visit in visits.items()}
    applied: list[dict[str, Any]] = []
    for step in steps:
        try:
            versions[step.visit_id] = _book(caller, step, versions[step.visit_id])
        except FieldlineError as problem:
            problem.details = [
                *problem.details,
                {"proposal_id": proposal_id, "failed_visit_id": step.visit_id, "applied": applied},
            ]
            raise
        applied.append(_step_view(step))
    told = _tell_moved_customers(caller, proposal, tenant) if proposal.kind == "replan" else []
    proposal.status = APPLIED
    save(caller.tenant_id, proposal)
    return {
        "proposal_id": proposal_id,
        "applied_at": proposal.applied_at,
        "steps": applied,
        "unchanged_visit_ids": sorted(set(proposal.visit_versions) - {s.visit_id for s in steps}),
        "texted_visit_ids": told,
    }


@dataclass
class Deferred:
    """apply's answer when the plan is applied in the background: the proposal, applying."""

    result: dict[str, Any]


def _refuse_unless_applicable(proposal: Proposal) -> bool:
    """409 unless the proposal can be applied now; True when it resumes a failed apply."""
    status, reason = proposal.current_status(clock.now())
    if status == RUNNING:
        raise Conflict(
            "the proposal is still being planned; apply it once its status is done",
            code="proposal_running",
        )
    if status == APPLYING:
        raise Conflict(
            "the proposal is being applied; its status says how far it got",
            code="proposal_applying",
        )
    if status == FAILED and proposal.application is not None:
        return True
    if status == FAILED:
        raise Conflict(f"the proposal failed: {reason}", code="proposal_failed")
    if proposal.applied_at is not None:
        raise Conflict(
            f"the proposal was applied at {clock.iso(proposal.applied_at)}",
            code="proposal_applied",
        )
    return False


def _book(caller: Caller, step: _Step, version: int | None) -> int | None:
    """One step through scheduling's guard; the visit's new version."""
    if step.action == "unassign":
        done = scheduling.unassign(caller, step.job_id, step.visit_id, if_match=version)
    else:
        done = scheduling.assign(
            caller, step.job_id, step.visit_id, [step.technician_id], step.start, if_match=version
        )
    return done.version


def _apply_later(caller: Caller, proposal: Proposal, steps: list[_Step]) -> dict[str, Any]:
    """Hand the plan to the optimizer's function: the proposal, applying (a 503 if the
    function could not be invoked: the proposal is then failed, and applying again retries)."""
    moment = clock.now()
    earlier = proposal.application
    if earlier is None:
        changed = list(dict.fromkeys(step.visit_id for step in steps))
        proposal.applied_at = moment
        proposal.application = Application(
            applied_by=caller.user_id, deadline=moment + APPLY_DEADLINE, visit_ids=changed
        )
    else:  # resuming: what was done stays done; the run recomputes what is left
        earlier.attempt += 1
        earlier.deadline = moment + APPLY_DEADLINE
        earlier.run_started_at = None
    proposal.status, proposal.reason = APPLYING, None
    try:
        save(caller.tenant_id, proposal)
    except ConditionFailed as lost:  # another apply of this proposal got there first
        raise Conflict("the proposal is being applied", code="proposal_applying") from lost
    from chalicelib.integrations import lambdas

    event = {"tenant_id": caller.tenant_id, "proposal_id": proposal.proposal_id}
    try:
        lambdas.invoke_async(get_settings().optimizer_function, {**event, "action": "apply"})
    except Unavailable:
        finish(caller.tenant_id, proposal, FAILED, "applying could not be started; apply again")
        raise
    return proposal_view(proposal)


def run_apply(tenant_id: str, proposal_id: str) -> str:
    """The optimizer's function applying a proposal: each change through the same guard as a
    request's apply; a change the guard refuses (a booking made meanwhile) is skipped with the
    reason, never the end of the rest. Safe to run twice: a second delivery of the event finds
    the attempt claimed; a resumed attempt recomputes the steps from the day as it is, so the
    visits already moved are not moved again. Returns the status it leaves (or "skipped")."""
    proposal = proposal_store.get_proposal(tenant_id, proposal_id, Proposal)
    if proposal is None or proposal.status != APPLYING or proposal.application is None:
        return "skipped"
    work = proposal.application
    if work.run_started_at is not None:
        return "skipped"
    if proposal.current_status(clock.now())[0] == FAILED:  # queued past its deadline
        return finish(tenant_id, proposal, FAILED, APPLY_TIMED_OUT_REASON)
    work.run_started_at = clock.now()
    try:
        save(tenant_id, proposal)
    except ConditionFailed:
        return "skipped"
    caller = Caller(tenant_id=tenant_id, user_id=work.applied_by, role=SYSTEM)
    try:
        _apply_in_background(caller, proposal)
    except Exception:  # recorded on the proposal: applying again resumes
        logger.exception("applying a proposal failed", extra={"proposal_id": proposal_id})
        return finish(tenant_id, proposal, FAILED, APPLY_TIMED_OUT_REASON)
    return APPLIED


def _apply_in_background(caller: Caller, proposal: Proposal) -> None:
    work = proposal.application
    assert work is not None
    visits, days = _current(caller, proposal)
    tenant = tenants.get_settings(caller)
    steps = _steps(proposal, visits, days, tenant.travel_buffer_minutes)
    # The first attempt books over the versions the plan was made from (a visit changed by
    # hand since is skipped); a resumed one over the visits as they are (its own changes).
    current = {visit_id: visit.version for visit_id, visit in visits.items()}
    versions = dict(proposal.visit_versions) if work.attempt == 1 else current
    skipped = {s.visit_id for s in work.skipped}
    for count, step in enumerate(steps, start=1):
        if step.visit_id in skipped:
            continue
        try:
            versions[step.visit_id] = _book(caller, step, versions.get(step.visit_id))
        except FieldlineError as refused:
            work.skipped.append(SkippedVisit(visit_id=step.visit_id, reason=refused.message))
            skipped.add(step.visit_id)
        if count % APPLY_PROGRESS_EVERY == 0:
            work.applied_visit_ids = _applied_so_far(work, steps[count:])
            save(caller.tenant_id, proposal)
    work.applied_visit_ids = _applied_so_far(work, [])
    if proposal.kind == "replan":
        moved = set(work.applied_visit_ids) - set(work.texted_visit_ids)
        told = _tell_moved_customers(caller, proposal, tenant, only=moved)
        work.texted_visit_ids = sorted({*work.texted_visit_ids, *told})
    work.finished_at = clock.now()
    proposal.status = APPLIED
    save(caller.tenant_id, proposal)


def _applied_so_far(work: Application, left: list[_Step]) -> list[str]:
    """The plan's changed visits neither skipped nor still to do: moved, by this attempt or
    an earlier one."""
    not_done = {s.visit_id for s in work.skipped} | {step.visit_id for step in left}
    return [visit_id for visit_id in work.visit_ids if visit_id not in not_done]


def _tell_moved_customers(
    caller: Caller, proposal: Proposal, tenant: Tenant, only: set[str] | None = None
) -> list[str]:
    """Text each customer whose booked start moved by more than the tenant's notice threshold
    (a visit that had a technician and still has one): the visits whose customer was texted.
    A text that fails is recorded as failed on the job (messaging), never undoes the plan."""
    from chalicelib.domain.timefmt import local_window
    from chalicelib.services import messaging
    from chalicelib.store import customers as customer_store

    threshold = timedelta(minutes=tenant.replan_notice_minutes)
    moved = [
        change
        for change in proposal.changes
        if change.from_technician_id
        and change.to_technician_id
        and change.from_start
        and change.to_start
        and change.to_end
        and abs(change.to_start - change.from_start) > threshold
        and (only is None or change.visit_id in only)
    ]
    if not moved:
        return []
    t = caller.tenant_id
    _, found_jobs = visit_store.visits_and_jobs(t, [], sorted({c.job_id for c in moved}), True)
    jobs = {job.job_id: job for job in found_jobs}
    customer_ids = sorted({job.customer_id for job in jobs.values()})
    customers = {c.customer_id: c for c in customer_store.customers_by_id(t, customer_ids)}
    told = []
    for change in moved:
        job = jobs.get(change.job_id)
        customer = customers.get(job.customer_id) if job else None
        if job is None or customer is None:
            continue
        window = local_window(change.to_start, change.to_end, tenant.timezone)
        values = {"visit_window": window, "job_title": job.title}
        messaging.text_from_template(
            tenant, customer, job.job_id, "visit_moved", values, caller.user_id
        )
        told.append(change.visit_id)
    return told


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
        ready = next((s for s in pending if _slot_is_free(s, visits, booked, buffer_minutes)), None)
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


def _slot_is_free(
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
