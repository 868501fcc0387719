"""Cards on file: saving a customer's payment method, its default, and the link to save one.

The plans' autopay charges `default_method()`; the customer saves methods on `/p/cards/{token}`
(`card_link()`), and Stripe's `setup_intent.succeeded` calls `save_method()`. Each new method is
a `PaymentMethodSaved` timeline event of the customer's own (in the customer's collection), which
reaches the event bus like every timeline event.
"""

from __future__ import annotations

from contextlib import suppress
from datetime import UTC, datetime
from typing import Any

from chalicelib.config import get_settings
from chalicelib.domain import cards as rules
from chalicelib.domain import clock, currencies, links
from chalicelib.domain.callers import CUSTOMER, SYSTEM, Caller
from chalicelib.domain.cards import SavedMethod
from chalicelib.domain.customers import Customer
from chalicelib.domain.errors import Conflict, Invalid, NotFound
from chalicelib.domain.ids import new_id
from chalicelib.domain.timeline import customer_event
from chalicelib.integrations import cards_stripe as stripe_cards
from chalicelib.logs import logger
from chalicelib.services import customers, messaging, tenants
from chalicelib.services.common import found, retrying
from chalicelib.store import cards as store
from chalicelib.store import customers as customer_store
from chalicelib.store.db import ConditionFailed, Transaction

SETUP_EVENTS = ("setup_intent.succeeded",)  # on the tenant's account: a method saved
BUSY = "the customer's saved payment methods are being changed; try again"


def save_method(tenant_id: str, customer_id: str, method: SavedMethod) -> SavedMethod:
    """Keep a method saved at Stripe; the customer's first becomes the default.

    Idempotent by the method's id: saving it again (a webhook delivered twice) returns the one
    kept, unchanged. The default choice is one versioned item, so two first methods racing
    cannot both become the default."""
    found(customer_store.get_customer(tenant_id, customer_id), "customer")

    def attempt() -> SavedMethod:
        kept = store.get_method(tenant_id, customer_id, method.id)
        choice = store.default_choice(tenant_id, customer_id)
        if kept is not None:
            return kept.model_copy(update={"default": kept.id == choice.method_id})
        new = method.model_copy(update={"version": None, "default": False})
        tx = Transaction()
        tx.put(store.method_item(tenant_id, customer_id, new), label="saved method")
        if choice.method_id is None:
            choice.method_id = new.id
            tx.put(store.choice_item(tenant_id, customer_id, choice), label="default method")
        saved = customer_event(
            customer_id, rules.SAVED_EVENT, CUSTOMER, method_id=new.id, type=new.type
        )
        tx.put(store.event_item(tenant_id, customer_id, saved), label=saved.type)
        tx.commit()
        return new.model_copy(update={"default": choice.method_id == new.id})

    return retrying(attempt, busy=BUSY)


def default_method(tenant_id: str, customer_id: str) -> SavedMethod | None:
    """The method to charge off-session; None when the customer has saved none."""
    choice = store.default_choice(tenant_id, customer_id)
    if choice.method_id is None:
        return None
    method = store.get_method(tenant_id, customer_id, choice.method_id)
    return method.model_copy(update={"default": True}) if method else None


def list_methods(tenant_id: str, customer_id: str) -> list[SavedMethod]:
    """The customer's saved methods, newest first, the default marked."""
    choice = store.default_choice(tenant_id, customer_id)
    return rules.marked(store.methods(tenant_id, customer_id), choice.method_id)


def get_method(tenant_id: str, customer_id: str, method_id: str) -> SavedMethod:
    method = store.get_method(tenant_id, customer_id, method_id)
    return found(method, "payment method")


def set_default(tenant_id: str, customer_id: str, method_id: str) -> SavedMethod:
    def attempt() -> SavedMethod:
        method = get_method(tenant_id, customer_id, method_id)
        choice = store.default_choice(tenant_id, customer_id)
        if choice.method_id != method_id:
            choice.method_id = method_id
            tx = Transaction()
            tx.put(store.choice_item(tenant_id, customer_id, choice), label="default method")
            tx.commit()
        return method.model_copy(update={"default": True})

    return retrying(attempt, busy=BUSY)


