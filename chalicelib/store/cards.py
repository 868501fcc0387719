"""Saved payment methods, the default choice and the Stripe Customer, in the customer's
collection (`T#t#CUST#c`): listing a customer's methods is one Query on one prefix."""

from __future__ import annotations

from pydantic import BaseModel

from chalicelib.domain.cards import DefaultChoice, SavedMethod
from chalicelib.domain.clock import iso
from chalicelib.domain.timeline import TimelineEvent
from chalicelib.store import keys
from chalicelib.store.db import Transaction
from chalicelib.store.models import Item
from chalicelib.store.records import entity, get, partition, record


def method_item(tenant_id: str, customer_id: str, method: SavedMethod) -> Item:
    # `default` is the choice item's to say; a stored flag would go stale when it changes.
    stored = method.model_copy(update={"default": False})
    return record(
        keys.saved_method(tenant_id, customer_id, method.id), "saved_method", tenant_id, stored
    )


def choice_item(tenant_id: str, customer_id: str, choice: DefaultChoice) -> Item:
    return record(keys.default_method(tenant_id, customer_id), "default_method", tenant_id, choice)


def event_item(tenant_id: str, customer_id: str, evt: TimelineEvent) -> Item:
    key = keys.customer_event(tenant_id, customer_id, iso(evt.at), evt.event_id)
    return record(key, "event", tenant_id, evt)


def delete_method(tx: Transaction, tenant_id: str, customer_id: str, method: SavedMethod) -> None:
    """Delete the method as it was read (a racing change to it fails the transaction)."""
    key = keys.saved_method(tenant_id, customer_id, method.id)
    tx.delete(key.pk, key.sk, Item.version == method.version, label="saved method")


def get_method(tenant_id: str, customer_id: str, method_id: str) -> SavedMethod | None:
    return get(keys.saved_method(tenant_id, customer_id, method_id), SavedMethod)


def methods(tenant_id: str, customer_id: str) -> list[SavedMethod]:
    pk = keys.saved_method(tenant_id, customer_id, "").pk
    return [entity(i, SavedMethod) for i in partition(pk, keys.SAVED_METHOD_PREFIX)]


def default_choice(tenant_id: str, customer_id: str) -> DefaultChoice:
    """The customer's default choice; a new, unsaved one before the first method."""
    return get(keys.default_method(tenant_id, customer_id), DefaultChoice) or DefaultChoice()


def stripe_customer_id(tenant_id: str, customer_id: str, account: str | None) -> str | None:
    key = keys.stripe_customer(tenant_id, customer_id, account)
    found = get(key, _StripeCustomer)
    return found.stripe_customer_id if found else None


def stripe_customer_item(
    tenant_id: str, customer_id: str, account: str | None, stripe_id: str
) -> Item:
    key = keys.stripe_customer(tenant_id, customer_id, account)
    return record(key, "stripe_customer", tenant_id, _StripeCustomer(stripe_customer_id=stripe_id))


class _StripeCustomer(BaseModel):
    stripe_customer_id: str
    version: int | None = None
