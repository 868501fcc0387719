"""Money in and out: payments recorded by hand and refunds. The customer's pay page (a Stripe
PaymentIntent) is in pay_page, Stripe's webhook events in stripe_webhook; both are importable
from here too.

Stripe is always called before anything is written: if it cannot be reached the request
fails with 503 and nothing changed. What Stripe did is then written idempotently (by intent
id, refund ids and event id), so a retry, a replayed webhook, or a webhook that beats the
request that caused it all count once. A refund is the one exception, on purpose: its amount
is held on the payment (under the payment's version) before Stripe is asked, so refunds
racing on one payment can never give back more than it kept.

Every change goes through `invoicing.Books`, which applies the job's ledger (the stage
follows the money) in the same transaction.
"""

from __future__ import annotations

import hashlib
from typing import Any

from chalicelib.domain import invoices as rules
from chalicelib.domain.callers import Caller
from chalicelib.domain.errors import Invalid, NotFound, Unavailable
from chalicelib.domain.ids import new_id
from chalicelib.domain.invoices import Invoice, Payment
from chalicelib.integrations import payments_stripe as stripe
from chalicelib.services import intents, invoicing, tenants
from chalicelib.services.common import retrying
from chalicelib.services.pay_page import public_invoice  # noqa: F401 (the API's and tests' name)
from chalicelib.services.stripe_webhook import (  # noqa: F401 (the API's and tests' name)
    apply_stripe_event,
    handle_stripe_event,
)
from chalicelib.store import invoices as invoice_store
from chalicelib.store.db import Transaction

# --- recorded by hand ------------------------------------------------------------------------


def record_payment(
    caller: Caller,
    job_id: str,
    invoice_id: str,
    method: str,
    amount_cents: int,
    reference: str | None,
) -> dict[str, Any]:
    """Cash, a check or another way, taken by the office or the technician on site. An open
    pay page is closed at Stripe first: the customer can't then pay the same money by card."""
    tenant = tenants.get_settings(caller)

    def attempt() -> tuple[Invoice, Payment]:
        books = invoicing.open_books(caller, job_id)
        invoice = books.invoice(invoice_id)
        payment = rules.manual_payment(invoice, method, amount_cents, reference, caller.user_id)
        closed = intents.close_open_intent(tenant, invoice, books.payments_of(invoice_id))
        events = rules.receive(invoice, payment, caller.user_id)
        tx = Transaction()
        books.record(tx, "payment", *events, invoices=[invoice], payments=[payment, *closed])
        tx.commit()
        return invoice, payment

    invoice, payment = retrying(attempt)
    return {
        **payment.model_dump(),
        "invoice": invoicing.office_view(caller.tenant_id, invoice, [payment]),
    }


# --- refunds ---------------------------------------------------------------------------------


def refund(
    caller: Caller,
    job_id: str,
    invoice_id: str,
    amount_cents: int,
    reason: str,
    payment_id: str | None = None,
    idempotency_key: str | None = None,
) -> dict[str, Any]:
    """Give money back on one payment: through Stripe for a card or bank payment, recorded
    only for cash and checks. The invoice's balance reopens.

    The refund's id comes from the request's Idempotency-Key when there is one, and Stripe's
    idempotency key from the refund's id: the same request sent again (after a timeout, say)
    is the same refund at Stripe and here, however far the first one got.
    """
    refund_id = _refund_id(caller, job_id, idempotency_key)
    payment = _hold_refund(caller, job_id, invoice_id, refund_id, amount_cents, reason, payment_id)
    stripe_refund_id = None
    if payment.via_stripe and rules.find_refund(payment, refund_id, None) is None:
        stripe_refund_id = _refund_at_stripe(caller, payment, refund_id, amount_cents, reason)
    invoice, given = _settle_refund(
        caller, job_id, invoice_id, payment.payment_id, refund_id, amount_cents, stripe_refund_id
    )
    return {
        "id": given.refund_id,
        "payment_id": payment.payment_id,
        "amount_cents": given.amount_cents,
        "currency": payment.currency,
        "reason": given.reason or reason,
        "stripe_refund_id": given.stripe_refund_id,
        "created_at": given.created_at,
        "invoice": invoicing.office_view(caller.tenant_id, invoice),
    }


def _refund_id(caller: Caller, job_id: str, idempotency_key: str | None) -> str:
    if not idempotency_key:
        return new_id()
    digest = hashlib.sha256(f"{caller.tenant_id}:{job_id}:{idempotency_key}".encode())
    return f"rf_{digest.hexdigest()[:26]}"


