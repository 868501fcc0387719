"""Leads and jobs."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import Field, model_validator

from chalicelib.api.customers import CustomerIn
from chalicelib.api.http import Api, caller
from chalicelib.api.schemas import ListQuery, Out, PageOut, Patch, Strict
from chalicelib.api.summaries import JobInvoiceOut, JobNoteOut, JobQuoteOut, JobVisitOut
from chalicelib.domain.callers import ANYONE, STAFF
from chalicelib.domain.jobs import PRIORITIES, STAGES
from chalicelib.domain.notes import Note
from chalicelib.services import closing, jobs

api = Api(__name__, "jobs")

Stage = Literal[STAGES]  # type: ignore[valid-type]
Priority = Literal[PRIORITIES]  # type: ignore[valid-type]


class LeadIn(Strict):
    customer_id: str | None = Field(None, min_length=1, max_length=64)
    customer: CustomerIn | None = None
    title: str = Field(min_length=1, max_length=200)
    description: str | None = Field(None, max_length=5000)
    source: str | None = Field(None, max_length=100)
    priority: Priority = "normal"
    tags: list[str] = Field(default_factory=list, max_length=20)

    @model_validator(mode="after")
    def one_customer(self):
        if (self.customer_id is None) == (self.customer is None):
            raise ValueError("give either customer_id or customer")
        return self


class JobPatch(Patch):
    """The description can be cleared (null); title, priority and tags cannot (tags: [])."""

    title: str = Field(None, min_length=1, max_length=200)
    description: str | None = Field(None, max_length=5000)
    priority: Priority = None
    tags: list[str] = Field(None, max_length=20)


class ReasonIn(Strict):
    reason: str = Field(min_length=1, max_length=1000)


class NoteIn(Strict):
    text: str = Field(min_length=1, max_length=5000)


class JobOut(Out):
    id: str = Field(validation_alias="job_id")
    customer_id: str
    title: str
    description: str | None
    source: str | None
    priority: Priority
    tags: list[str]
    stage: Stage
    closed_reason: str | None
    imported_total_cents: int | None = Field(
        None,
        description="An imported job's total as the other product had it (minor units of the "
        "job's currency): information only, never billed or collected",
    )
    imported_status: Literal["paid", "unpaid"] | None = Field(
        None, description="Whether the other product had the imported job paid"
    )
    created_at: datetime
    updated_at: datetime
    version: int


class JobPage(PageOut[JobOut]):
    pass


class JobDetailOut(JobOut):
    currency: str
    balance_cents: int
    owed_back_cents: int = Field(
        0, description="Money kept beyond what the job's invoices bill: owed to the customer"
    )
    visit_count: int = Field(description="Visits not cancelled")
    open_visit_count: int = Field(description="Visits neither completed nor cancelled")
    quote: JobQuoteOut | None = None
    visits: list[JobVisitOut] = Field(description="The next 10 visits, from now, by start")
    invoices: list[JobInvoiceOut] = Field(description="Every invoice, void ones included")
    notes: list[JobNoteOut] = Field(description="The latest 10 notes, newest first")


class NoteOut(Out):
    id: str = Field(validation_alias="note_id")
    job_id: str
    text: str
    author_id: str
    created_at: datetime


class NotePage(PageOut[NoteOut]):
    pass


class EventOut(Out):
    id: str = Field(validation_alias="event_id")
    job_id: str
    type: str
    at: datetime
    actor: str
    data: dict[str, Any]


class TimelinePage(PageOut[EventOut]):
    pass


class JobQuery(ListQuery):
    stage: Stage | None = None
    customer_id: str | None = Field(None, max_length=64)


@api.route("/leads", "POST", roles=STAFF, body=LeadIn, response=JobOut, status=201)
def create_lead(body: LeadIn):
    """A new lead: a job at stage `lead`, for an existing or a new customer."""
    fields = body.model_dump(exclude_none=True)
    return jobs.create_lead(caller(), fields)


@api.route("/jobs", "GET", roles=STAFF, query=JobQuery, response=JobPage)
def list_jobs(query: JobQuery):
    """Jobs, most recently changed first, by stage and/or customer."""
    return jobs.list_jobs(caller(), query.stage, query.customer_id, query.cursor, query.limit)


@api.route("/jobs/{job_id}", "GET", roles=ANYONE, response=JobDetailOut)
def get_job(job_id: str):
    """The job with its quote, visits, invoices, balance and stage."""
    return jobs.detail(caller(), job_id)


@api.route("/jobs/{job_id}", "PATCH", roles=STAFF, body=JobPatch, response=JobOut)
def patch_job(job_id: str, body: JobPatch, if_match: int | None = None):
    """Change a job's title, description, priority or tags."""
    return jobs.update(caller(), job_id, body.model_dump(exclude_unset=True), if_match)


@api.route("/jobs/{job_id}/lose", "POST", roles=STAFF, body=ReasonIn, response=JobOut)
def lose_job(job_id: str, body: ReasonIn, if_match: int | None = None):
    """The customer went elsewhere: the job is `lost`, and its work closed as on cancel."""
    return closing.close(caller(), job_id, "lost", body.reason, if_match)


@api.route("/jobs/{job_id}/cancel", "POST", roles=STAFF, body=ReasonIn, response=JobOut)
def cancel_job(job_id: str, body: ReasonIn, if_match: int | None = None):
    """The work is called off: the job is `cancelled`, its open visits cancelled (their
    technicians' time freed, no reminder texted), its draft invoices voided and the reminders
    of its unpaid invoices held (`resume-reminders` lets them go on). Safe to retry: a job
    already cancelled has what is left closed; a paid or lost job is 409."""
    return closing.close(caller(), job_id, "cancelled", body.reason, if_match)


@api.route("/jobs/{job_id}/notes", "POST", roles=ANYONE, body=NoteIn, response=NoteOut, status=201)
def add_note(job_id: str, body: NoteIn):
    """A note on the job (staff, or a technician with a visit on it)."""
    return jobs.add_note(caller(), job_id, body.text)


@api.route("/jobs/{job_id}/notes", "GET", roles=ANYONE, query=ListQuery, response=NotePage)
def list_notes(job_id: str, query: ListQuery):
    """The job's notes, oldest first, page by page (the job shows the latest few)."""
    return jobs.children(caller(), job_id, "note", Note, query.cursor, query.limit)


@api.route("/jobs/{job_id}/timeline", "GET", roles=ANYONE, query=ListQuery, response=TimelinePage)
def get_timeline(job_id: str, query: ListQuery):
    """Every event of the job, oldest first."""
    return jobs.timeline(caller(), job_id, query.cursor, query.limit)
