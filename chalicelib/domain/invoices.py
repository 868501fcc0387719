"""Invoices and the payments against them: the money side of a job, in integer cents only.

An invoice moves `draft → sent → partially_paid → paid` (+ `void`, `uncollectible`); its
balance is always `total - (paid - refunded)`, so money received and money owed add up to
the total at every step. "Overdue" is derived from the due date, never stored.

A payment moves `pending → succeeded | failed` (a card payment starts `pending` when the
customer opens the pay page; cash is `succeeded` when recorded), later `partially_refunded`,
`refunded` or `disputed`. Stripe events arrive in any order and more than once, so every rule
that applies one is monotonic: it moves money and states forward, never back.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import BaseModel, Field, computed_field

from chalicelib.domain import clock
from chalicelib.domain.errors import Conflict, Invalid
from chalicelib.domain.ids import new_id
from chalicelib.domain.jobs import Job
from chalicelib.domain.money import LineItem, tax_cents
from chalicelib.domain.timeline import TimelineEvent, event

KINDS = ("deposit", "progress", "final")
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
DEPOSIT_RECEIVED = "Deposit received"


class InvoiceLine(BaseModel):
    description: str
    quantity: int
    unit_price_cents: int
    taxable: bool = True
    amount_cents: int
    tax_cents: int


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
    due_days: int = DEFAULT_DUE_DAYS
    due_date: date | None = None
    # The tenant's zone when the invoice was written: the due date is a date there.
    timezone: str = "UTC"
    disputed: bool = False
    quote_option_id: str | None = None
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
        return self.amount_paid_cents - self.refunded_cents

    @computed_field  # type: ignore[prop-decorator]
    @property
    def balance_cents(self) -> int:
        """What the customer still owes; nothing is owed on a void invoice."""
        if self.status == "void":
            return 0
        return self.total_cents - self.net_paid_cents

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
    refunds: list[Refund] = Field(default_factory=list)
    created_at: datetime
    updated_at: datetime
    succeeded_at: datetime | None = None
    version: int | None = None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def refunded_cents(self) -> int:
        return sum(refund.amount_cents for refund in self.refunds)

    @property
    def refundable_cents(self) -> int:
        return self.amount_cents - self.refunded_cents if self.status in REFUNDABLE else 0

    @property
    def via_stripe(self) -> bool:
        return self.stripe_payment_intent_id is not None


def local_date(moment: datetime, timezone: str) -> date:
    return moment.astimezone(ZoneInfo(timezone)).date()


# --- writing an invoice ----------------------------------------------------------------------


def price_lines(lines: list[LineItem], rate_bps: int) -> list[InvoiceLine]:
    """Each line with its amount and its own tax, half-even per line (the invoice sums them)."""
    return [
        InvoiceLine(
            **line.model_dump(),
            amount_cents=line.amount_cents,
            tax_cents=tax_cents(line.amount_cents, rate_bps) if line.taxable else 0,
        )
        for line in lines
    ]


def check_lines(lines: list[LineItem]) -> None:
    """Limits on lines a person typed (the "Deposit received" credit is ours, not theirs)."""
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


def deposit_line(deposit_cents: int, option_name: str | None) -> LineItem:
    """The deposit asked for by the approved quote. Untaxed: the final invoice carries the tax."""
    label = f"Deposit for {option_name}" if option_name else "Deposit"
    return LineItem(description=label, quantity=1, unit_price_cents=deposit_cents, taxable=False)


def deposits_received_cents(invoices: list[Invoice]) -> int:
    """Money kept on the job's deposit invoices (received, less anything refunded)."""
    return sum(
        invoice.net_paid_cents
        for invoice in invoices
        if invoice.kind == "deposit" and invoice.status != "void"
    )


def final_lines(
    approved: list[LineItem], added: list[LineItem], deposits_cents: int
) -> list[LineItem]:
    """The approved work, what was added on site, and a credit for deposits already paid."""
    lines = [*approved, *added]
    if deposits_cents > 0:
        lines.append(
            LineItem(
                description=DEPOSIT_RECEIVED,
                quantity=1,
                unit_price_cents=-deposits_cents,
                taxable=False,
            )
        )
    return lines


