"""Invoices and the payments against them: the money side of a job, in integer minor units.

An invoice moves `draft → sent → partially_paid → paid` (+ `void`, `uncollectible`); its
balance is always `total - (paid - refunded - lost in disputes)`, so money received and money
owed add up to the total at every step. "Overdue" is derived from the due date, never stored.
What one invoice bills relative to the others of its job (the final one credits deposits and
progress bills) is the ledger's rule: chalicelib/domain/ledger.py.

A payment moves `pending → succeeded | failed` (a card payment starts `pending` when the
customer opens the pay page; cash is `succeeded` when recorded), later `partially_refunded`,
`refunded` or `disputed`. Stripe events arrive in any order and more than once, so every rule
that applies one is monotonic: it moves money and states forward, never back. A refund
reserves its amount on the payment before Stripe is called, so racing refunds can never give
back more than was paid (`reserve_refund`, then `settle_refund` or `release_refund`).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import BaseModel, Field, computed_field

from chalicelib.domain import clock
from chalicelib.domain.currencies import check_chargeable
from chalicelib.domain.errors import Conflict, Invalid
from chalicelib.domain.ids import new_id
from chalicelib.domain.jobs import Job
from chalicelib.domain.money import LineItem, tax_cents
from chalicelib.domain.timeline import TimelineEvent, event

# What the office writes; a service plan's invoices (`plan`) are written by its billing run
# (chalicelib/services/plan_billing.py): standalone, never an advance a final credits.
OFFICE_KINDS = ("deposit", "progress", "final")
KINDS = (*OFFICE_KINDS, "plan")
STATUSES = ("draft", "sent", "partially_paid", "paid", "void", "uncollectible")
# Statuses in which money is still owed and may be collected.
COLLECTABLE = ("sent", "partially_paid", "uncollectible")
PAYABLE_ONLINE = ("sent", "partially_paid")

METHODS = ("card", "us_bank_account", "cash", "check", "other")
MANUAL_METHODS = ("cash", "check", "other")
PAYMENT_STATUSES = (
    "pending",
    "succeeded",
    "failed",
    "canceled",
    "partially_refunded",
    "refunded",
    "disputed",
)
# A payment in one of these has moved money; a late 'failed' or a replay changes nothing.
SETTLED = ("succeeded", "partially_refunded", "refunded", "disputed")
REFUNDABLE = ("succeeded", "partially_refunded")

DEFAULT_DUE_DAYS = 14
MAX_DUE_DAYS = 365
MAX_LINE_ITEMS = 100
MAX_QUANTITY = 10_000
MAX_UNIT_PRICE_CENTS = 10_000_000_00
# The pay link outlives dunning (30 days past due by default) with room to spare.
LINK_LIFETIME = timedelta(days=180)
# What a line bills: work typed by the office, the approved scope copied from the quote, the
# deposit the quote asks for, or a credit for an earlier invoice of the job (on the final).
LINE_KINDS = ("work", "scope", "deposit", "credit")
DISPUTE_STATUSES = ("open", "won", "lost")


class BillLine(LineItem):
    """A line to be priced onto an invoice, with what it bills."""

    kind: str = "work"
    credits_invoice_id: str | None = None


class InvoiceLine(BaseModel):
    description: str
    quantity: int
    unit_price_cents: int
    taxable: bool = True
    amount_cents: int
    tax_cents: int
    kind: str = "work"
    credits_invoice_id: str | None = None
    item_id: str | None = None  # the price-book item it was copied from
    unit_cost_cents: int | None = None

    @property
    def total_cents(self) -> int:
        return self.amount_cents + self.tax_cents


class Invoice(BaseModel):
    invoice_id: str
    job_id: str
    customer_id: str
    kind: str
    status: str = "draft"
    number: int | None = None
    currency: str
    tax_rate_bps: int
    line_items: list[InvoiceLine]
    subtotal_cents: int
    tax_cents: int
    total_cents: int
    amount_paid_cents: int = 0
    refunded_cents: int = 0
    dispute_lost_cents: int = 0
    due_days: int = DEFAULT_DUE_DAYS
    due_date: date | None = None
    # The tenant's zone when the invoice was written: the due date is a date there.
    timezone: str = "UTC"
    disputed: bool = False
    payment_intent_id: str | None = None
    payment_intent_amount_cents: int | None = None
    void_reason: str | None = None
    created_by: str
    created_at: datetime
    updated_at: datetime
    sent_at: datetime | None = None
    paid_at: datetime | None = None
    voided_at: datetime | None = None
    version: int | None = None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def net_paid_cents(self) -> int:
        """What the business kept: received, less refunded, less lost to disputes."""
        return self.amount_paid_cents - self.refunded_cents - self.dispute_lost_cents

    @computed_field  # type: ignore[prop-decorator]
    @property
    def balance_cents(self) -> int:
        """What the customer still owes; nothing is owed on a void invoice. Below zero when
        the customer paid more than the total (see owed_back_cents)."""
        if self.status == "void":
            return 0
        return self.total_cents - self.net_paid_cents

    @computed_field  # type: ignore[prop-decorator]
    @property
    def owed_back_cents(self) -> int:
        """Money kept beyond what the invoice bills: the business owes it back to the customer."""
        billed = 0 if self.status == "void" else self.total_cents
        return max(0, self.net_paid_cents - billed)

    def is_overdue(self, now: datetime) -> bool:
        if self.status not in COLLECTABLE or self.balance_cents <= 0 or self.due_date is None:
            return False
        return local_date(now, self.timezone) > self.due_date

    def days_past_due(self, now: datetime) -> int:
        if self.due_date is None:
            return 0
        return (local_date(now, self.timezone) - self.due_date).days


class Refund(BaseModel):
    refund_id: str
    amount_cents: int
    reason: str | None = None
    stripe_refund_id: str | None = None
    created_by: str
    created_at: datetime


class PendingRefund(BaseModel):
    """A refund asked of Stripe and not yet known to have happened: its amount is held."""

    refund_id: str
    amount_cents: int
    reason: str | None = None
    created_by: str
    created_at: datetime


class Payment(BaseModel):
    payment_id: str
    job_id: str
    invoice_id: str
    method: str
    amount_cents: int
    currency: str
    status: str
    reference: str | None = None
    recorded_by: str
    stripe_payment_intent_id: str | None = None
    stripe_charge_id: str | None = None
    failure_message: str | None = None
    dispute_id: str | None = None
    dispute_reason: str | None = None
    dispute_status: str | None = None
    # On top of amount_cents (which pays the invoice): the customer's tip, outside the ledger.
    tip_cents: int = 0
    dispute_lost_cents: int = 0
    refunds: list[Refund] = Field(default_factory=list)
    pending_refunds: list[PendingRefund] = Field(default_factory=list)
    created_at: datetime
    updated_at: datetime
    succeeded_at: datetime | None = None
    version: int | None = None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def refunded_cents(self) -> int:
        return sum(refund.amount_cents for refund in self.refunds)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def kept_cents(self) -> int:
        """What the business keeps of this payment: nothing unless it settled."""
        if self.status not in SETTLED:
            return 0
        return self.amount_cents - self.refunded_cents - self.dispute_lost_cents

    @property
    def charged_cents(self) -> int:
        """What Stripe charged: the invoice's part and the tip."""
        return self.amount_cents + self.tip_cents

    @property
    def reserved_cents(self) -> int:
        return sum(pending.amount_cents for pending in self.pending_refunds)

    @property
    def refundable_cents(self) -> int:
        """What may still be refunded: kept, less refunds already on their way."""
        if self.status not in REFUNDABLE:
            return 0
        return self.kept_cents - self.reserved_cents

    @property
    def via_stripe(self) -> bool:
        return self.stripe_payment_intent_id is not None


