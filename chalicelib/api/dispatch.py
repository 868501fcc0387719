"""Dispatch: the day board, the technician's day, route optimisation, and visit checklists."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import Field

from chalicelib.api.enums import JobStage, Priority, VisitStatus
from chalicelib.api.http import Accepted, Api, caller
from chalicelib.api.schemas import Out, Strict
from chalicelib.domain.callers import ANYONE, STAFF, TECHNICIAN
from chalicelib.domain.checklists import MAX_ITEMS
from chalicelib.domain.customers import Address
from chalicelib.domain.users import Point
from chalicelib.services import checklists, dispatch

api = Api(__name__, "dispatch")

TechnicianId = Annotated[str, Field(min_length=1, max_length=64)]
# Item ids appear in paths (…/checklist/{item_id}): keep them URL-safe.
ItemId = Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")]


class DayQuery(Strict):
    date: dt.date


class ChecklistItemOut(Out):
    id: str
    label: str
    required: bool
    done: bool
    done_at: dt.datetime | None
    done_by: str | None
    note: str | None
    photo_id: str | None


class JobSummaryOut(Out):
    id: str
    title: str
    stage: JobStage
    priority: Priority
    source: str | None = Field(
        description="Where the job came from: `online_booking` for a customer's own booking"
    )


class CustomerSummaryOut(Out):
    id: str
    name: str
    phone: str


class BoardVisitOut(Out):
    """A visit as a board shows it (the board's `timezone` says where its day is)."""

    id: str
    job_id: str
    series_id: str | None
    status: VisitStatus
    start: dt.datetime
    end: dt.datetime
    window_start: dt.datetime
    window_end: dt.datetime
    duration_minutes: int
    technician_ids: list[str]
    required_skills: list[str]
    location: Point | None
    checklist: list[ChecklistItemOut]
    flags: list[str] = Field(
        description="What dispatch should know: `plan_paused` (its service plan went unpaid)"
    )
    job: JobSummaryOut | None
    customer: CustomerSummaryOut | None
    address: Address | None
    version: int | None


class ShiftTodayOut(Out):
    start: str
    end: str


class BoardTechnicianOut(Out):
    id: str
    name: str
    skills: list[str]
    shift: ShiftTodayOut | None  # None: not working that day
    visits: list[BoardVisitOut]


class BoardOut(Out):
    date: dt.date
    timezone: str
    technicians: list[BoardTechnicianOut]
    unassigned: list[BoardVisitOut]


class MeOut(Out):
    id: str
    name: str | None


class MyDayOut(Out):
    date: dt.date
    timezone: str
    technician: MeOut
    visits: list[BoardVisitOut]


class OptimizeIn(Strict):
    date: dt.date
    technician_ids: list[TechnicianId] | None = Field(None, min_length=1, max_length=200)
    time_limit_seconds: float = Field(
        dispatch.DEFAULT_TIME_LIMIT_SECONDS, gt=0, le=dispatch.MAX_TIME_LIMIT_SECONDS
    )
    seed: int = Field(0, ge=0, le=2**31 - 1)


class ReplanIn(Strict):
    date: dt.date
    reason: str | None = Field(None, min_length=1, max_length=500)
    unavailable_technician_ids: list[TechnicianId] = Field(
        default_factory=list,
        max_length=200,
        description="Technicians gone for the rest of the day: their visits not begun move",
    )
    time_limit_seconds: float = Field(
        dispatch.DEFAULT_TIME_LIMIT_SECONDS, gt=0, le=dispatch.MAX_TIME_LIMIT_SECONDS
    )
    seed: int = Field(0, ge=0, le=2**31 - 1)


class ChangeOut(Out):
    """A visit the re-plan moves: from whom and when, to whom and when (null: nobody)."""

    visit_id: str
    job_id: str
    from_technician_id: str | None
    from_start: dt.datetime | None
    to_technician_id: str | None
    to_start: dt.datetime | None
    to_end: dt.datetime | None


class ProposedStopOut(Out):
    visit_id: str
    job_id: str
    arrival: dt.datetime
    start: dt.datetime
    end: dt.datetime
    travel_seconds: int
    pinned: bool


class ProposedRouteOut(Out):
    technician_id: str
    name: str
    stops: list[ProposedStopOut]
    travel_seconds: int
    leaves_home: dt.datetime
    back_home: dt.datetime | None


class LeftOutOut(Out):
    visit_id: str
    job_id: str
    reason: str
    currently_assigned_to: list[str]


class SkippedTechnicianOut(Out):
    technician_id: str
    name: str
    reason: str


class SkippedVisitOut(Out):
    visit_id: str
    reason: str


class ApplicationOut(Out):
    """A big plan being applied in the background: how far it got."""

    attempt: int  # applying again after a failure resumes it
    deadline: dt.datetime  # still applying then, it has stopped (failed; apply again)
    visit_ids: list[str]  # the visits the plan changes
    applied_visit_ids: list[str]
    skipped: list[SkippedVisitOut]  # refused by the double-booking guard, with the reason
    texted_visit_ids: list[str]
    finished_at: dt.datetime | None


class ProposalOut(Out):
    """A day being planned: the plan's fields are null until the status is done."""

    id: str = Field(validation_alias="proposal_id")
    status: Literal["running", "done", "failed", "applying", "applied"]
    reason: str | None  # why it failed
    kind: Literal["optimize", "replan"] = "optimize"
    replan_reason: str | None = None
    unavailable_technician_ids: list[str] = Field(default_factory=list)
    date: dt.date
    timezone: str
    seed: int
    time_limit_seconds: float
    technician_ids: list[str] | None
    routes: list[ProposedRouteOut] | None
    unassigned: list[LeftOutOut] | None
    skipped_technicians: list[SkippedTechnicianOut] | None
    total_travel_seconds: int | None
    changes: list[ChangeOut] | None = None  # a re-plan's moves (empty for a plain optimize)
    created_at: dt.datetime
    deadline: dt.datetime | None  # still running then, it is failed
    expires_at: dt.datetime
    applied_at: dt.datetime | None
    application: ApplicationOut | None = None  # a plan applied in the background


class AppliedStepOut(Out):
    action: Literal["assign", "unassign"]
    visit_id: str
    job_id: str
    technician_id: str | None = None
    start: dt.datetime | None = None


class AppliedOut(Out):
    proposal_id: str
    applied_at: dt.datetime
    steps: list[AppliedStepOut]
    unchanged_visit_ids: list[str]
    texted_visit_ids: list[str] = Field(
        default_factory=list,
        description="A re-plan's visits whose customer was texted the new time",
    )


class ChecklistItemIn(Strict):
    id: ItemId
    label: str = Field(min_length=1, max_length=200)
    required: bool = False


class ChecklistIn(Strict):
    items: list[ChecklistItemIn] = Field(max_length=MAX_ITEMS)


class ChecklistTickIn(Strict):
    done: bool
    note: str | None = Field(None, min_length=1, max_length=2000)
    photo_id: str | None = Field(None, min_length=1, max_length=64)


class ChecklistOut(Out):
    visit_id: str
    job_id: str
    items: list[ChecklistItemOut]
    open_required: list[str]
    version: int


@api.route("/dispatch/board", "GET", roles=STAFF, query=DayQuery, response=BoardOut)
def get_board(query: DayQuery):
    """Each technician's visits in route order, and the day's unassigned visits."""
    return dispatch.board(caller(), query.date)


@api.route("/me/visits", "GET", roles=(TECHNICIAN,), query=DayQuery, response=MyDayOut)
def get_my_visits(query: DayQuery):
    """The calling technician's day, in order, with customer, address and job summary."""
    return dispatch.my_day(caller(), query.date)


@api.route(
    "/dispatch/optimize",
    "POST",
    roles=STAFF,
    body=OptimizeIn,
    response=ProposalOut,
    status=202,
    location="/dispatch/optimize/{id}",
)
def optimize(body: OptimizeIn):
    """Start planning a day's routes (PyVRP) in the background: GET the proposal until done."""
    return dispatch.optimize(
        caller(), body.date, body.technician_ids, body.time_limit_seconds, body.seed
    )


@api.route(
    "/dispatch/replan",
    "POST",
    roles=STAFF,
    body=ReplanIn,
    response=ProposalOut,
    status=202,
    location="/dispatch/optimize/{id}",
)
def replan(body: ReplanIn):
    """Re-plan a day from where it stands (work under way stays pinned, moves are penalised):
    a proposal with its `changes`, read and applied like an optimize one."""
    return dispatch.replan(
        caller(),
        body.date,
        body.reason,
        body.unavailable_technician_ids,
        body.time_limit_seconds,
        body.seed,
    )


@api.route("/dispatch/optimize/{proposal_id}", "GET", roles=STAFF, response=ProposalOut)
def get_proposal(proposal_id: str):
    """The proposal: running, done with the plan to review, or failed with the reason."""
    return dispatch.get_proposal(caller(), proposal_id)


@api.route(
    "/dispatch/optimize/{proposal_id}/apply",
    "POST",
    roles=STAFF,
    response=AppliedOut,
    accepted=ProposalOut,
)
def apply_proposal(proposal_id: str):
    """Book the proposal through the double-booking guard; 409 if anything moved meanwhile.
    A plan of more than 50 changes is booked in the background: 202, the proposal applying."""
    result = dispatch.apply(caller(), proposal_id)
    if isinstance(result, dispatch.Deferred):
        return Accepted(result.result)
    return result


@api.route(
    "/jobs/{job_id}/visits/{visit_id}/checklist",
    "PUT",
    roles=STAFF,
    body=ChecklistIn,
    response=ChecklistOut,
)
def put_checklist(job_id: str, visit_id: str, body: ChecklistIn, if_match: int | None = None):
    """Define the visit's checklist (items keeping their id keep their progress)."""
    items: list[dict[str, Any]] = [item.model_dump() for item in body.items]
    return checklists.define(caller(), job_id, visit_id, items, if_match=if_match)


@api.route("/jobs/{job_id}/visits/{visit_id}/checklist", "GET", roles=ANYONE, response=ChecklistOut)
def get_checklist(job_id: str, visit_id: str):
    """The visit's checklist and which required items are still open."""
    return checklists.get(caller(), job_id, visit_id)


@api.route(
    "/jobs/{job_id}/visits/{visit_id}/checklist/{item_id}",
    "POST",
    roles=ANYONE,
    body=ChecklistTickIn,
    response=ChecklistOut,
)
def tick_checklist_item(
    job_id: str, visit_id: str, item_id: str, body: ChecklistTickIn, if_match: int | None = None
):
    """Tick an item (technician on the visit, or the office), with an optional note and photo."""
    return checklists.tick(
        caller(),
        job_id,
        visit_id,
        item_id,
        body.done,
        note=body.note,
        photo_id=body.photo_id,
        if_match=if_match,
    )
