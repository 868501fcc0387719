"""Dunning: the office records a customer's promise to pay, which pauses the reminders, and
resumes the reminders a lost or cancelled job held."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import Field

from chalicelib.api.http import Api, caller
from chalicelib.api.schemas import Out, Strict
from chalicelib.domain.callers import STAFF
from chalicelib.services import dunning

api = Api(__name__, "invoices")


class PauseIn(Strict):
    until: date = Field(description="No reminders before this date (the tenant's time zone)")
    note: str | None = Field(None, max_length=1000)


class PauseOut(Out):
    invoice_id: str
    job_id: str
    number: int | None
    paused_until: date
    promised_at: datetime
    promised_by: str
    note: str | None


@api.route(
    "/jobs/{job_id}/invoices/{invoice_id}/pause-reminders",
    "POST",
    roles=STAFF,
    body=PauseIn,
    response=PauseOut,
)
def pause_reminders(job_id: str, invoice_id: str, body: PauseIn):
    """Record a promise to pay: no payment reminders before `until` (a PaymentPromised event)."""
    return dunning.pause(caller(), job_id, invoice_id, body.until, body.note)


class ResumeOut(Out):
    invoice_id: str
    job_id: str
    number: int | None
    hold_reason: str
    held_at: datetime
    resumed_at: datetime
    resumed_by: str


@api.route(
    "/jobs/{job_id}/invoices/{invoice_id}/resume-reminders",
    "POST",
    roles=STAFF,
    response=ResumeOut,
)
def resume_reminders(job_id: str, invoice_id: str):
    """Let the payment reminders a lost or cancelled job held go on (a DunningResumed event);
    409 `illegal_transition` when nothing holds them."""
    return dunning.resume(caller(), job_id, invoice_id)