def local_date(moment: datetime, timezone: str) -> date:
    return moment.astimezone(ZoneInfo(timezone)).date()


# --- writing an invoice ----------------------------------------------------------------------


def price_lines(lines: list[BillLine], rate_bps: int) -> list[InvoiceLine]:
    """Each line with its amount and its own tax, half-even per line (the invoice sums them)."""
    return [
        InvoiceLine(
            **line.model_dump(),
            amount_cents=line.amount_cents,
            tax_cents=tax_cents(line.amount_cents, rate_bps) if line.taxable else 0,
        )
        for line in lines
    ]


def work_lines(lines: list[LineItem]) -> list[BillLine]:
    """Lines the office typed."""
    return [BillLine(**line.model_dump(), kind="work") for line in lines]


def bill_lines(invoice: Invoice) -> list[BillLine]:
    """An invoice's lines as they were given, to price them again."""
    fields = (
        "description",
        "quantity",
        "unit_price_cents",
        "taxable",
        "kind",
        "credits_invoice_id",
        "item_id",
        "unit_cost_cents",
    )
    return [BillLine(**line.model_dump(include=set(fields))) for line in invoice.line_items]


def check_lines(lines: list[LineItem]) -> None:
    """Limits on lines a person typed (credits for earlier invoices are ours, not theirs)."""
    if len(lines) > MAX_LINE_ITEMS:
        raise Invalid(f"an invoice has at most {MAX_LINE_ITEMS} line items", code="invalid_invoice")
    for line in lines:
        if not 1 <= line.quantity <= MAX_QUANTITY:
            raise Invalid(f"quantity is 1 to {MAX_QUANTITY}", code="invalid_invoice")
        if abs(line.unit_price_cents) > MAX_UNIT_PRICE_CENTS:
            raise Invalid(
                f"unit_price_cents is at most {MAX_UNIT_PRICE_CENTS} either way",
                code="invalid_invoice",
            )