def forget_method(tenant_id: str, customer_id: str, method_id: str) -> None:
    """Drop a saved method (the caller detached it at Stripe first); the newest method left
    becomes the default if it was."""

    def attempt() -> None:
        method = get_method(tenant_id, customer_id, method_id)
        choice = store.default_choice(tenant_id, customer_id)
        tx = Transaction()
        store.delete_method(tx, tenant_id, customer_id, method)
        if choice.method_id == method_id:
            left = store.methods(tenant_id, customer_id)
            choice.method_id = rules.next_default(left, method_id)
            tx.put(store.choice_item(tenant_id, customer_id, choice), label="default method")
        tx.commit()

    retrying(attempt, busy=BUSY)


# --- the customer's link ----------------------------------------------------------------------


def card_link(tenant_id: str, customer_id: str) -> str:
    """The URL of `/p/cards/{token}`, where the customer saves a card (or a new one after a
    decline); signed like the other customer links, for the customer, expiring in 30 days."""
    claims = links.LinkClaims(
        kind=rules.LINK_KIND,
        tenant_id=tenant_id,
        job_id="",
        object_id=customer_id,
        expires_at=clock.now() + rules.LINK_LIFETIME,
    )
    settings = get_settings()
    return f"{settings.public_base_url}/p/cards/{links.sign(claims, settings.link_secrets)}"


def open_link(token: str) -> links.LinkClaims:
    """The claims of a genuine, unexpired card link; anything else is 404."""
    claims = links.verify(token, rules.LINK_KIND, get_settings().link_secrets, clock.now())
    if claims is None:
        raise NotFound("page not found")
    return claims


# --- the office: the link, the list, remove, default ------------------------------------------


def setup_link(caller: Caller, customer_id: str, send: str | None) -> dict[str, Any]:
    """The customer's link to save a card; texted too with `send="sms"` (opt-outs honoured:
    a customer who opted out is not texted, and `message_status` says `suppressed`)."""
    customer = customers.get(caller, customer_id)
    url = card_link(caller.tenant_id, customer_id)
    if send != "sms":
        return {"url": url, "message_status": None}
    tenant = tenants.get_settings(caller)
    message = messaging.text_from_template(
        tenant, customer, None, rules.SETUP_TEXT, {"link": url}, caller.user_id
    )
    return {"url": url, "message_status": message.status}


def listed(caller: Caller, customer_id: str) -> list[dict[str, Any]]:
    customers.get(caller, customer_id)
    return [m.listed() for m in list_methods(caller.tenant_id, customer_id)]


def make_default(caller: Caller, customer_id: str, method_id: str) -> dict[str, Any]:
    customers.get(caller, customer_id)
    return set_default(caller.tenant_id, customer_id, method_id).listed()


def remove(caller: Caller, customer_id: str, method_id: str) -> None:
    """Detach the method at Stripe first (it can never be charged again), then forget it: a
    Stripe that cannot be reached leaves the method saved, and the office can retry."""
    customers.get(caller, customer_id)
    method = get_method(caller.tenant_id, customer_id, method_id)
    try:
        stripe_cards.detach_method(method.id, method.stripe_account)
    except Invalid:
        # Stripe no longer has it attached (removed in the dashboard): forgetting is what is left.
        logger.info("payment method already detached at stripe", extra={"method": method.id})
    forget_method(caller.tenant_id, customer_id, method_id)


# --- the customer's page ----------------------------------------------------------------------


