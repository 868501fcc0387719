"""Quotes: the office writes and sends them; the customer answers through the signed link."""

from __future__ import annotations

from datetime import datetime

from pydantic import AwareDatetime, BaseModel, Field, StrictInt

from chalicelib.api.enums import OptionStatus, QuoteStatus
from chalicelib.api.http import Api, caller, source_ip
from chalicelib.api.schemas import LineIn, ListQuery, Out, PageOut, Strict
from chalicelib.domain.callers import STAFF
from chalicelib.domain.quotes import (
    MAX_LINE_ITEMS,
    MAX_OPTIONS,
    MAX_QUANTITY,
    MAX_UNIT_PRICE_CENTS,
    Quote,
)
from chalicelib.services import jobs, quotes

api = Api(__name__, "quotes")


class QuoteLineIn(LineIn):
    # Strict integers: a price of 12.5 is a client bug to refuse, not a float to round.
    quantity: StrictInt = Field(1, ge=1, le=MAX_QUANTITY)
    unit_price_cents: StrictInt | None = Field(None, ge=0, le=MAX_UNIT_PRICE_CENTS)


class QuoteOptionIn(Strict):
    name: str = Field(min_length=1, max_length=100)
    line_items: list[QuoteLineIn] = Field(min_length=1, max_length=MAX_LINE_ITEMS)


class QuoteIn(Strict):
    options: list[QuoteOptionIn] = Field(min_length=1, max_length=MAX_OPTIONS)
    deposit_percent: StrictInt | None = Field(None, ge=0, le=100)
    expires_at: AwareDatetime | None = None
    message: str | None = Field(None, max_length=2000)


class QuoteApprovalIn(Strict):
    option_id: str = Field(min_length=1, max_length=64)
    signed_by: str = Field(min_length=1, max_length=200)


class QuoteDeclineIn(Strict):
    reason: str | None = Field(None, max_length=1000)


class QuoteLineOut(Out):
    description: str
    quantity: int
    unit_price_cents: int
    taxable: bool
    amount_cents: int
    tax_cents: int


class OfficeQuoteLineOut(QuoteLineOut):
    item_id: str | None = Field(None, description="The price-book item the line was copied from")
    unit_cost_cents: int | None = Field(
        None, description="The item's cost when the line was added (null: unknown)"
    )


class QuoteOptionOut(Out):
    id: str = Field(validation_alias="option_id")
    name: str
    status: OptionStatus
    line_items: list[OfficeQuoteLineOut]
    subtotal_cents: int
    tax_cents: int
    total_cents: int
    deposit_cents: int | None
    margin_cents: int | None = Field(
        None,
        description="Price less cost over the lines whose cost is known; null when none is",
    )


class QuoteOut(Out):
    id: str = Field(validation_alias="quote_id")
    job_id: str
    status: QuoteStatus
    currency: str
    tax_rate_bps: int
    deposit_percent: int | None
    options: list[QuoteOptionOut]
    message: str | None
    expires_at: datetime
    created_by: str
    created_at: datetime
    sent_at: datetime | None
    approved_option_id: str | None
    signed_by: str | None
    approved_at: datetime | None
    declined_at: datetime | None
    decline_reason: str | None
    # A newer quote of the job replaced this one (its link answers 409 quote_superseded).
    superseded_by: str | None = None
    superseded_at: datetime | None = None
    version: int
    # The customer's link, once sent and until it expires (the office may copy it).
    link: str | None = None


class PublicQuoteOptionOut(BaseModel):
    id: str
    name: str
    status: OptionStatus
    line_items: list[QuoteLineOut]
    subtotal_cents: int
    tax_cents: int
    total_cents: int
    deposit_cents: int | None


class PublicQuoteOut(BaseModel):
    """The quote as the customer sees it: no ids but the option ids to choose from."""

    business_name: str
    job_title: str
    status: QuoteStatus
    currency: str
    tax_rate_bps: int
    deposit_percent: int | None
    message: str | None
    expires_at: datetime
    options: list[PublicQuoteOptionOut]
    approved_option_id: str | None
    signed_by: str | None
    approved_at: datetime | None
    declined_at: datetime | None


@api.route(
    "/jobs/{job_id}/quotes", "POST", roles=STAFF, body=QuoteIn, response=QuoteOut, status=201
)
def create_quote(job_id: str, body: QuoteIn):
    """A draft quote with one to three options, priced at the tenant's tax rate."""
    return quotes.create(caller(), job_id, body.model_dump(exclude_none=True))


class QuotePage(PageOut[QuoteOut]):
    pass


@api.route("/jobs/{job_id}/quotes", "GET", roles=STAFF, query=ListQuery, response=QuotePage)
def list_quotes(job_id: str, query: ListQuery):
    """The job's quotes, oldest first, superseded ones included."""
    return jobs.children(caller(), job_id, "quote", Quote, query.cursor, query.limit)


@api.route("/jobs/{job_id}/quotes/{quote_id}", "GET", roles=STAFF, response=QuoteOut)
def get_quote(job_id: str, quote_id: str):
    """One quote, with the customer's link once it is sent."""
    return quotes.get(caller(), job_id, quote_id)


@api.route("/jobs/{job_id}/quotes/{quote_id}/send", "POST", roles=STAFF, response=QuoteOut)
def send_quote(job_id: str, quote_id: str, if_match: int | None = None):
    """Text the customer a signed link; the quote is `sent` and the job `quoted`.

    Sending it supersedes the job's earlier unanswered quotes (their links answer 409
    `quote_superseded`); sent after an approval it is a revision, and the approval stays the
    job's scope until the revision is approved. Sending a `sent` quote again re-texts the same
    link; an approved, declined or superseded one is 409, and so is any quote once the job's
    final invoice is sent (`illegal_transition`: bill more work on a new invoice).
    """
    return quotes.send(caller(), job_id, quote_id, if_match)


@api.route("/public/quotes/{token}", "GET", roles=None, response=PublicQuoteOut)
def view_quote(token: str):
    """The quote behind a customer's link (404 for an expired or altered link).

    409 `quote_superseded` when a newer quote replaced it: the customer has a newer link.
    """
    return quotes.public_view(token)


@api.route(
    "/public/quotes/{token}/approve",
    "POST",
    roles=None,
    body=QuoteApprovalIn,
    response=PublicQuoteOut,
    link="quote",
)
def approve_quote(token: str, body: QuoteApprovalIn):
    """The customer approves one option; approving it again returns the same result.

    Approving a revision supersedes the quote approved before it. 409 `quote_superseded` for a
    replaced quote; 409 `illegal_transition` once the job's final invoice is sent.
    """
    return quotes.approve(token, body.option_id, body.signed_by, source_ip())


@api.route(
    "/public/quotes/{token}/decline",
    "POST",
    roles=None,
    body=QuoteDeclineIn,
    response=PublicQuoteOut,
    link="quote",
)
def decline_quote(token: str, body: QuoteDeclineIn):
    """The customer declines the quote; the job stays for the office to decide."""
    return quotes.decline(token, body.reason)