def new_invoice(
    job: Job,
    kind: str,
    lines: list[BillLine],
    rate_bps: int,
    timezone: str,
    actor: str,
    due_days: int = DEFAULT_DUE_DAYS,
) -> tuple[Invoice, TimelineEvent]:
    if kind not in KINDS:
        raise Invalid(f"kind is one of {', '.join(KINDS)}", code="invalid_invoice")
    if not lines:
        raise Invalid("there is nothing to bill on this invoice", code="nothing_to_bill")
    if not 0 <= due_days <= MAX_DUE_DAYS:
        raise Invalid(f"due_days is 0 to {MAX_DUE_DAYS}", code="invalid_invoice")
    moment = clock.now()
    invoice = Invoice(
        invoice_id=new_id(),
        job_id=job.job_id,
        customer_id=job.customer_id,
        kind=kind,
        currency=job.currency,
        tax_rate_bps=rate_bps,
        line_items=[],
        subtotal_cents=0,
        tax_cents=0,
        total_cents=0,
        due_days=due_days,
        timezone=timezone,
        created_by=actor,
        created_at=moment,
        updated_at=moment,
    )
    set_lines(invoice, lines)
    created = event(
        job.job_id,
        "InvoiceCreated",
        actor,
        invoice_id=invoice.invoice_id,
        kind=kind,
        currency=invoice.currency,
        total_cents=invoice.total_cents,
    )
    return invoice, created


def set_lines(invoice: Invoice, lines: list[BillLine]) -> None:
    """Price a draft's lines; a total below zero, or nothing at all to bill, is refused."""
    if invoice.status != "draft":
        raise Conflict("a sent invoice never changes", code="illegal_transition")
    priced = price_lines(lines, invoice.tax_rate_bps)
    subtotal = sum(line.amount_cents for line in priced)
    tax = sum(line.tax_cents for line in priced)
    total = subtotal + tax
    if total < 0:
        raise Invalid(
            "the job's other invoices already bill more than this one would; "
            "void one of them or refund the difference",
            details=[{"total_cents": total}],
            code="nothing_to_bill",
        )
    if total == 0 and invoice.kind != "final":
        raise Invalid("there is nothing to bill on this invoice", code="nothing_to_bill")
    check_chargeable(total, invoice.currency)
    invoice.line_items = priced
    invoice.subtotal_cents, invoice.tax_cents, invoice.total_cents = subtotal, tax, total
    invoice.updated_at = clock.now()


