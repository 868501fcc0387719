"""A job's children as `GET /jobs/{job_id}` shows them: typed, each with its `id`, the same
size however the child grows. The whole child is one GET away (`.../quotes/{id}`, ...).

Each keeps the `<kind>_id` field clients read before `id` existed (deprecated in the
document; docs/API.md's changelog says when it goes).
"""

from __future__ import annotations

from datetime import date, datetime

from pydantic import Field

from chalicelib.api.enums import InvoiceKind, InvoiceStatus, OptionStatus, QuoteStatus, VisitStatus
from chalicelib.api.schemas import Out

Deprecated = {"deprecated": True}


def same_as_id(kind: str):
    return Field(description=f"The {kind}'s id again: read `id`", json_schema_extra=Deprecated)


# --- quote: technicians see the work, not the prices (null for them) ------------------------


class JobQuoteLineOut(Out):
    description: str
    quantity: int
    taxable: bool
    unit_price_cents: int | None = None
    amount_cents: int | None = None
    tax_cents: int | None = None


class JobQuoteOptionOut(Out):
    id: str = Field(validation_alias="option_id")
    name: str
    status: OptionStatus
    line_items: list[JobQuoteLineOut]
    subtotal_cents: int | None = None
    tax_cents: int | None = None
    total_cents: int | None = None
    deposit_cents: int | None = None


class JobQuoteOut(Out):
    """The job's current quote (the approved one, else the latest); prices are null for a
    technician."""

    id: str = Field(validation_alias="quote_id")
    quote_id: str = same_as_id("quote")
    status: QuoteStatus
    currency: str
    tax_rate_bps: int | None = None
    deposit_percent: int | None = None
    options: list[JobQuoteOptionOut]
    message: str | None
    expires_at: datetime
    sent_at: datetime | None
    approved_option_id: str | None
    signed_by: str | None
    approved_at: datetime | None
    declined_at: datetime | None
    superseded_by: str | None = None
    version: int


# --- visits ---------------------------------------------------------------------------------


class JobVisitOut(Out):
    id: str = Field(validation_alias="visit_id")
    visit_id: str = same_as_id("visit")
    status: VisitStatus
    window_start: datetime
    window_end: datetime
    start: datetime
    end: datetime
    duration_minutes: int
    technician_ids: list[str]
    timezone: str = Field(description="Where the visit is (IANA): its local day and hour")
    series_id: str | None = None
    version: int


# --- invoices -------------------------------------------------------------------------------


class JobInvoiceOut(Out):
    id: str = Field(validation_alias="invoice_id")
    invoice_id: str = same_as_id("invoice")
    kind: InvoiceKind
    status: InvoiceStatus
    number: int | None
    currency: str
    subtotal_cents: int
    tax_cents: int
    total_cents: int
    amount_paid_cents: int
    refunded_cents: int
    dispute_lost_cents: int
    balance_cents: int
    owed_back_cents: int
    due_date: date | None
    overdue: bool
    disputed: bool
    sent_at: datetime | None
    paid_at: datetime | None
    voided_at: datetime | None
    version: int


# --- notes ----------------------------------------------------------------------------------


class JobNoteOut(Out):
    id: str = Field(validation_alias="note_id")
    note_id: str = same_as_id("note")
    text: str
    author_id: str
    created_at: datetime
