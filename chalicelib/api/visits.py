"""Visits: scheduling, assignment and the status technicians report from the field."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import AwareDatetime, ConfigDict, Field

from chalicelib.api.enums import VisitStatus
from chalicelib.api.http import Api, caller
from chalicelib.api.schemas import ListQuery, Out, PageOut, Strict
from chalicelib.api.technicians import PointIn
from chalicelib.domain.callers import ANYONE, STAFF
from chalicelib.domain.checklists import ChecklistItem
from chalicelib.domain.users import Point
from chalicelib.domain.visits import MAX_DURATION_MINUTES, MIN_DURATION_MINUTES
from chalicelib.services import scheduling

api = Api(__name__, "visits")

Skill = Annotated[str, Field(min_length=1, max_length=50)]
TechnicianId = Annotated[str, Field(min_length=1, max_length=64)]
# A visit's technicians and each one's day lock are written in one transaction: keep it small.
MAX_TECHNICIANS = 5


class VisitIn(Strict):
    window_start: AwareDatetime
    window_end: AwareDatetime
    duration_minutes: int = Field(ge=MIN_DURATION_MINUTES, le=MAX_DURATION_MINUTES)
    start: AwareDatetime | None = None
    required_skills: list[Skill] = Field(default_factory=list, max_length=20)
    technician_ids: list[TechnicianId] = Field(default_factory=list, max_length=MAX_TECHNICIANS)
    # RFC 5545, e.g. "RRULE:FREQ=WEEKLY;BYDAY=MO;COUNT=12": one visit per occurrence.
    recurrence: str | None = Field(None, min_length=1, max_length=500)


class AssignIn(Strict):
    technician_ids: list[TechnicianId] = Field(min_length=1, max_length=MAX_TECHNICIANS)
    start: AwareDatetime | None = None


class RescheduleIn(Strict):
    window_start: AwareDatetime
    window_end: AwareDatetime
    start: AwareDatetime | None = None


class CancelIn(Strict):
    reason: str | None = Field(None, min_length=1, max_length=1000)


class StatusIn(Strict):
    status: Literal["en_route", "on_site", "completed", "no_access"]
    note: str | None = Field(None, min_length=1, max_length=5000)
    location: PointIn | None = None


class StatusChangeOut(Out):
    status: VisitStatus
    at: datetime
    actor: str
    note: str | None
    location: Point | None


class VisitOut(Out):
    id: str = Field(validation_alias="visit_id")
    job_id: str
    status: VisitStatus
    window_start: datetime
    window_end: datetime
    duration_minutes: int
    start: datetime
    end: datetime
    required_skills: list[str]
    technician_ids: list[str]
    location: Point | None
    timezone: str
    history: list[StatusChangeOut]
    cancel_reason: str | None
    series_id: str | None = None
    checklist: list[ChecklistItem] = Field(default_factory=list)
    flags: list[str] = Field(
        default_factory=list,
        description="What dispatch should know: `plan_paused` (its service plan went unpaid)",
    )
    created_at: datetime
    updated_at: datetime
    version: int


class VisitCreatedOut(VisitOut):
    """The visit; for a recurring one, the first, with every occurrence of the series."""

    occurrences: list[VisitOut] | None = None


@api.route(
    "/jobs/{job_id}/visits",
    "POST",
    roles=STAFF,
    body=VisitIn,
    response=VisitCreatedOut,
    status=201,
)
def create_visit(job_id: str, body: VisitIn):
    """A visit: `scheduled` with technicians (the job too), otherwise `unscheduled`.

    With `recurrence`, one visit per occurrence of the series' first quarter, each its own; the
    nightly schedule writes the later ones as they come within a quarter.
    """
    if body.recurrence:
        series = scheduling.create_series(caller(), job_id, body.model_dump())
        return {**series[0].model_dump(), "occurrences": series}
    return scheduling.create_visit(caller(), job_id, body.model_dump())


class VisitQuery(ListQuery):
    model_config = ConfigDict(populate_by_name=True)

    start_from: date | None = Field(
        None, alias="from", description="First day (YYYY-MM-DD, the tenant's time zone)"
    )
    start_to: date | None = Field(None, alias="to", description="Last day, included")


class VisitPage(PageOut[VisitOut]):
    pass


@api.route("/jobs/{job_id}/visits", "GET", roles=ANYONE, query=VisitQuery, response=VisitPage)
def list_visits(job_id: str, query: VisitQuery):
    """The job's visits by start time, page by page (a technician sees the visits they are on)."""
    return scheduling.list_visits(
        caller(), job_id, query.start_from, query.start_to, query.cursor, query.limit
    )


@api.route("/jobs/{job_id}/visits/{visit_id}", "GET", roles=ANYONE, response=VisitOut)
def get_visit(job_id: str, visit_id: str):
    """One visit (a technician sees only the visits they are on)."""
    return scheduling.get_visit(caller(), job_id, visit_id)


@api.route(
    "/jobs/{job_id}/visits/{visit_id}/assign", "POST", roles=STAFF, body=AssignIn, response=VisitOut
)
def assign_visit(job_id: str, visit_id: str, body: AssignIn, if_match: int | None = None):
    """Assign technicians: 409 double_booking naming the other visit; 422 skill or shift."""
    return scheduling.assign(
        caller(), job_id, visit_id, body.technician_ids, body.start, if_match=if_match
    )


@api.route(
    "/jobs/{job_id}/visits/{visit_id}/reschedule",
    "POST",
    roles=STAFF,
    body=RescheduleIn,
    response=VisitOut,
)
def reschedule_visit(job_id: str, visit_id: str, body: RescheduleIn, if_match: int | None = None):
    """Move a visit's window; its technicians keep it if their day and shift allow."""
    return scheduling.reschedule(
        caller(),
        job_id,
        visit_id,
        body.window_start,
        body.window_end,
        body.start,
        if_match=if_match,
    )


@api.route(
    "/jobs/{job_id}/visits/{visit_id}/cancel", "POST", roles=STAFF, body=CancelIn, response=VisitOut
)
def cancel_visit(job_id: str, visit_id: str, body: CancelIn, if_match: int | None = None):
    """Call a visit off; its technicians' time is free again."""
    return scheduling.cancel(caller(), job_id, visit_id, body.reason, if_match=if_match)


@api.route(
    "/jobs/{job_id}/visits/{visit_id}/status",
    "POST",
    roles=ANYONE,
    body=StatusIn,
    response=VisitOut,
)
def report_status(job_id: str, visit_id: str, body: StatusIn, if_match: int | None = None):
    """en_route (texts the customer "on my way"), on_site, completed or no_access."""
    location = Point(**body.location.model_dump()) if body.location else None
    return scheduling.report_status(
        caller(), job_id, visit_id, body.status, body.note, location, if_match=if_match
    )
