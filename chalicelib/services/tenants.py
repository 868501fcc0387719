"""Tenants, their settings and their staff."""

from __future__ import annotations

from typing import Any

from chalicelib.domain import clock
from chalicelib.domain.callers import OWNER, Caller
from chalicelib.domain.errors import Conflict
from chalicelib.domain.ids import new_id
from chalicelib.domain.phones import to_e164
from chalicelib.domain.tenants import Tenant, require_timezone
from chalicelib.domain.users import User
from chalicelib.services.common import check_version, found
from chalicelib.store import tenants as store
from chalicelib.store.db import Transaction


def create_tenant(
    name: str,
    timezone: str,
    currency: str,
    *,
    owner_id: str | None = None,
    owner_email: str | None = None,
) -> tuple[Tenant, User]:
    """A new business with its owner; used by the local stage, sign-up and the first-tenant
    script (which passes the owner's Cognito `sub` as `owner_id`: the token's user id)."""
    tenant = Tenant(
        tenant_id=new_id(),
        name=name,
        timezone=require_timezone(timezone),
        currency=currency.upper(),
        created_at=clock.now(),
    )
    owner = User(
        user_id=owner_id or new_id(),
        role=OWNER,
        name=f"{name} owner",
        email=owner_email,
        created_at=clock.now(),
    )
    tx = Transaction()
    tx.put(store.tenant_item(tenant), entity=tenant)
    tx.put(store.user_item(tenant.tenant_id, owner), entity=owner)
    tx.commit()
    return tenant, owner


def get_settings(caller: Caller) -> Tenant:
    return found(store.get_tenant(caller.tenant_id), "tenant")


def update_settings(caller: Caller, changes: dict[str, Any], if_match: int | None) -> Tenant:
    tenant = get_settings(caller)
    check_version(tenant.version, if_match)
    if "timezone" in changes:
        require_timezone(changes["timezone"])
    for phone_field in ("twilio_from_number", "phone"):
        if changes.get(phone_field):
            changes[phone_field] = to_e164(changes[phone_field], tenant.country)
    number = changes.get("twilio_from_number")
    if number and number != tenant.twilio_from_number:
        claimed = store.find_by_sms_number(number)
        if claimed and claimed.tenant_id != tenant.tenant_id:
            raise Conflict("that number belongs to another business", code="number_taken")
    updated = Tenant.model_validate({**tenant.model_dump(), **changes})
    tx = Transaction()
    tx.put(store.tenant_item(updated), label="tenant", entity=updated)
    tx.commit()
    return updated
