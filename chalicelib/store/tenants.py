"""Tenant settings and users (owners, office staff, technicians)."""

from __future__ import annotations

from chalicelib.domain.tenants import Tenant
from chalicelib.domain.users import User
from chalicelib.store import db, keys
from chalicelib.store.models import Item
from chalicelib.store.records import Page, entity, get, page, record


def tenant_item(tenant: Tenant) -> Item:
    number = tenant.twilio_from_number
    gsi1 = (keys.tenant_by_sms_number(number), "TENANT") if number else None
    return record(keys.tenant(tenant.tenant_id), "tenant", tenant.tenant_id, tenant, gsi1=gsi1)


def find_by_sms_number(number: str) -> Tenant | None:
    with db.translate_errors():
        found = list(Item.gsi1.query(keys.tenant_by_sms_number(number), limit=1))
    return entity(found[0], Tenant) if found else None


def get_tenant(tenant_id: str) -> Tenant | None:
    return get(keys.tenant(tenant_id), Tenant)


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