# --- its life --------------------------------------------------------------------------------


def send(invoice: Invoice, number: int, actor: str) -> list[TimelineEvent]:
    """Draft → sent with its number; the due date counts from today in the tenant's zone.

    A final invoice the deposits already cover (total 0) is paid the moment it is sent.
    """
    if invoice.status != "draft":
        raise Conflict(f"a {invoice.status} invoice cannot be sent", code="illegal_transition")
    moment = clock.now()
    invoice.number, invoice.status, invoice.sent_at = number, "sent", moment
    invoice.due_date = local_date(moment, invoice.timezone) + timedelta(days=invoice.due_days)
    invoice.updated_at = moment
    sent = event(
        invoice.job_id,
        "InvoiceSent",
        actor,
        invoice_id=invoice.invoice_id,
        number=number,
        kind=invoice.kind,
        currency=invoice.currency,
        total_cents=invoice.total_cents,
        due_date=invoice.due_date.isoformat(),
    )
    return [sent, *_settle(invoice, actor)]


def void(invoice: Invoice, reason: str, actor: str) -> TimelineEvent:
    if invoice.status == "void":
        raise Conflict("the invoice is already void", code="illegal_transition")
    if invoice.net_paid_cents != 0:
        raise Conflict(
            "money was received on this invoice; refund it before voiding",
            code="illegal_transition",
        )
    previous = invoice.status
    moment = clock.now()
    invoice.status, invoice.void_reason, invoice.voided_at = "void", reason, moment
    invoice.updated_at = moment
    return event(
        invoice.job_id,
        "InvoiceVoided",
        actor,
        invoice_id=invoice.invoice_id,
        number=invoice.number,
        previous=previous,
        reason=reason,
    )


def check_payment(invoice: Invoice, amount_cents: int) -> None:
    """A payment someone records by hand: only on an invoice that is owed, never more than owed."""
    if invoice.status not in COLLECTABLE:
        raise Invalid(f"a {invoice.status} invoice takes no payments", code="invoice_not_payable")
    if amount_cents <= 0:
        raise Invalid("amount_cents must be positive", code="invalid_amount")
    if amount_cents > invoice.balance_cents:
        raise Invalid(
            f"{amount_cents} is more than the balance of {invoice.balance_cents}",
            details=[{"balance_cents": invoice.balance_cents}],
            code="overpayment",
        )


def receive(invoice: Invoice, payment: Payment, actor: str) -> list[TimelineEvent]:
    """Money arrived (recorded by hand or confirmed by Stripe): the balance goes down."""
    invoice.amount_paid_cents += payment.amount_cents
    invoice.updated_at = clock.now()
    type_ = "PaymentSucceeded" if payment.via_stripe else "PaymentRecorded"
    received = event(
        invoice.job_id,
        type_,
        actor,
        invoice_id=invoice.invoice_id,
        payment_id=payment.payment_id,
        method=payment.method,
        currency=payment.currency,
        amount_cents=payment.amount_cents,
        balance_cents=invoice.balance_cents,
        stripe_payment_intent_id=payment.stripe_payment_intent_id,
    )
    events = [received, *_settle(invoice, actor)]
    owed = 0 if invoice.status == "void" else invoice.total_cents
    if invoice.net_paid_cents > owed:
        # Only Stripe can overpay (a page opened before a cash payment, or before a void, and
        # paid after): the money is real, so it is recorded, and the office told to return it.
        events.append(
            event(
                invoice.job_id,
                "InvoiceOverpaid",
                actor,
                invoice_id=invoice.invoice_id,
                currency=invoice.currency,
                overpaid_cents=invoice.net_paid_cents - owed,
            )
        )
    return events


