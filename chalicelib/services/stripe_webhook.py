"""Stripe's webhook events, each applied once to the job's books."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from chalicelib.config import get_settings
from chalicelib.domain import invoices as rules
from chalicelib.domain.callers import SYSTEM, Caller
from chalicelib.domain.errors import FieldlineError, NotFound
from chalicelib.domain.invoices import Invoice, Payment
from chalicelib.domain.tenants import Tenant
from chalicelib.integrations import payments_stripe as stripe
from chalicelib.logs import logger
from chalicelib.services import cards, invoicing, tenants
from chalicelib.services.common import retrying
from chalicelib.store import invoices as invoice_store
from chalicelib.store.db import ConditionFailed, Transaction
from chalicelib.store.webhooks import FIRST_DELIVERY, receipt_item

STRIPE = "stripe"  # the actor of what Stripe's events change
DEDUPE_LABEL = "stripe event"


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
    if stripe_event.get("type") in cards.SETUP_EVENTS:  # a card saved on file
        return cards.apply_setup_event(owner, account, stripe_event)
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

    applied: list[Target] = []

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
        applied[:] = [target] if changed else []
        return {"received": True, "outcome": "applied" if changed else "unchanged"}

    outcome = retrying(attempt, busy="the job is busy; Stripe will deliver again")
    for target in applied:
        _after_plan_invoice(target, type_)
    return outcome


def _after_plan_invoice(target: Target, type_: str) -> None:
    """A service plan's invoice moved: its enrolment follows (services/plan_billing.py). The
    event is applied already, so a failure here is logged, not answered to Stripe."""
    from chalicelib.services import plan_billing

    try:
        plan_billing.after_stripe_event(target.tenant.tenant_id, target.invoice, type_)
    except FieldlineError:
        logger.exception("plan enrolment not updated", extra={"type": type_})


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
    paid, tip = _without_tip(target, intent, amount)
    _ensure_payment(target, intent["id"], paid, method).tip_cents = tip
    return _received(target, paid, charge_id, method)


def _without_tip(target: Target, paid_for: dict[str, Any], amount: int) -> tuple[int, int]:
    """What of a charge pays the invoice, and the customer's tip on top (domain/tips.py): the
    tip our payment asked for, else the one the intent's (or its charge's) metadata names."""
    if target.payment is not None:
        tip = target.payment.tip_cents
    else:
        meta = paid_for.get("metadata") or {}
        tip = int(meta["tip_cents"]) if str(meta.get("tip_cents", "")).isdigit() else 0
    tip = min(tip, amount)
    return amount - tip, tip


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
    paid, tip = _without_tip(target, charge, int(charge.get("amount") or 0))
    _ensure_payment(target, intent_id, paid, None).tip_cents = tip
    events = _received(target, paid, charge.get("id"), None)
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
