"""Quotes: good / better / best options the customer approves (or declines) through a link.

A quote is priced once, when it is written: the tenant's tax rate is copied onto it, so a
later change of rate never changes what the customer was shown.

A job has one live quote at a time. Sending a quote supersedes the unanswered ones before it
(their links stop working); a quote sent after an approval is a *revision*: the approved quote
stays the job's scope until the revision is approved, which supersedes it. The scope (`scope`)
is what the final invoice bills, so once a final invoice is sent it can no longer change.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, computed_field

from chalicelib.domain import clock
from chalicelib.domain.currencies import check_chargeable
from chalicelib.domain.errors import Conflict, Invalid
from chalicelib.domain.ids import new_id
from chalicelib.domain.money import LineItem, percent_of, tax_cents, totals
from chalicelib.domain.pricebook import margin_cents
from chalicelib.domain.timeline import TimelineEvent, event

if TYPE_CHECKING:  # read, never imported at run time: invoices are the ledger's own module
    from chalicelib.domain.invoices import Invoice

# Good / better / best: more choices stop helping a homeowner decide.
MAX_OPTIONS = 3
MAX_LINE_ITEMS = 100
MAX_QUANTITY = 10_000
MAX_UNIT_PRICE_CENTS = 10_000_000_00  # ten million in major units
DEFAULT_LIFETIME = timedelta(days=30)

# draft → sent → approved | declined; draft, sent or approved → superseded (by a newer quote).
# "Expired" is derived from expires_at, never stored.
STATUSES = ("draft", "sent", "approved", "declined", "superseded")
# What a newer quote replaces: unanswered ones when it is sent, the approved one when approved.
UNANSWERED = ("draft", "sent")
SUPERSEDED_MESSAGE = "a newer quote replaced this one; use the link to the newer quote"
INVOICED_MESSAGE = "the job is invoiced: bill more work on a new invoice"
OPTION_STATUSES = ("pending", "approved", "declined")


class QuoteLine(BaseModel):
    description: str
    quantity: int
    unit_price_cents: int
    taxable: bool = True
    amount_cents: int
    tax_cents: int
    item_id: str | None = None  # the price-book item it was copied from
    unit_cost_cents: int | None = None


class QuoteOption(BaseModel):
    option_id: str
    name: str
    line_items: list[QuoteLine]
    subtotal_cents: int
    tax_cents: int
    total_cents: int
    deposit_cents: int | None = None
    status: str = "pending"

    @computed_field  # type: ignore[prop-decorator]
    @property
    def margin_cents(self) -> int | None:
        """Price less cost over the lines whose cost is known (none known: None)."""
        return margin_cents(self.line_items)


class Quote(BaseModel):
    quote_id: str
    job_id: str
    status: str = "draft"
    currency: str
    tax_rate_bps: int
    deposit_percent: int | None = None
    options: list[QuoteOption]
    message: str | None = None
    expires_at: datetime
    created_by: str
    created_at: datetime
    sent_at: datetime | None = None
    approved_option_id: str | None = None
    signed_by: str | None = None
    approved_at: datetime | None = None
    declined_at: datetime | None = None
    decline_reason: str | None = None
    superseded_by: str | None = None
    superseded_at: datetime | None = None
    version: int | None = None

    def option(self, option_id: str) -> QuoteOption | None:
        return next((o for o in self.options if o.option_id == option_id), None)

    def is_expired(self, now: datetime) -> bool:
        return now >= self.expires_at


# --- writing a quote -------------------------------------------------------------------------


def price_option(
    name: str, lines: list[LineItem], rate_bps: int, deposit_percent: int | None
) -> QuoteOption:
    """An option with each line's amount and tax, and the option's totals (same rounding)."""
    _check_lines(name, lines)
    sums = totals(lines, rate_bps)
    return QuoteOption(
        option_id=new_id(),
        name=name,
        line_items=[
            QuoteLine(
                **line.model_dump(),
                amount_cents=line.amount_cents,
                tax_cents=tax_cents(line.amount_cents, rate_bps) if line.taxable else 0,
            )
            for line in lines
        ],
        **sums.model_dump(),
        deposit_cents=(
            percent_of(sums.total_cents, deposit_percent) if deposit_percent is not None else None
        ),
    )


def new_quote(
    job_id: str,
    currency: str,
    rate_bps: int,
    options: list[tuple[str, list[LineItem]]],
    actor: str,
    deposit_percent: int | None = None,
    expires_at: datetime | None = None,
    message: str | None = None,
) -> tuple[Quote, TimelineEvent]:
    moment = clock.now()
    if not 1 <= len(options) <= MAX_OPTIONS:
        raise Invalid(f"a quote has 1 to {MAX_OPTIONS} options", code="invalid_quote")
    if deposit_percent is not None and not 0 <= deposit_percent <= 100:
        raise Invalid("deposit_percent is 0 to 100", code="invalid_quote")
    if expires_at is None:
        expires_at = moment + DEFAULT_LIFETIME
    elif expires_at.tzinfo is None:
        raise Invalid("expires_at needs a time zone offset", code="invalid_quote")
    elif expires_at <= moment:
        raise Invalid("expires_at must be in the future", code="invalid_quote")
    quote = Quote(
        quote_id=new_id(),
        job_id=job_id,
        currency=currency,
        tax_rate_bps=rate_bps,
        deposit_percent=deposit_percent,
        options=[price_option(name, lines, rate_bps, deposit_percent) for name, lines in options],
        message=message,
        expires_at=expires_at,
        created_by=actor,
        created_at=moment,
    )
    for option in quote.options:  # a quote that could never be invoiced is refused now
        check_chargeable(option.total_cents, currency)
    created = event(
        job_id,
        "QuoteCreated",
        actor,
        quote_id=quote.quote_id,
        currency=currency,
        options=[_option_summary(o) for o in quote.options],
    )
    return quote, created


def _check_lines(name: str, lines: list[LineItem]) -> None:
    if not 1 <= len(lines) <= MAX_LINE_ITEMS:
        raise Invalid(f"option '{name}' has 1 to {MAX_LINE_ITEMS} line items", code="invalid_quote")
    for line in lines:
        if not 1 <= line.quantity <= MAX_QUANTITY:
            raise Invalid(f"quantity is 1 to {MAX_QUANTITY}", code="invalid_quote")
        if not 0 <= line.unit_price_cents <= MAX_UNIT_PRICE_CENTS:
            raise Invalid(f"unit_price_cents is 0 to {MAX_UNIT_PRICE_CENTS}", code="invalid_quote")


def _option_summary(option: QuoteOption) -> dict[str, Any]:
    return {
        "option_id": option.option_id,
        "name": option.name,
        "total_cents": option.total_cents,
        "deposit_cents": option.deposit_cents,
    }


# --- its life ----------------------------------------------------------------------------------


def send(quote: Quote, actor: str) -> TimelineEvent | None:
    """Draft → sent. Re-sending a sent quote changes nothing (the caller may text it again)."""
    if quote.status not in UNANSWERED:
        raise Conflict(f"a {quote.status} quote cannot be sent", code="illegal_transition")
    if quote.is_expired(clock.now()):
        raise Conflict("the quote has expired; write a new one", code="quote_expired")
    if quote.status == "sent":
        return None
    quote.status, quote.sent_at = "sent", clock.now()
    return event(
        quote.job_id,
        "QuoteSent",
        actor,
        quote_id=quote.quote_id,
        expires_at=clock.iso(quote.expires_at),
    )


def approve(
    quote: Quote, option_id: str, signed_by: str, actor: str, ip: str | None = None
) -> TimelineEvent | None:
    """The customer picks one option; the others are declined.

    Approving the same option again is a no-op (None): a double tap or a retried request
    must not sign twice. Any other change after a decision is an illegal transition.
    """
    chosen = quote.option(option_id)
    _refuse_superseded(quote)
    if quote.status == "approved":
        if quote.approved_option_id == option_id:
            return None
        raise Conflict(
            "another option of this quote is already approved", code="illegal_transition"
        )
    if quote.status != "sent":
        raise Conflict(f"a {quote.status} quote cannot be approved", code="illegal_transition")
    if chosen is None:
        raise Invalid(f"this quote has no option '{option_id}'", code="unknown_option")
    moment = clock.now()
    for option in quote.options:
        option.status = "approved" if option is chosen else "declined"
    quote.status, quote.approved_option_id = "approved", option_id
    quote.signed_by, quote.approved_at = signed_by, moment
    data: dict[str, Any] = {
        "quote_id": quote.quote_id,
        "option_id": option_id,
        "signed_by": signed_by,
        "approved_at": clock.iso(moment),
        "currency": quote.currency,
        "total_cents": chosen.total_cents,
        "deposit_cents": chosen.deposit_cents,
    }
    if ip:
        data["ip"] = ip
    return event(quote.job_id, "QuoteApproved", actor, **data)


def decline(quote: Quote, reason: str | None, actor: str) -> TimelineEvent | None:
    """The customer says no to the whole quote. Declining again is a no-op (None).

    Declining a revision leaves the approved quote before it in force (it is still the scope).
    """
    _refuse_superseded(quote)
    if quote.status == "declined":
        return None
    if quote.status != "sent":
        raise Conflict(f"a {quote.status} quote cannot be declined", code="illegal_transition")
    quote.status, quote.declined_at, quote.decline_reason = "declined", clock.now(), reason
    for option in quote.options:
        option.status = "declined"
    return event(quote.job_id, "QuoteDeclined", actor, quote_id=quote.quote_id, reason=reason)


def _refuse_superseded(quote: Quote) -> None:
    if quote.status == "superseded":
        raise Conflict(SUPERSEDED_MESSAGE, code="quote_superseded")


# --- one live quote per job --------------------------------------------------------------------

# A quote a newer one replaced, and the timeline event that says so.
Superseded = tuple[Quote, TimelineEvent]


def supersede_unanswered(quotes: list[Quote], sent: Quote, actor: str) -> list[Superseded]:
    """Sending `sent` replaces every sent quote of the job and every draft written before it.

    An approved quote is left alone (a quote sent after it is a revision, see
    `supersede_scope`); a draft written after `sent` is the office's next revision in progress.
    """
    return [
        _supersede(quote, sent, actor)
        for quote in quotes
        if quote.quote_id != sent.quote_id
        and (quote.status == "sent" or (quote.status == "draft" and _written_before(quote, sent)))
    ]


def supersede_scope(quotes: list[Quote], approved: Quote, actor: str) -> list[Superseded]:
    """Approving a revision replaces the quote approved before it: the scope is the revision."""
    return [
        _supersede(quote, approved, actor)
        for quote in quotes
        if quote.quote_id != approved.quote_id and quote.status == "approved"
    ]


def require_scope_can_change(invoices: list[Invoice]) -> None:
    """A sent final invoice billed the scope and never changes: more work is a new invoice."""
    if any(i.kind == "final" and i.status not in ("draft", "void") for i in invoices):
        raise Conflict(
            INVOICED_MESSAGE, code="illegal_transition", details=[{"reason": "job_invoiced"}]
        )


def _supersede(quote: Quote, newer: Quote, actor: str) -> Superseded:
    previous, quote.status = quote.status, "superseded"
    quote.superseded_by, quote.superseded_at = newer.quote_id, clock.now()
    replaced = event(
        quote.job_id,
        "QuoteSuperseded",
        actor,
        quote_id=quote.quote_id,
        superseded_by=newer.quote_id,
        previous_status=previous,
    )
    return quote, replaced


def _written_before(quote: Quote, other: Quote) -> bool:
    return (quote.created_at, quote.quote_id) < (other.created_at, other.quote_id)


# --- reading -------------------------------------------------------------------------------------


def scope(quotes: list[Quote]) -> tuple[Quote, QuoteOption] | None:
    """The job's scope: the approved option of its approved (never superseded) quote.

    Approving a revision supersedes the earlier approval in the same write, so there is one;
    should older data hold two, the latest approval is the customer's last word.
    """
    approved = [q for q in quotes if q.status == "approved"]
    if not approved:
        return None
    quote = max(approved, key=lambda q: (q.approved_at or q.created_at, q.quote_id))
    option = quote.option(quote.approved_option_id or "")
    return (quote, option) if option is not None else None


def current_quote(quotes: list[Quote]) -> Quote | None:
    """The quote a job 'has': of those not superseded, the one sent most recently, else the
    latest draft (so a revision on its way shows, not the approval it may replace)."""
    live = [q for q in quotes if q.status != "superseded"] or quotes
    decided = [q for q in live if q.status != "draft"]
    if decided:
        return max(decided, key=lambda q: (q.sent_at or q.created_at, q.quote_id))
    return max(live, key=lambda q: q.quote_id, default=None)


def office_view(quote: Quote, with_prices: bool = True) -> dict[str, Any]:
    """The quote on the job page. Technicians see the work, not the prices
    (ARCHITECTURE.md: roles)."""
    view = quote.model_dump(mode="json")
    if not with_prices:
        _drop_money(view)
    return view


def _drop_money(value: Any) -> None:
    if isinstance(value, dict):
        for name in [n for n in value if n.endswith("_cents") or n == "deposit_percent"]:
            del value[name]
        for inner in value.values():
            _drop_money(inner)
    elif isinstance(value, list):
        for inner in value:
            _drop_money(inner)


def customer_view(quote: Quote, business_name: str, job_title: str) -> dict[str, Any]:
    """What the customer sees through the link: no ids but the option ids they choose from."""
    return {
        "business_name": business_name,
        "job_title": job_title,
        "status": quote.status,
        "currency": quote.currency,
        "tax_rate_bps": quote.tax_rate_bps,
        "deposit_percent": quote.deposit_percent,
        "message": quote.message,
        "expires_at": quote.expires_at,
        "options": [
            {
                "id": o.option_id,
                "name": o.name,
                "status": o.status,
                "line_items": [line.model_dump() for line in o.line_items],
                "subtotal_cents": o.subtotal_cents,
                "tax_cents": o.tax_cents,
                "total_cents": o.total_cents,
                "deposit_cents": o.deposit_cents,
            }
            for o in quote.options
        ],
        "approved_option_id": quote.approved_option_id,
        "signed_by": quote.signed_by,
        "approved_at": quote.approved_at,
        "declined_at": quote.declined_at,
    }