def give_back(
    invoice: Invoice, payment: Payment, refund: Refund, actor: str
) -> list[TimelineEvent]:
    """A refund reopens the balance: a paid invoice is owed again (partially or in full)."""
    invoice.refunded_cents += refund.amount_cents
    invoice.updated_at = clock.now()
    refunded = event(
        invoice.job_id,
        "RefundIssued",
        actor,
        invoice_id=invoice.invoice_id,
        payment_id=payment.payment_id,
        refund_id=refund.refund_id,
        stripe_refund_id=refund.stripe_refund_id,
        currency=payment.currency,
        amount_cents=refund.amount_cents,
        reason=refund.reason,
        balance_cents=invoice.balance_cents,
    )
    return [refunded, *_settle(invoice, actor)]


def flag_dispute(invoice: Invoice, payment: Payment, actor: str) -> TimelineEvent:
    invoice.disputed = True
    return _dispute_event(
        invoice,
        payment,
        "PaymentDisputed",
        actor,
        reason=payment.dispute_reason,
        amount_cents=payment.amount_cents,
    )


def _settle(invoice: Invoice, actor: str) -> list[TimelineEvent]:
    """The status that follows from the money; InvoicePaid the moment the balance reaches 0."""
    if invoice.status in ("draft", "void"):
        return []
    before = invoice.status
    if invoice.balance_cents <= 0:
        invoice.status = "paid"
    elif before == "uncollectible":
        return []  # still owed and still with collections: only paying in full changes it
    elif invoice.net_paid_cents > 0:
        invoice.status = "partially_paid"
    else:
        invoice.status = "sent"
    if invoice.status == before:
        return []
    if invoice.status == "paid":
        invoice.paid_at = clock.now()
        paid = event(
            invoice.job_id,
            "InvoicePaid",
            actor,
            invoice_id=invoice.invoice_id,
            number=invoice.number,
            currency=invoice.currency,
            total_cents=invoice.total_cents,
        )
        return [paid]
    invoice.paid_at = None
    reopened = event(
        invoice.job_id,
        "InvoiceReopened",
        actor,
        invoice_id=invoice.invoice_id,
        number=invoice.number,
        previous=before,
        status=invoice.status,
        balance_cents=invoice.balance_cents,
    )
    return [reopened] if before == "paid" else []


# --- payments --------------------------------------------------------------------------------


def manual_payment(
    invoice: Invoice, method: str, amount_cents: int, reference: str | None, actor: str
) -> Payment:
    if method not in MANUAL_METHODS:
        raise Invalid(f"method is one of {', '.join(MANUAL_METHODS)}", code="invalid_method")
    check_payment(invoice, amount_cents)
    moment = clock.now()
    return Payment(
        payment_id=new_id(),
        job_id=invoice.job_id,
        invoice_id=invoice.invoice_id,
        method=method,
        amount_cents=amount_cents,
        currency=invoice.currency,
        status="succeeded",
        reference=reference,
        recorded_by=actor,
        created_at=moment,
        updated_at=moment,
        succeeded_at=moment,
    )


def online_payment(
    invoice: Invoice, intent_id: str, amount_cents: int, actor: str, method: str = "card"
) -> Payment:
    """A payment through Stripe, pending until Stripe says how it went."""
    moment = clock.now()
    return Payment(
        payment_id=new_id(),
        job_id=invoice.job_id,
        invoice_id=invoice.invoice_id,
        method=method if method in METHODS else "card",
        amount_cents=amount_cents,
        currency=invoice.currency,
        status="pending",
        recorded_by=actor,
        stripe_payment_intent_id=intent_id,
        created_at=moment,
        updated_at=moment,
    )


def payment_started(payment: Payment, actor: str, **data: Any) -> TimelineEvent:
    """The PaymentStarted event of a pending Stripe payment (the pay page's or autopay's)."""
    return event(
        payment.job_id,
        "PaymentStarted",
        actor,
        invoice_id=payment.invoice_id,
        payment_id=payment.payment_id,
        stripe_payment_intent_id=payment.stripe_payment_intent_id,
        currency=payment.currency,
        amount_cents=payment.amount_cents,
        **data,
    )


