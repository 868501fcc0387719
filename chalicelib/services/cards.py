"""Cards on file: saving a customer's payment method, its default, and the link to save one.

The plans' autopay charges `default_method()`; the customer saves methods on `/p/cards/{token}`
(`card_link()`), and Stripe's `setup_intent.succeeded` calls `save_method()`. Each new method is
a `PaymentMethodSaved` timeline event of the customer's own (in the customer's collection), which
reaches the event bus like every timeline event.
"""

from __future__ import annotations

from chalicelib.config import get_settings
from chalicelib.domain import cards as rules
from chalicelib.domain import clock, links
from chalicelib.domain.callers import CUSTOMER
from chalicelib.domain.cards import SavedMethod
from chalicelib.domain.errors import NotFound
from chalicelib.domain.timeline import customer_event
from chalicelib.services.common import found, retrying
from chalicelib.store import cards as store
from chalicelib.store import customers as customer_store
from chalicelib.store.db import Transaction

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
