"""Invoices, payments and refunds; the customer's pay page; receivables across jobs."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import Field, StrictInt, model_validator

from chalicelib.api.enums import (
    DisputeStatus,
    InvoiceKind,
    InvoiceStatus,
    LineKind,
    ManualMethod,
    OfficeInvoiceKind,
    PaymentMethod,
    PaymentStatus,
)
from chalicelib.api.http import Api, caller, idempotency_key
from chalicelib.api.schemas import LineIn, ListQuery, Out, PageOut, Strict
from chalicelib.domain import invoices as rules
from chalicelib.domain.callers import ANYONE, STAFF, Caller
from chalicelib.services import invoicing, payments
from chalicelib.services.pay_page import TipChoice

api = Api(__name__, "invoices")

Cents = StrictInt  # integer minor units: a JSON float (even 12.0) is refused


# --- requests --------------------------------------------------------------------------------


class LineItemIn(LineIn):
    quantity: StrictInt = Field(1, ge=1, le=rules.MAX_QUANTITY)
    unit_price_cents: Cents | None = Field(
        None, ge=-rules.MAX_UNIT_PRICE_CENTS, le=rules.MAX_UNIT_PRICE_CENTS
    )


class InvoiceIn(Strict):
    kind: OfficeInvoiceKind
    line_items: list[LineItemIn] | None = Field(None, max_length=rules.MAX_LINE_ITEMS)
    due_days: StrictInt | None = Field(None, ge=0, le=rules.MAX_DUE_DAYS)


class VoidIn(Strict):
    reason: str = Field(min_length=1, max_length=1000)


class PaymentIn(Strict):
    method: ManualMethod
    amount_cents: Cents = Field(gt=0)
    reference: str | None = Field(None, max_length=200)


class RefundIn(Strict):
    amount_cents: Cents = Field(gt=0)
    reason: str = Field(min_length=1, max_length=1000)
    payment_id: str | None = Field(
        None, max_length=64, description="Which payment to refund; default: the latest that can"
    )


class InvoiceQuery(ListQuery):
    status: InvoiceStatus | None = Field(None, description="Default: `sent` (unless `job_id`)")
    due_before: date | None = None
    job_id: str | None = Field(
        None, max_length=64, description="One job's invoices, every status, oldest first"
    )

    @model_validator(mode="after")
    def job_or_receivables(self):
        if self.job_id is not None and (self.status is not None or self.due_before is not None):
            raise ValueError("job_id lists every invoice of the job: without status or due_before")
        return self


# --- responses -------------------------------------------------------------------------------


class InvoiceLineOut(Out):
    description: str
    quantity: int
    unit_price_cents: int
    taxable: bool
    amount_cents: int
    tax_cents: int
    kind: LineKind = Field(
        description="work typed by the office, the approved scope, the quote's deposit, or a "
        "credit for an earlier deposit or progress invoice (on the final)"
    )
    credits_invoice_id: str | None = Field(description="The invoice a credit line takes off")
    item_id: str | None = Field(None, description="The price-book item the line was copied from")
    unit_cost_cents: int | None = Field(
        None,
        description="The item's cost when the line was added; owner and office only (null for "
        "a technician, and when unknown)",
    )


class RefundOut(Out):
    id: str = Field(validation_alias="refund_id")
    amount_cents: int
    reason: str | None
    stripe_refund_id: str | None
    created_at: datetime


class PaymentOut(Out):
    id: str = Field(validation_alias="payment_id")
    job_id: str
    invoice_id: str
    method: PaymentMethod
    amount_cents: int
    currency: str
    status: PaymentStatus
    reference: str | None
    recorded_by: str
    refunded_cents: int
    refunds: list[RefundOut]
    dispute_status: DisputeStatus | None
    dispute_lost_cents: int
    kept_cents: int = Field(description="Received, less refunds and what a lost dispute took")
    tip_cents: int = Field(
        0, description="The customer's tip on top of amount_cents (not toward the invoice)"
    )
    stripe_payment_intent_id: str | None
    failure_message: str | None
    created_at: datetime
    succeeded_at: datetime | None


class InvoiceOut(Out):
    id: str = Field(validation_alias="invoice_id")
    job_id: str
    customer_id: str
    kind: InvoiceKind
    status: InvoiceStatus
    number: int | None
    currency: str
    tax_rate_bps: int
    line_items: list[InvoiceLineOut]
    subtotal_cents: int
    tax_cents: int
    total_cents: int
    amount_paid_cents: int
    refunded_cents: int
    dispute_lost_cents: int
    balance_cents: int
    owed_back_cents: int = Field(
        description="Kept beyond what the invoice bills (paid twice, say): owed to the customer"
    )
    due_days: int
    due_date: date | None
    overdue: bool
    disputed: bool
    void_reason: str | None
    link: str | None = Field(None, description="The customer's pay link, once sent")
    payments: list[PaymentOut] = Field(default_factory=list)
    created_at: datetime
    updated_at: datetime
    sent_at: datetime | None
    paid_at: datetime | None
    voided_at: datetime | None
    version: int


class InvoicePage(PageOut[InvoiceOut]):
    pass


class PaymentRecordedOut(PaymentOut):
    invoice: InvoiceOut


class RefundIssuedOut(Out):
    id: str
    payment_id: str
    amount_cents: int
    currency: str
    reason: str
    stripe_refund_id: str | None
    created_at: datetime
    invoice: InvoiceOut


class AgingBucketOut(Out):
    name: str
    invoice_count: int
    balance_cents: int


class AgingOut(Out):
    as_of: date
    currency: str
    buckets: list[AgingBucketOut]
    invoice_count: int
    total_cents: int


class PublicLineOut(Out):
    description: str
    quantity: int
    unit_price_cents: int
    amount_cents: int
    tax_cents: int


class TipPresetOut(Out):
    percent: int
    tip_cents: int


class PublicPaymentOut(Out):
    tip_cents: int = 0
    method: PaymentMethod
    amount_cents: int
    refunded_cents: int
    status: PaymentStatus
    paid_at: datetime


class PublicInvoiceOut(Out):
    business_name: str
    job_title: str
    number: int | None
    kind: InvoiceKind
    status: InvoiceStatus
    currency: str
    line_items: list[PublicLineOut]
    subtotal_cents: int
    tax_cents: int
    total_cents: int
    amount_paid_cents: int
    refunded_cents: int
    balance_cents: int
    due_date: date | None
    overdue: bool
    payments: list[PublicPaymentOut]
    payment_processing: bool = Field(
        description="A payment is on its way (a bank debit takes days): no new one is offered"
    )
    client_secret: str | None = Field(
        description="Stripe PaymentIntent client secret for Stripe.js; null when nothing is owed"
    )
    payment_intent_id: str | None
    stripe_account: str | None = Field(description="The connected account to give Stripe.js")
    tip_cents: int = Field(0, description="The tip chosen (in the intent's amount, apart)")
    charge_cents: int = Field(0, description="What the intent charges: the balance and the tip")
    tip_presets: list[TipPresetOut] = Field(
        default_factory=list, description="The preset tips on the balance (10, 15, 20 %)"
    )


class TipQuery(Strict):
    """A tip on top of the balance: a preset percent, or an amount in the currency's major
    unit (e.g. `7.50`); 422 `invalid_tip` for anything else."""

    tip_percent: int | None = Field(None, ge=0, le=100)
    tip: str | None = Field(None, max_length=20)


# --- routes ----------------------------------------------------------------------------------


def _lines(body_lines: list[LineItemIn] | None) -> list[dict] | None:
    if body_lines is None:
        return None
    return [line.model_dump(exclude_none=True) for line in body_lines]


def _as_seen_by(who: Caller, invoice: dict) -> dict:
    """Technicians see what a line bills, not what it cost (job costing is the office's)."""
    if not who.is_technician:
        return invoice
    lines = [{**line, "unit_cost_cents": None} for line in invoice["line_items"]]
    return {**invoice, "line_items": lines}


@api.route(
    "/jobs/{job_id}/invoices", "POST", roles=STAFF, body=InvoiceIn, response=InvoiceOut, status=201
)
def create_invoice(job_id: str, body: InvoiceIn):
    """A draft invoice: a deposit from the approved quote, a progress bill, or the final one
    (the approved option plus what was added on site, less deposits paid)."""
    return invoicing.create(caller(), job_id, body.kind, _lines(body.line_items), body.due_days)


@api.route("/jobs/{job_id}/invoices", "GET", roles=STAFF, query=ListQuery, response=InvoicePage)
def list_job_invoices(job_id: str, query: ListQuery):
    """The job's invoices, oldest first, void ones included."""
    return invoicing.job_invoices(caller(), job_id, query.cursor, query.limit)


@api.route("/jobs/{job_id}/invoices/{invoice_id}", "GET", roles=ANYONE, response=InvoiceOut)
def get_invoice(job_id: str, invoice_id: str):
    """One invoice with its payments and the customer's pay link."""
    return _as_seen_by(caller(), invoicing.get(caller(), job_id, invoice_id))


@api.route("/jobs/{job_id}/invoices/{invoice_id}/send", "POST", roles=STAFF, response=InvoiceOut)
def send_invoice(job_id: str, invoice_id: str):
    """Number the invoice (per tenant, gap-free), mark it `sent` and text the pay link."""
    return invoicing.send(caller(), job_id, invoice_id)


@api.route(
    "/jobs/{job_id}/invoices/{invoice_id}/void",
    "POST",
    roles=STAFF,
    body=VoidIn,
    response=InvoiceOut,
)
def void_invoice(job_id: str, invoice_id: str, body: VoidIn):
    """Void an invoice nothing was kept on (refund first if money was received)."""
    return invoicing.void(caller(), job_id, invoice_id, body.reason)


@api.route(
    "/jobs/{job_id}/invoices/{invoice_id}/payments",
    "POST",
    roles=ANYONE,
    body=PaymentIn,
    response=PaymentRecordedOut,
    status=201,
)
def record_payment(job_id: str, invoice_id: str, body: PaymentIn):
    """Cash, check or other, by the office or the technician on the job; never more than owed."""
    return payments.record_payment(
        caller(), job_id, invoice_id, body.method, body.amount_cents, body.reference
    )


@api.route(
    "/jobs/{job_id}/invoices/{invoice_id}/refunds",
    "POST",
    roles=STAFF,
    body=RefundIn,
    response=RefundIssuedOut,
    status=201,
)
def refund_payment(job_id: str, invoice_id: str, body: RefundIn):
    """Give money back (through Stripe for card and bank payments); the balance reopens, and
    a paid job is `invoiced` again. With an Idempotency-Key, a retry is the same refund, here
    and at Stripe."""
    return payments.refund(
        caller(),
        job_id,
        invoice_id,
        body.amount_cents,
        body.reason,
        body.payment_id,
        idempotency_key(),
    )


@api.route("/invoices", "GET", roles=STAFF, query=InvoiceQuery, response=InvoicePage)
def list_invoices(query: InvoiceQuery):
    """Invoices across jobs by status (default `sent`), soonest due first; or one job's
    (`job_id`), as `GET /jobs/{job_id}/invoices` lists them."""
    if query.job_id is not None:
        return invoicing.job_invoices(caller(), query.job_id, query.cursor, query.limit)
    return invoicing.list_invoices(
        caller(), query.status, query.due_before, query.cursor, query.limit
    )


@api.route("/reports/ar-aging", "GET", roles=STAFF, response=AgingOut)
def ar_aging():
    """What customers owe, by days past due: current, 1-30, 31-60, 61-90, 90+."""
    return invoicing.ar_aging(caller())


@api.route("/public/invoices/{token}", "GET", roles=None, query=TipQuery, response=PublicInvoiceOut)
def public_invoice(token: str, query: TipQuery):
    """The invoice behind a customer's link, with a Stripe client secret while money is owed
    (404 for an expired or altered link); `tip_percent` or `tip` adds a tip to the charge."""
    tip = TipChoice(query.tip_percent, query.tip) if query.tip_percent or query.tip else None
    return payments.public_invoice(token, tip)