def succeed(payment: Payment, amount_cents: int, charge_id: str | None, method: str | None) -> bool:
    """Stripe took the money. False when that is already known (a replay, or a later state)."""
    if payment.status in SETTLED:
        return False
    moment = clock.now()
    payment.status, payment.amount_cents, payment.succeeded_at = "succeeded", amount_cents, moment
    payment.stripe_charge_id = charge_id or payment.stripe_charge_id
    if method in METHODS:
        payment.method = method
    payment.failure_message, payment.updated_at = None, moment
    return True


def fail(payment: Payment, message: str | None, actor: str) -> TimelineEvent | None:
    """An attempt failed. A payment that already moved money never goes back to failed."""
    if payment.status in SETTLED:
        return None
    payment.status, payment.failure_message = "failed", message
    payment.updated_at = clock.now()
    return event(
        payment.job_id,
        "PaymentFailed",
        actor,
        invoice_id=payment.invoice_id,
        payment_id=payment.payment_id,
        stripe_payment_intent_id=payment.stripe_payment_intent_id,
        currency=payment.currency,
        amount_cents=payment.amount_cents,
        message=message,
    )


def cancel(payment: Payment) -> bool:
    """The pay page replaced this payment's intent (the balance changed before it was paid)."""
    if payment.status not in ("pending", "failed"):
        return False
    payment.status, payment.updated_at = "canceled", clock.now()
    return True


def check_refund(payment: Payment, amount_cents: int) -> None:
    if amount_cents <= 0:
        raise Invalid("amount_cents must be positive", code="invalid_amount")
    if amount_cents > payment.refundable_cents:
        raise Invalid(
            f"{amount_cents} is more than the {payment.refundable_cents} refundable",
            details=[
                {"payment_id": payment.payment_id, "refundable_cents": payment.refundable_cents}
            ],
            code="refund_exceeds_payment",
        )


def reserve_refund(
    payment: Payment, refund_id: str, amount_cents: int, reason: str | None, actor: str
) -> PendingRefund:
    """Hold a refund's amount on the payment before Stripe is asked; a retry of the same
    refund (same id) finds its hold and holds nothing more."""
    held = next((p for p in payment.pending_refunds if p.refund_id == refund_id), None)
    if held is not None:
        return held
    check_refund(payment, amount_cents)
    moment = clock.now()
    held = PendingRefund(
        refund_id=refund_id,
        amount_cents=amount_cents,
        reason=reason,
        created_by=actor,
        created_at=moment,
    )
    payment.pending_refunds.append(held)
    payment.updated_at = moment
    return held


def release_refund(payment: Payment, refund_id: str) -> bool:
    """Stripe refused or never got the refund: its hold goes."""
    before = len(payment.pending_refunds)
    payment.pending_refunds = [p for p in payment.pending_refunds if p.refund_id != refund_id]
    return len(payment.pending_refunds) != before


def find_refund(payment: Payment, refund_id: str | None, stripe_refund_id: str | None):
    return next(
        (
            r
            for r in payment.refunds
            if (refund_id and r.refund_id == refund_id)
            or (stripe_refund_id and r.stripe_refund_id == stripe_refund_id)
        ),
        None,
    )


def settle_refund(
    payment: Payment,
    amount_cents: int,
    reason: str | None,
    actor: str,
    stripe_refund_id: str | None = None,
    refund_id: str | None = None,
) -> Refund | None:
    """Record money that went back, once: by our refund id or Stripe's (the refund route and
    Stripe's `charge.refunded` each apply it, in either order). Its hold, if any, goes. None
    when it is already recorded."""
    held = next((p for p in payment.pending_refunds if p.refund_id == refund_id), None)
    if refund_id:
        release_refund(payment, refund_id)
    if find_refund(payment, refund_id, stripe_refund_id) is not None:
        return None
    room = payment.amount_cents - payment.refunded_cents - payment.dispute_lost_cents
    amount = min(amount_cents, room)
    if amount <= 0:
        return None
    moment = clock.now()
    refund = Refund(
        refund_id=refund_id or new_id(),
        amount_cents=amount,
        reason=reason or (held.reason if held else None),
        stripe_refund_id=stripe_refund_id,
        created_by=held.created_by if held else actor,
        created_at=moment,
    )
    payment.refunds.append(refund)
    _follow_refunds(payment)
    payment.updated_at = moment
    return refund


