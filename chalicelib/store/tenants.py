"""Tenant settings, users (owners, office staff, technicians), and what one tenant owns alone."""

from __future__ import annotations

from chalicelib.domain.tenants import Tenant
from chalicelib.domain.users import User
from chalicelib.store import db, keys
from chalicelib.store.db import Transaction
from chalicelib.store.models import Item
from chalicelib.store.records import Page, entity, get, page, record

SMS_NUMBER, STRIPE_ACCOUNT, BOOKING_SLUG = "SMS", "STRIPE", "BOOKING"


def tenant_item(tenant: Tenant) -> Item:
    return record(keys.tenant(tenant.tenant_id), "tenant", tenant.tenant_id, tenant)


def get_tenant(tenant_id: str) -> Tenant | None:
    return get(keys.tenant(tenant_id), Tenant)


# --- ownership: a Stripe account or an SMS number belongs to one tenant ------------------------


def owner_of(kind: str, resource: str) -> str | None:
    """The tenant that owns the resource, by a strongly consistent read of its claim."""
    key = keys.ownership(kind, resource)
    with db.translate_errors():
        try:
            return Item.get(key.pk, key.sk, consistent_read=True).tenant_id
        except Item.DoesNotExist:
            return None


def claim(tx: Transaction, kind: str, resource: str, tenant_id: str) -> None:
    """Add the tenant's claim to `tx`: it fails (label `kind`) if another tenant holds it."""
    key = keys.ownership(kind, resource)
    actions = [
        Item.type.set("ownership"),
        Item.tenant_id.set(tenant_id),
        Item.data.set({"kind": kind, "resource": resource}),
    ]
    free_or_mine = Item.pk.does_not_exist() | (Item.tenant_id == tenant_id)
    tx.update(Item(key.pk, key.sk), actions, free_or_mine, label=kind, versioned=False)


def release(tx: Transaction, kind: str, resource: str, tenant_id: str) -> None:
    """Add the end of the tenant's claim to `tx` (only the owner can end it)."""
    key = keys.ownership(kind, resource)
    tx.delete(key.pk, key.sk, Item.tenant_id == tenant_id, label=f"released {kind}")


def find_by_sms_number(number: str) -> Tenant | None:
    """The tenant an inbound text to `number` is for."""
    tenant_id = owner_of(SMS_NUMBER, number)
    if tenant_id is not None:
        return get_tenant(tenant_id)
    return find_unclaimed_sms_owner(number)


def find_unclaimed_sms_owner(number: str) -> Tenant | None:
    """A tenant saved before ownership claims existed, by the index its item carried then.

    Eventually consistent, but such an entry is old; every save since writes the claim and
    drops the entry. `backfill_ownership` claims for every such tenant at once.
    """
    with db.translate_errors():
        found = list(Item.gsi1.query(keys.tenant_by_sms_number(number), limit=1))
    tenant = entity(found[0], Tenant) if found else None
    return tenant if tenant is not None and tenant.twilio_from_number == number else None


# --- users ------------------------------------------------------------------------------------


def user_item(tenant_id: str, user: User) -> Item:
    return record(
        keys.user(tenant_id, user.user_id),
        "user",
        tenant_id,
        user,
        gsi1=(keys.users_index(tenant_id), keys.users_sort(user.role, user.name, user.user_id)),
    )


def get_user(tenant_id: str, user_id: str) -> User | None:
    return get(keys.user(tenant_id, user_id), User)


def list_users(tenant_id: str, role: str, cursor: str | None, limit: int) -> Page:
    items, next_cursor = page(
        Item.gsi1,
        keys.users_index(tenant_id),
        Item.gsi1sk.startswith(f"{role}#"),
        tenant_id,
        cursor,
        limit,
    )
    return Page([entity(item, User) for item in items], next_cursor)
