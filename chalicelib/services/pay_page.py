"""The customer's pay page: the invoice through its signed link, and a Stripe PaymentIntent
for what is owed."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from chalicelib.config import get_settings
from chalicelib.domain import clock, currencies, links, tips
from chalicelib.domain import invoices as rules
from chalicelib.domain.callers import CUSTOMER, Caller
from chalicelib.domain.errors import NotFound
from chalicelib.domain.invoices import Invoice, Payment
from chalicelib.domain.tenants import Tenant
from chalicelib.integrations import payments_stripe as stripe
from chalicelib.services import invoicing, jobs, tenants
from chalicelib.services.common import retrying
from chalicelib.services.invoicing import find_invoice, payments_of
from chalicelib.store import invoices as invoice_store
from chalicelib.store.db import ConditionFailed, Transaction
from chalicelib.store.jobs import JobCollection


@dataclass
class Opened:
    caller: Caller  # the customer, acting inside the token's tenant
    tenant: Tenant
    collection: JobCollection
    invoice: Invoice


def _open(token: str) -> Opened:
    """Anything wrong with the link (altered, expired, another kind, gone, draft): 404."""
    claims = links.verify(token, "invoice", get_settings().link_secrets, clock.now())
    if claims is None:
        raise NotFound("invoice not found")
    customer = Caller(tenant_id=claims.tenant_id, user_id=CUSTOMER, role=CUSTOMER)
    try:
        collection = jobs.load(customer, claims.job_id)
    except NotFound:
        raise NotFound("invoice not found") from None
    invoice = find_invoice(collection, claims.object_id)
    if invoice is None or invoice.status in ("draft", "void"):
        raise NotFound("invoice not found")
    return Opened(customer, tenants.get_settings(customer), collection, invoice)


@dataclass(frozen=True)
class TipChoice:
    """The tip as the customer asked for it: a preset percent, or an amount typed in."""

    percent: int | None = None
    amount: str | None = None


def public_invoice(token: str, tip: TipChoice | None = None) -> dict[str, Any]:
    """The invoice as the customer sees it and, while money is owed, a way to pay it.

    One PaymentIntent per outstanding balance and tip: created the first time the page is
    opened, reused while the customer can still pay with it and its amount is the balance plus
    the tip, replaced (and cancelled) when either changed. While a payment is processing (a bank
    debit takes days) no second intent is offered. The tip rides on the intent (and its
    metadata) and on the payment as `tip_cents`, apart from what pays the invoice.
    """

    def attempt() -> dict[str, Any]:  # lost if another tab saved its intent first: reuse that
        opened = _open(token)
        tip_cents = _tip(opened.invoice, tip)
        return _customer_view(opened, *_intent_for(opened, tip_cents), tip_cents=tip_cents)

    try:
        return retrying(attempt, 3, reraise=True)
    except ConditionFailed:
        return _customer_view(_open(token), None, False)


def _tip(invoice: Invoice, choice: TipChoice | None) -> int:
    if choice is None or invoice.balance_cents <= 0:
        return 0
    return tips.choose(invoice.balance_cents, invoice.currency, choice.percent, choice.amount)


def _intent_for(opened: Opened, tip_cents: int = 0) -> tuple[stripe.Intent | None, bool]:
    invoice, tenant = opened.invoice, opened.tenant
    charge_cents = invoice.balance_cents + tip_cents
    if invoice.status not in rules.PAYABLE_ONLINE or invoice.balance_cents <= 0:
        return None, False
    if invoice.balance_cents < currencies.min_charge_cents(invoice.currency):
        return None, False  # below what Stripe charges: cash or check only
    if not tenants.takes_cards(tenant):
        return None, False  # no account whose charges Stripe enabled: never the platform's
    payments = payments_of(opened.collection, invoice.invoice_id)
    previous = invoice.payment_intent_id
    stale: Payment | None = None
    if previous:
        current = stripe.retrieve_intent(previous, tenant.stripe_account_id)
        ours = next((p for p in payments if p.stripe_payment_intent_id == previous), None)
        if current.status in stripe.REUSABLE and current.amount_cents == charge_cents:
            return current, False
        if current.status in stripe.IN_FLIGHT and not (ours and ours.status in rules.SETTLED):
            return None, True  # Stripe has the money (or soon will); the webhook settles it
        if current.status in stripe.REUSABLE:
            stripe.cancel_intent(previous, tenant.stripe_account_id)
        stale = ours
    settled = sum(1 for p in payments if p.status in rules.SETTLED)
    methods = currencies.payment_method_types(invoice.currency, tenant.country)
    intent = stripe.create_intent(
        charge_cents,
        invoice.currency,
        {
            "tenant_id": opened.caller.tenant_id,
            "job_id": invoice.job_id,
            "invoice_id": invoice.invoice_id,
            "invoice_number": str(invoice.number),
        }
        | ({"tip_cents": str(tip_cents)} if tip_cents else {}),
        tenant.stripe_account_id,
        # Same invoice, balance, payments, predecessor and payment methods → the same intent,
        # however many times the page is retried; any of them changing makes a new one (Stripe
        # refuses a key reused with other parameters).
        f"invoice-{invoice.invoice_id}-{invoice.balance_cents}-{settled}-{previous or 'first'}"
        f"-{'+'.join(methods)}{f'-tip{tip_cents}' if tip_cents else ''}",
        methods=methods,
    )
    invoice.payment_intent_id = intent.id
    invoice.payment_intent_amount_cents = intent.amount_cents
    invoice.updated_at = clock.now()
    pending = rules.online_payment(invoice, intent.id, intent.amount_cents - tip_cents, CUSTOMER)
    pending.tip_cents = tip_cents
    changed = [pending]
    if stale is not None and rules.cancel(stale):
        changed.append(stale)
    tenant_id = opened.caller.tenant_id
    tx = Transaction()
    tx.put(invoice_store.invoice_item(tenant_id, invoice), label="invoice", entity=invoice)
    for payment in changed:
        tx.put(invoice_store.payment_item(tenant_id, payment), label="payment", entity=payment)
    started = rules.payment_started(pending, CUSTOMER, tip_cents=tip_cents)
    invoicing.events_only(tx, tenant_id, started).commit()
    return intent, False


def _customer_view(
    opened: Opened, intent: stripe.Intent | None, processing: bool, tip_cents: int = 0
) -> dict[str, Any]:
    invoice = opened.invoice
    received = [
        p for p in payments_of(opened.collection, invoice.invoice_id) if p.status in rules.SETTLED
    ]
    return {
        "business_name": opened.tenant.name,
        "job_title": opened.collection.header().title,
        "number": invoice.number,
        "kind": invoice.kind,
        "status": invoice.status,
        "currency": invoice.currency,
        "line_items": [line.model_dump() for line in invoice.line_items],
        "subtotal_cents": invoice.subtotal_cents,
        "tax_cents": invoice.tax_cents,
        "total_cents": invoice.total_cents,
        "amount_paid_cents": invoice.amount_paid_cents,
        "refunded_cents": invoice.refunded_cents,
        "balance_cents": invoice.balance_cents,
        "due_date": invoice.due_date,
        "overdue": invoice.is_overdue(clock.now()),
        "payments": [
            {
                "method": p.method,
                "amount_cents": p.amount_cents,
                "refunded_cents": p.refunded_cents,
                "tip_cents": p.tip_cents,
                "status": p.status,
                "paid_at": p.succeeded_at or p.created_at,
            }
            for p in received
        ],
        "payment_processing": processing,
        "client_secret": intent.client_secret if intent else None,
        "payment_intent_id": intent.id if intent else None,
        "stripe_account": opened.tenant.stripe_account_id if intent else None,
        "tip_cents": tip_cents if intent else 0,
        "charge_cents": intent.amount_cents if intent else 0,
        "tip_presets": tips.presets(invoice.balance_cents) if intent else [],
    }