def _follow_refunds(payment: Payment) -> None:
    if payment.status == "disputed":
        return
    full = payment.refunded_cents + payment.dispute_lost_cents >= payment.amount_cents
    payment.status = "refunded" if full else "partially_refunded"


def dispute(payment: Payment, dispute_id: str | None, reason: str | None) -> bool:
    if payment.dispute_id == dispute_id and payment.dispute_status is not None:
        return False  # this dispute is known (open, or already closed: a late `created`)
    payment.status, payment.dispute_id, payment.dispute_reason = "disputed", dispute_id, reason
    payment.dispute_status = "open"
    payment.updated_at = clock.now()
    return True


def close_dispute(
    payment: Payment, dispute_id: str | None, outcome: str, amount_cents: int
) -> bool:
    """The bank decided. Lost: the disputed amount leaves what the business kept. Won: the
    payment stands as it was. False when this outcome is already known."""
    if payment.dispute_status in ("won", "lost"):
        return False
    payment.dispute_id = dispute_id or payment.dispute_id
    payment.dispute_status = outcome
    if outcome == "lost":
        # The payment stays `disputed`: what the bank took back can't be refunded again.
        room = payment.amount_cents - payment.refunded_cents
        payment.dispute_lost_cents = max(0, min(amount_cents, room))
    else:
        payment.status = "succeeded"
        if payment.refunds:
            _follow_refunds(payment)
    payment.updated_at = clock.now()
    return True


def lose_dispute(invoice: Invoice, payment: Payment, actor: str) -> list[TimelineEvent]:
    """A lost dispute takes the money back: the invoice is owed again."""
    invoice.dispute_lost_cents += payment.dispute_lost_cents
    lost = _dispute_event(
        invoice,
        payment,
        "DisputeLost",
        actor,
        amount_cents=payment.dispute_lost_cents,
        balance_cents=invoice.balance_cents,
    )
    return [lost, *_settle(invoice, actor)]


def win_dispute(invoice: Invoice, payment: Payment, actor: str) -> TimelineEvent:
    invoice.disputed = False
    return _dispute_event(invoice, payment, "DisputeWon", actor, amount_cents=payment.amount_cents)


def _dispute_event(
    invoice: Invoice, payment: Payment, type_: str, actor: str, **data
) -> TimelineEvent:
    invoice.updated_at = clock.now()
    return event(
        invoice.job_id,
        type_,
        actor,
        invoice_id=invoice.invoice_id,
        payment_id=payment.payment_id,
        dispute_id=payment.dispute_id,
        currency=payment.currency,
        **data,
    )


# --- how it is shown -------------------------------------------------------------------------


def summary(invoice: Invoice, now: datetime) -> dict[str, Any]:
    """The invoice as the job page lists it."""
    return {**invoice.model_dump(mode="json"), "overdue": invoice.is_overdue(now)}


def outstanding_cents(invoices: list[Invoice]) -> int:
    """What the customer owes on the job: sent invoices' balances (drafts are not owed yet)."""
    return sum(invoice.balance_cents for invoice in invoices if invoice.status in COLLECTABLE)


AGING_BUCKETS = (("current", None, 0), ("1-30", 1, 30), ("31-60", 31, 60), ("61-90", 61, 90))


def aging_bucket(days_past_due: int) -> str:
    for name, low, high in AGING_BUCKETS:
        if (low is None or days_past_due >= low) and days_past_due <= high:
            return name
    return "90+"