def new_invoice(
    job: Job,
    kind: str,
    lines: list[LineItem],
    rate_bps: int,
    timezone: str,
    actor: str,
    due_days: int = DEFAULT_DUE_DAYS,
    quote_option_id: str | None = None,
) -> tuple[Invoice, TimelineEvent]:
    if kind not in KINDS:
        raise Invalid(f"kind is one of {', '.join(KINDS)}", code="invalid_invoice")
    if not lines:
        raise Invalid("there is nothing to bill on this invoice", code="nothing_to_bill")
    if not 0 <= due_days <= MAX_DUE_DAYS:
        raise Invalid(f"due_days is 0 to {MAX_DUE_DAYS}", code="invalid_invoice")
    priced = price_lines(lines, rate_bps)
    subtotal = sum(line.amount_cents for line in priced)
    tax = sum(line.tax_cents for line in priced)
    total = subtotal + tax
    if total < 0:
        raise Invalid(
            "deposits received exceed this invoice; refund the difference instead",
            code="nothing_to_bill",
        )
    if total == 0 and kind != "final":
        raise Invalid("there is nothing to bill on this invoice", code="nothing_to_bill")
    moment = clock.now()
    invoice = Invoice(
        invoice_id=new_id(),
        job_id=job.job_id,
        customer_id=job.customer_id,
        kind=kind,
        currency=job.currency,
        tax_rate_bps=rate_bps,
        line_items=priced,
        subtotal_cents=subtotal,
        tax_cents=tax,
        total_cents=total,
        due_days=due_days,
        timezone=timezone,
        quote_option_id=quote_option_id,
        created_by=actor,
        created_at=moment,
        updated_at=moment,
    )
    created = event(
        job.job_id,
        "InvoiceCreated",
        actor,
        invoice_id=invoice.invoice_id,
        kind=kind,
        currency=invoice.currency,
        total_cents=total,
    )
    return invoice, created


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
    invoice.updated_at = clock.now()
    return event(
        invoice.job_id,
        "PaymentDisputed",
        actor,
        invoice_id=invoice.invoice_id,
        payment_id=payment.payment_id,
        dispute_id=payment.dispute_id,
        reason=payment.dispute_reason,
        currency=payment.currency,
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


def job_is_paid(job: Job, invoices: list[Invoice]) -> bool:
    """The job is paid when the work is done and every invoice that counts is paid."""
    counted = [invoice for invoice in invoices if invoice.status != "void"]
    return (
        job.stage in ("completed", "invoiced")
        and bool(counted)
        and all(invoice.status == "paid" for invoice in counted)
    )


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


def refund_to(
    payment: Payment,
    refunded_total_cents: int,
    reason: str | None,
    actor: str,
    stripe_refund_id: str | None = None,
) -> Refund | None:
    """Raise what was refunded on this payment to `refunded_total_cents`.

    Expressed as a total, not an amount, so the refund route and Stripe's `charge.refunded`
    (which reports the charge's running total) can each apply the same refund, in either
    order, and it counts once. None when nothing more was refunded.
    """
    if stripe_refund_id and any(r.stripe_refund_id == stripe_refund_id for r in payment.refunds):
        return None
    more = min(refunded_total_cents, payment.amount_cents) - payment.refunded_cents
    if more <= 0:
        return None
    moment = clock.now()
    refund = Refund(
        refund_id=new_id(),
        amount_cents=more,
        reason=reason,
        stripe_refund_id=stripe_refund_id,
        created_by=actor,
        created_at=moment,
    )
    payment.refunds.append(refund)
    if payment.status != "disputed":
        full = payment.refunded_cents >= payment.amount_cents
        payment.status = "refunded" if full else "partially_refunded"
    payment.updated_at = moment
    return refund


def dispute(payment: Payment, dispute_id: str | None, reason: str | None) -> bool:
    if payment.status == "disputed":
        return False
    payment.status, payment.dispute_id, payment.dispute_reason = "disputed", dispute_id, reason
    payment.updated_at = clock.now()
    return True


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


def format_amount(cents: int, currency: str) -> str:
    """$1,234.56 for dollars; 1,234.56 EUR for others. Integer arithmetic, no float."""
    sign = "-" if cents < 0 else ""
    whole, part = divmod(abs(cents), 100)
    if currency.upper() == "USD":
        return f"{sign}${whole:,}.{part:02d}"
    return f"{sign}{whole:,}.{part:02d} {currency.upper()}"
