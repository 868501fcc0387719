"""Money in and out: payments recorded by hand, the customer's pay page (a Stripe
PaymentIntent), refunds, and Stripe's webhook events.

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
from dataclasses import dataclass
from typing import Any

from chalicelib.config import get_settings
from chalicelib.domain import clock, currencies, links
from chalicelib.domain import invoices as rules
from chalicelib.domain.callers import CUSTOMER, SYSTEM, Caller
from chalicelib.domain.errors import Invalid, NotFound, Unavailable
from chalicelib.domain.ids import new_id
from chalicelib.domain.invoices import Invoice, Payment
from chalicelib.domain.tenants import Tenant
from chalicelib.domain.timeline import event
from chalicelib.integrations import payments_stripe as stripe
from chalicelib.logs import logger
from chalicelib.services import intents, invoicing, jobs, tenants
from chalicelib.services.common import retrying
from chalicelib.services.invoicing import find_invoice, payments_of
from chalicelib.store import invoices as invoice_store
from chalicelib.store.db import ConditionFailed, Transaction
from chalicelib.store.jobs import JobCollection
from chalicelib.store.webhooks import FIRST_DELIVERY, receipt_item

STRIPE = "stripe"  # the actor of what Stripe's events change
DEDUPE_LABEL = "stripe event"


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


# --- the customer's pay page -----------------------------------------------------------------


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


def public_invoice(token: str) -> dict[str, Any]:
    """The invoice as the customer sees it and, while money is owed, a way to pay it.

    One PaymentIntent per outstanding balance: created the first time the page is opened,
    reused while the customer can still pay with it and its amount is the balance, replaced
    (and cancelled) when the balance changed. While a payment is processing (a bank debit
    takes days) no second intent is offered.
    """

    def attempt() -> dict[str, Any]:  # lost if another tab saved its intent first: reuse that
        opened = _open(token)
        return _customer_view(opened, *_intent_for(opened))

    try:
        return retrying(attempt, 3, reraise=True)
    except ConditionFailed:
        return _customer_view(_open(token), None, False)


def _intent_for(opened: Opened) -> tuple[stripe.Intent | None, bool]:
    invoice, tenant = opened.invoice, opened.tenant
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
        if current.status in stripe.REUSABLE and current.amount_cents == invoice.balance_cents:
            return current, False
        if current.status in stripe.IN_FLIGHT and not (ours and ours.status in rules.SETTLED):
            return None, True  # Stripe has the money (or soon will); the webhook settles it
        if current.status in stripe.REUSABLE:
            stripe.cancel_intent(previous, tenant.stripe_account_id)
        stale = ours
    settled = sum(1 for p in payments if p.status in rules.SETTLED)
    methods = currencies.payment_method_types(invoice.currency, tenant.country)
    intent = stripe.create_intent(
        invoice.balance_cents,
        invoice.currency,
        {
            "tenant_id": opened.caller.tenant_id,
            "job_id": invoice.job_id,
            "invoice_id": invoice.invoice_id,
            "invoice_number": str(invoice.number),
        },
        tenant.stripe_account_id,
        # Same invoice, balance, payments, predecessor and payment methods → the same intent,
        # however many times the page is retried; any of them changing makes a new one (Stripe
        # refuses a key reused with other parameters).
        f"invoice-{invoice.invoice_id}-{invoice.balance_cents}-{settled}-{previous or 'first'}"
        f"-{'+'.join(methods)}",
        methods=methods,
    )
    invoice.payment_intent_id = intent.id
    invoice.payment_intent_amount_cents = intent.amount_cents
    invoice.updated_at = clock.now()
    pending = rules.online_payment(invoice, intent.id, intent.amount_cents, CUSTOMER)
    changed = [pending]
    if stale is not None and rules.cancel(stale):
        changed.append(stale)
    tenant_id = opened.caller.tenant_id
    tx = Transaction()
    tx.put(invoice_store.invoice_item(tenant_id, invoice), label="invoice", entity=invoice)
    for payment in changed:
        tx.put(invoice_store.payment_item(tenant_id, payment), label="payment", entity=payment)
    started = event(
        invoice.job_id,
        "PaymentStarted",
        CUSTOMER,
        invoice_id=invoice.invoice_id,
        payment_id=pending.payment_id,
        stripe_payment_intent_id=intent.id,
        currency=invoice.currency,
        amount_cents=intent.amount_cents,
    )
    invoicing.events_only(tx, tenant_id, started).commit()
    return intent, False


def _customer_view(
    opened: Opened, intent: stripe.Intent | None, processing: bool
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
                "status": p.status,
                "paid_at": p.succeeded_at or p.created_at,
            }
            for p in received
        ],
        "payment_processing": processing,
        "client_secret": intent.client_secret if intent else None,
        "payment_intent_id": intent.id if intent else None,
        "stripe_account": opened.tenant.stripe_account_id if intent else None,
    }


# --- Stripe's webhook ------------------------------------------------------------------------


@dataclass
class Target:
    """What a Stripe event is about, loaded fresh from our side."""

    tenant: Tenant
    books: invoicing.Books
    invoice: Invoice
    payment: Payment | None


def handle_stripe_event(
    payload: bytes, signature: str | None, *, connect: bool = False
) -> dict[str, Any]:
    """Verify (with the platform endpoint's secret, or the Connect endpoint's), then apply
    once: the event id is recorded (conditional put) in the same transaction as the change it
    causes, so a replay finds it and changes nothing.

    Acknowledged and ignored: an event of the other mode than the stage's key (a live Connect
    endpoint also receives connected accounts' test events), a connected account's event that
    names no account or one no tenant owns, and a platform event that names an account."""
    stripe_event = stripe.verify_event(payload, signature, connect=connect)
    account = stripe_event.get("account")
    if bool(stripe_event.get("livemode")) != get_settings().stripe_livemode:
        logger.info("stripe event of the other mode ignored", extra={"account": account})
        return {**IGNORED}
    if not connect:
        return {**IGNORED} if account else apply_stripe_event(stripe_event)
    owner = tenants.owner_of_account(account) if account else None
    if owner is None:
        logger.warning("stripe event of an account no tenant owns", extra={"account": account})
        return {**IGNORED}
    if stripe_event.get("type") in ACCOUNT_EVENTS:
        outcome = tenants.apply_account_event(owner, account, stripe_event)
        return {"received": True, "outcome": outcome}
    return apply_stripe_event(stripe_event)


IGNORED = {"received": True, "outcome": "ignored"}
# A connected account's own state: kept on the tenant (services/tenants.py).
ACCOUNT_EVENTS = ("account.updated", "account.application.deauthorized")


def apply_stripe_event(stripe_event: dict[str, Any]) -> dict[str, Any]:
    """Apply a verified event once. Reconciliation repairs a lost webhook through here too,
    so the webhook arriving later finds the payment settled and changes nothing."""
    event_id, type_ = str(stripe_event["id"]), str(stripe_event.get("type"))
    apply = HANDLERS.get(type_)
    if apply is None:
        logger.info("stripe event acknowledged", extra={"type": type_})
        return {"received": True, "outcome": "ignored"}

    def attempt() -> dict[str, Any]:
        target = _locate(stripe_event)
        if target is None:
            return {"received": True, "outcome": "ignored"}
        tx = Transaction()
        tx.put(
            receipt_item("stripe", event_id, type_), condition=FIRST_DELIVERY, label=DEDUPE_LABEL
        )
        changed = apply(target, stripe_event["data"]["object"])
        if changed:
            target.books.record(
                tx, type_, *changed, invoices=[target.invoice], payments=_payments(target)
            )
        try:
            tx.commit()
        except ConditionFailed as failed:
            if DEDUPE_LABEL in failed.labels:
                return {"received": True, "outcome": "duplicate"}
            raise  # the job changed under us: read again, apply again
        return {"received": True, "outcome": "applied" if changed else "unchanged"}

    return retrying(attempt, busy="the job is busy; Stripe will deliver again")


def _payments(target: Target) -> tuple[Payment, ...]:
    return (target.payment,) if target.payment is not None else ()


def _locate(stripe_event: dict[str, Any]) -> Target | None:
    """Our invoice and payment for an event: by the intent id we indexed, else by the
    metadata we put on the intent (an event can beat the page that made the intent)."""
    obj = stripe_event["data"]["object"]
    intent_id = _intent_id(obj)
    where = _indexed(intent_id) if intent_id else None
    by_metadata = where is None
    if by_metadata:
        meta = obj.get("metadata") or {}
        where = (meta.get("tenant_id"), meta.get("job_id"), meta.get("invoice_id"))
    tenant_id, job_id, invoice_id = where
    if not (tenant_id and job_id and invoice_id):
        logger.warning(
            "stripe event for nothing of ours", extra={"stripe_event": stripe_event["id"]}
        )
        return None
    system = Caller(tenant_id=str(tenant_id), user_id=STRIPE, role=SYSTEM)
    try:
        books = invoicing.open_books(system, str(job_id))
        tenant = tenants.get_settings(system)
    except NotFound:
        logger.warning("stripe event for an unknown tenant or job")
        return None
    invoice = next((i for i in books.invoices if i.invoice_id == str(invoice_id)), None)
    if invoice is None:
        logger.warning("stripe event for an unknown invoice")
        return None
    if not _from_tenants_account(stripe_event.get("account"), tenant, by_metadata):
        logger.warning("stripe event from another account ignored")
        return None
    payment = next(
        (
            p
            for p in books.payments_of(invoice.invoice_id)
            if intent_id and p.stripe_payment_intent_id == intent_id
        ),
        None,
    )
    return Target(tenant, books, invoice, payment)


def _intent_id(obj: dict[str, Any]) -> str | None:
    """The PaymentIntent an intent, charge, refund or dispute is about."""
    if obj.get("object") == "payment_intent":
        return obj.get("id")
    intent = obj.get("payment_intent")
    return intent.get("id") if isinstance(intent, dict) else intent


def _from_tenants_account(account: str | None, tenant: Tenant, by_metadata: bool) -> bool:
    """A connected account may only pay its own tenant's invoices.

    Metadata is written by whoever creates the intent, so an intent we never saw is believed
    only when the event comes from the tenant's own account. An intent we created and indexed
    is ours when the event comes from the tenant's account, or names none (the platform
    endpoint: payments taken before tenants had accounts of their own).
    """
    if by_metadata:
        return account == tenant.stripe_account_id
    return (
        account is None or tenant.stripe_account_id is None or account == tenant.stripe_account_id
    )


def _indexed(intent_id: str) -> tuple[str, str, str] | None:
    found = invoice_store.payment_by_intent(intent_id)
    if found is None:
        return None
    tenant_id, payment = found
    return tenant_id, payment.job_id, payment.invoice_id


def _same_currency(target: Target, currency: str | None) -> bool:
    if currency and currency.upper() != target.invoice.currency.upper():
        logger.error("stripe event in another currency than its invoice; not applied")
        return False
    return True


def _ensure_payment(target: Target, intent_id: str, amount_cents: int, method: str | None):
    if target.payment is None:
        target.payment = rules.online_payment(
            target.invoice, intent_id, amount_cents, STRIPE, method or "card"
        )
        target.books.payments.append(target.payment)
    return target.payment


def _received(target: Target, amount_cents: int, charge_id: str | None, method: str | None):
    """The payment succeeded: balance down, invoice (and job) paid when that settles it."""
    if not rules.succeed(target.payment, amount_cents, charge_id, method):
        return []
    return rules.receive(target.invoice, target.payment, STRIPE)


def _on_succeeded(target: Target, intent: dict[str, Any]) -> list:
    # The amount Stripe says it received, never the balance we hoped for.
    amount = int(intent.get("amount_received") or intent.get("amount") or 0)
    if amount <= 0 or not _same_currency(target, intent.get("currency")):
        return []
    method, charge_id = _charge_details(intent)
    _ensure_payment(target, intent["id"], amount, method)
    return _received(target, amount, charge_id, method)


def _on_failed(target: Target, intent: dict[str, Any]) -> list:
    amount = int(intent.get("amount") or 0)
    payment = _ensure_payment(target, intent["id"], amount, None)
    error = intent.get("last_payment_error") or {}
    failed = rules.fail(payment, error.get("message") or error.get("code"), STRIPE)
    return [failed] if failed else []


def _on_refunded(target: Target, charge: dict[str, Any]) -> list:
    """Refunds of the charge, each recorded once by its Stripe id (or our refund id in its
    metadata). Since API version 2022-11-15 a charge no longer lists its refunds: then what
    Stripe refunded beyond what we recorded or hold is recorded as one refund."""
    intent_id = _intent_id(charge)
    if not intent_id or not _same_currency(target, charge.get("currency")):
        return []
    # A refund proves the charge went through, even if its success has not reached us yet.
    amount = int(charge.get("amount") or 0)
    _ensure_payment(target, intent_id, amount, None)
    events = _received(target, amount, charge.get("id"), None)
    listed = (charge.get("refunds") or {}).get("data")
    if listed is None:
        listed = [_unlisted_refund(target.payment, int(charge.get("amount_refunded") or 0))]
    for refund in sorted(listed, key=lambda r: r.get("created", 0)):
        events += _record_stripe_refund(target, refund)
    return events


def _unlisted_refund(payment: Payment, refunded_total: int) -> dict[str, Any]:
    known = payment.refunded_cents + payment.reserved_cents
    return {"amount": max(0, refunded_total - known), "status": "succeeded"}


def _record_stripe_refund(target: Target, refund: dict[str, Any]) -> list:
    if refund.get("status") not in (None, "succeeded", "pending") or not refund.get("amount"):
        return []
    meta = refund.get("metadata") or {}
    given = rules.settle_refund(
        target.payment,
        int(refund["amount"]),
        meta.get("reason") or "refunded in Stripe",
        STRIPE,
        refund.get("id"),
        meta.get("refund_id"),
    )
    if given is None:
        return []
    return rules.give_back(target.invoice, target.payment, given, STRIPE)


def _on_dispute(target: Target, dispute: dict[str, Any]) -> list:
    intent_id = _intent_id(dispute)
    if not intent_id:
        return []
    amount = int(dispute.get("amount") or 0)
    _ensure_payment(target, intent_id, amount, None)
    events = _received(target, amount, _id(dispute.get("charge")), None)
    if rules.dispute(target.payment, dispute.get("id"), dispute.get("reason")):
        events.append(rules.flag_dispute(target.invoice, target.payment, STRIPE))
    return events


def _on_dispute_closed(target: Target, dispute: dict[str, Any]) -> list:
    """Lost: the bank took the money back and the invoice is owed again. Won (or an inquiry
    closed): the payment stands and the invoice is no longer disputed."""
    events = _on_dispute(target, dispute)  # a `closed` may be the first we hear of it
    outcome = "lost" if dispute.get("status") == "lost" else "won"
    amount = int(dispute.get("amount") or 0)
    if not rules.close_dispute(target.payment, dispute.get("id"), outcome, amount):
        return events
    if outcome == "lost":
        return [*events, *rules.lose_dispute(target.invoice, target.payment, STRIPE)]
    return [*events, rules.win_dispute(target.invoice, target.payment, STRIPE)]


def _charge_details(intent: dict[str, Any]) -> tuple[str | None, str | None]:
    charge = intent.get("latest_charge")
    if isinstance(charge, dict):
        details = charge.get("payment_method_details") or {}
        return details.get("type"), charge.get("id")
    return None, charge


def _id(value: Any) -> str | None:
    return value.get("id") if isinstance(value, dict) else value


HANDLERS = {
    "payment_intent.succeeded": _on_succeeded,
    "payment_intent.payment_failed": _on_failed,
    "charge.refunded": _on_refunded,
    "charge.dispute.created": _on_dispute,
    "charge.dispute.closed": _on_dispute_closed,
}
# payout.paid: acknowledged; reconciliation records payouts.