def public_setup(token: str) -> dict[str, Any]:
    """What the card page needs: a fresh SetupIntent on the tenant's account for the customer's
    Stripe Customer (`usage: off_session`), and the words the customer agrees to.

    A new SetupIntent each time the page opens (Stripe advises against long-lived unconfirmed
    ones); the Stripe Customer is made once per customer and account."""
    claims = open_link(token)
    caller = Caller(tenant_id=claims.tenant_id, user_id=CUSTOMER, role=CUSTOMER)
    try:
        tenant = tenants.get_settings(caller)
        customer = customers.get(caller, claims.object_id)
    except NotFound:
        raise NotFound("page not found") from None
    if not tenants.takes_cards(tenant):
        raise Conflict(f"{tenant.name} does not take cards online yet", code="cards_not_accepted")
    account = tenant.stripe_account_id
    stripe_customer = _stripe_customer(tenant.tenant_id, customer, account)
    methods = currencies.payment_method_types(tenant.currency, tenant.country)
    metadata = {"tenant_id": tenant.tenant_id, "customer_id": customer.customer_id}
    setup = stripe_cards.create_setup_intent(
        stripe_customer, methods, metadata, account, f"setup-{new_id()}"
    )
    return {
        "client_secret": setup.client_secret,
        "setup_intent_id": setup.id,
        "stripe_account": account,
        "business_name": tenant.name,
        "customer_name": customer.name,
        "payment_method_types": methods,
        "authorization_text": {
            kind: rules.authorization_text(tenant.name, kind) for kind in methods
        },
        "saved": [m.listed() for m in list_methods(tenant.tenant_id, customer.customer_id)],
    }


def _stripe_customer(tenant_id: str, customer: Customer, account: str | None) -> str:
    known = store.stripe_customer_id(tenant_id, customer.customer_id, account)
    if known:
        return known
    metadata = {"tenant_id": tenant_id, "customer_id": customer.customer_id}
    made = stripe_cards.create_customer(
        customer.name, customer.phone, customer.email, metadata, account
    )
    tx = Transaction()
    tx.put(store.stripe_customer_item(tenant_id, customer.customer_id, account, made))
    # Another page may have kept it at once: Stripe's idempotency key gave both the same one.
    with suppress(ConditionFailed):
        tx.commit()
    return made


# --- Stripe's event ---------------------------------------------------------------------------


def apply_setup_event(tenant_id: str, account: str | None, stripe_event: dict) -> dict[str, Any]:
    """`setup_intent.succeeded` on the tenant's account: keep the method on the customer.

    The SetupIntent names our customer in its metadata (we made it); the event comes from the
    account the tenant owns, and the method's details are read from Stripe, not the event.
    Saving is idempotent by the method's id, so a replayed event changes nothing."""
    setup = stripe_event["data"]["object"]
    meta = setup.get("metadata") or {}
    method_id = setup.get("payment_method")
    method_id = method_id.get("id") if isinstance(method_id, dict) else method_id
    if meta.get("tenant_id") != tenant_id or not meta.get("customer_id") or not method_id:
        logger.warning(
            "setup intent for nothing of ours", extra={"stripe_event": stripe_event["id"]}
        )
        return {"received": True, "outcome": "ignored"}
    customer_id = str(meta["customer_id"])
    if store.get_method(tenant_id, customer_id, method_id) is not None:
        return {"received": True, "outcome": "duplicate"}
    found_method = stripe_cards.retrieve_method(method_id, account)
    tenant = tenants.get_settings(Caller(tenant_id=tenant_id, user_id=SYSTEM, role=SYSTEM))
    moment = clock.now()
    kind = found_method.type if found_method.type in ("card", "us_bank_account") else "card"
    method = SavedMethod(
        id=found_method.id,
        stripe_customer_id=found_method.customer or setup.get("customer") or "",
        stripe_account=account,
        type=kind,
        brand=found_method.brand,
        last4=found_method.last4,
        exp_month=found_method.exp_month,
        exp_year=found_method.exp_year,
        authorization_text=rules.authorization_text(tenant.name, kind),
        authorized_at=_confirmed_at(setup, moment),
        mandate_id=setup.get("mandate") if isinstance(setup.get("mandate"), str) else None,
        saved_at=moment,
    )
    try:
        save_method(tenant_id, customer_id, method)
    except NotFound:
        return {"received": True, "outcome": "ignored"}
    return {"received": True, "outcome": "applied"}


def _confirmed_at(setup: dict, fallback: datetime) -> datetime:
    """When the customer agreed: the SetupIntent's creation is the page they agreed on."""
    created = setup.get("created")
    return datetime.fromtimestamp(created, UTC) if isinstance(created, int) else fallback
