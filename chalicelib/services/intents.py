"""The customer's open PaymentIntent on an invoice, closed before anything else settles it.

A pay page opened before cash is recorded, or before the invoice is voided, would otherwise
still take the customer's card afterwards: the invoice overpaid, or a void invoice paid.
"""

from __future__ import annotations

from chalicelib.domain import invoices as rules
from chalicelib.domain.errors import Conflict
from chalicelib.domain.invoices import Invoice, Payment
from chalicelib.domain.tenants import Tenant
from chalicelib.integrations import payments_stripe as stripe


def close_open_intent(tenant: Tenant, invoice: Invoice, payments: list[Payment]) -> list[Payment]:
    """Cancel the invoice's open PaymentIntent at Stripe; the pending payment is `canceled`.

    Refused (409 `payment_processing`) while Stripe has or is taking the money: its webhook
    will record the payment, and the office decides after that. Returns the payments changed.
    """
    intent_id = invoice.payment_intent_id
    ours = next((p for p in payments if p.stripe_payment_intent_id == intent_id), None)
    if not intent_id or (ours is not None and ours.status in rules.SETTLED):
        return []
    account = tenant.stripe_account_id
    current = stripe.retrieve_intent(intent_id, account)
    if current.status in stripe.IN_FLIGHT:
        raise _processing()
    if current.status in stripe.REUSABLE and not stripe.cancel_intent(intent_id, account):
        raise _processing()  # paid in the moment between: the webhook is on its way
    return [ours] if ours is not None and rules.cancel(ours) else []


def _processing() -> Conflict:
    return Conflict(
        "a card or bank payment of this invoice is being processed; "
        "wait for it to finish before recording another payment or voiding",
        code="payment_processing",
    )
