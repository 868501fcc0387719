"""Technicians' time (clock in and out, the office's corrections) and the reports drawn from
it: weekly timesheets and job costing."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import AwareDatetime, BaseModel, Field

from chalicelib.api.http import Api, caller
from chalicelib.api.schemas import Out, Patch, Strict
from chalicelib.domain.callers import STAFF, TECHNICIAN
from chalicelib.services import time

api = Api(__name__, "time")

Kind = Literal["shift", "travel", "on_site"]
Reason = Field(min_length=1, max_length=500, description="Why: kept on the entry's history")


class CorrectionOut(BaseModel):
    at: datetime
    by: str
    reason: str
    changes: dict[str, list] = Field(description="field: [before, after]")


class TimeEntryOut(Out):
    id: str = Field(validation_alias="entry_id")
    technician_id: str
    kind: Kind
    start: datetime
    end: datetime | None = Field(description="null while clocked in")
    job_id: str | None
    visit_id: str | None
    source: Literal["clock", "visit", "office"]
    created_by: str
    history: list[CorrectionOut]
    version: int


class TimeEntryIn(Strict):
    technician_id: str = Field(min_length=1, max_length=64)
    kind: Kind
    start: AwareDatetime
    end: AwareDatetime
    job_id: str | None = Field(None, max_length=64)
    reason: str = Reason


class TimeEntryPatch(Patch):
    start: AwareDatetime = None
    end: AwareDatetime = None
    kind: Kind = None
    job_id: str | None = Field(None, max_length=64)
    reason: str = Reason


@api.route("/time/clock-in", "POST", roles=(TECHNICIAN,), response=TimeEntryOut, status=201)
def clock_in():
    """The technician starts their shift now (409 `already_clocked_in`)."""
    return time.clock_in(caller())


@api.route("/time/clock-out", "POST", roles=(TECHNICIAN,), response=TimeEntryOut)
def clock_out():
    """The technician ends their shift now (409 `not_clocked_in`)."""
    return time.clock_out(caller())


@api.route(
    "/time/entries", "POST", roles=STAFF, body=TimeEntryIn, response=TimeEntryOut, status=201
)
def add_entry(body: TimeEntryIn):
    """The office records time by hand, with the reason."""
    fields = body.model_dump(exclude={"reason"})
    return time.add_entry(caller(), fields, body.reason)


@api.route(
    "/time/entries/{entry_id}", "PATCH", roles=STAFF, body=TimeEntryPatch, response=TimeEntryOut
)
def correct_entry(entry_id: str, body: TimeEntryPatch, if_match: int | None = None):
    """The office corrects an entry; its history keeps who, when, why and what changed."""
    changes = body.model_dump(exclude_unset=True, exclude={"reason"})
    return time.correct_entry(caller(), entry_id, changes, body.reason, if_match)


# --- reports --------------------------------------------------------------------------------


class WeekQuery(Strict):
    week: str = Field(pattern=r"^\d{4}-W\d{2}$", description="An ISO week, e.g. 2026-W10")


class DayOut(BaseModel):
    date: date
    worked_minutes: int


class TimesheetOut(BaseModel):
    technician_id: str
    name: str
    worked_minutes: int = Field(description="Clocked shifts and visit time, overlaps once")
    travel_minutes: int
    on_site_minutes: int
    overtime_minutes: int = Field(description="Worked minutes past 40 hours in the week")
    days: list[DayOut]
    entries: list[TimeEntryOut]


class TimesheetsOut(BaseModel):
    week: str
    timezone: str
    start: datetime
    end: datetime
    technicians: list[TimesheetOut]


@api.route("/reports/timesheets", "GET", roles=STAFF, query=WeekQuery, response=TimesheetsOut)
def timesheets(query: WeekQuery):
    """Each technician's week in the tenant's time zone: worked, travel, on site, overtime."""
    return time.timesheets(caller(), query.week)


class PeriodQuery(Strict):
    from_: date = Field(alias="from")
    to: date


class JobCostOut(BaseModel):
    job_id: str
    title: str
    labour_minutes: int
    labour_cents: int = Field(description="Time in the period x each technician's cost rate")
    materials_cents: int = Field(
        description="Billed lines' unit_cost_cents x quantity; lines without a cost count 0"
    )
    invoiced_cents: int = Field(description="Non-void invoices of the job, tax excluded")
    margin_cents: int


class CostTotalsOut(BaseModel):
    labour_cents: int
    materials_cents: int
    invoiced_cents: int
    margin_cents: int


class JobCostingOut(BaseModel):
    from_: date = Field(alias="from")
    to: date
    currency: str
    timezone: str
    jobs: list[JobCostOut]
    totals: CostTotalsOut
    unrated_technicians: list[str] = Field(description="Technicians with no cost rate (0)")


@api.route("/reports/job-costing", "GET", roles=STAFF, query=PeriodQuery, response=JobCostingOut)
def job_costing(query: PeriodQuery):
    """Per job worked on in the period (the tenant's days): labour + materials against what
    was invoiced → margin."""
    return time.job_costing(caller(), query.from_, query.to)