def _hold_refund(
    caller: Caller,
    job_id: str,
    invoice_id: str,
    refund_id: str,
    amount_cents: int,
    reason: str,
    payment_id: str | None,
) -> Payment:
    """Hold the refund's amount on its payment (a cash refund is simply recorded later). The
    payment's version serialises racing refunds: each sees the others' holds."""

    def attempt() -> Payment:
        books = invoicing.open_books(caller, job_id)
        books.invoice(invoice_id)
        paid = books.payments_of(invoice_id)
        payment = _refundable_payment(paid, amount_cents, payment_id, refund_id)
        if rules.find_refund(payment, refund_id, None) is not None:
            return payment  # done already: the same request, sent again
        if not payment.via_stripe:
            rules.check_refund(payment, amount_cents)
            return payment
        rules.reserve_refund(payment, refund_id, amount_cents, reason, caller.user_id)
        _save_payment(caller.tenant_id, payment)
        return payment

    return retrying(attempt)


def _refund_at_stripe(
    caller: Caller, payment: Payment, refund_id: str, amount_cents: int, reason: str
) -> str:
    tenant = tenants.get_settings(caller)
    metadata = {
        "tenant_id": caller.tenant_id,
        "job_id": payment.job_id,
        "invoice_id": payment.invoice_id,
        "payment_id": payment.payment_id,
        "refund_id": refund_id,
        "reason": reason[:500],
    }
    try:
        result = stripe.refund(
            payment.stripe_payment_intent_id,
            amount_cents,
            metadata,
            tenant.stripe_account_id,
            f"refund-{refund_id}",
        )
    except (Invalid, Unavailable):
        # Refused, or not known to have happened: the hold goes. Had Stripe refunded after
        # all, its charge.refunded event (or reconciliation) records it by its metadata.
        _release_hold(caller, payment.job_id, payment.payment_id, refund_id)
        raise
    return result.id


def _release_hold(caller: Caller, job_id: str, payment_id: str, refund_id: str) -> None:
    def attempt() -> None:
        books = invoicing.open_books(caller, job_id)
        payment = _payment(books, payment_id)
        if rules.release_refund(payment, refund_id):
            _save_payment(caller.tenant_id, payment)

    retrying(attempt)


def _save_payment(tenant_id: str, payment: Payment) -> None:
    """The payment alone, under its version: a refund's hold taken or released."""
    tx = Transaction()
    tx.put(invoice_store.payment_item(tenant_id, payment), label="payment", entity=payment)
    tx.commit()


def _settle_refund(
    caller: Caller,
    job_id: str,
    invoice_id: str,
    payment_id: str,
    refund_id: str,
    amount_cents: int,
    stripe_refund_id: str | None,
) -> tuple[Invoice, rules.Refund]:
    """Record what went back, once, and release its hold; Stripe's webhook may be first."""

    def attempt() -> tuple[Invoice, rules.Refund]:
        books = invoicing.open_books(caller, job_id)
        invoice, payment = books.invoice(invoice_id), _payment(books, payment_id)
        done = rules.find_refund(payment, refund_id, stripe_refund_id)
        if done is not None:
            return invoice, done
        if not payment.via_stripe:
            rules.check_refund(payment, amount_cents)  # cash: nothing happened yet, re-check
        given = rules.settle_refund(
            payment, amount_cents, None, caller.user_id, stripe_refund_id, refund_id
        )
        events = rules.give_back(invoice, payment, given, caller.user_id)
        tx = Transaction()
        books.record(tx, "refund", *events, invoices=[invoice], payments=[payment]).commit()
        return invoice, given

    return retrying(attempt)


def _payment(books: invoicing.Books, payment_id: str) -> Payment:
    found = next((p for p in books.payments if p.payment_id == payment_id), None)
    if found is None:
        raise NotFound("payment not found")
    return found


def _refundable_payment(
    payments: list[Payment], amount_cents: int, payment_id: str | None, refund_id: str
) -> Payment:
    if payment_id is not None:
        chosen = next((p for p in payments if p.payment_id == payment_id), None)
        if chosen is None:
            raise NotFound("payment not found")
        return chosen
    for payment in payments:  # the same refund asked again: the payment it was made on
        if rules.find_refund(payment, refund_id, None) or any(
            held.refund_id == refund_id for held in payment.pending_refunds
        ):
            return payment
    candidates = [p for p in payments if p.refundable_cents > 0]
    if not candidates:
        raise Invalid("nothing was paid on this invoice to refund", code="refund_exceeds_payment")
    # The latest payment that can cover it alone (one refund, one payment).
    for payment in sorted(candidates, key=lambda p: p.payment_id, reverse=True):
        if payment.refundable_cents >= amount_cents:
            return payment
    most = max(p.refundable_cents for p in candidates)
    raise Invalid(
        f"{amount_cents} is more than any one payment can refund (at most {most}); "
        "refund payment by payment with payment_id",
        details=[
            {"payment_id": p.payment_id, "refundable_cents": p.refundable_cents} for p in candidates
        ],
        code="refund_exceeds_payment",
    )
