"""Tenants, their settings and their staff."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from chalicelib.config import get_settings as get_app_settings
from chalicelib.domain import clock
from chalicelib.domain.callers import OWNER, Caller
from chalicelib.domain.errors import Conflict
from chalicelib.domain.ids import new_id
from chalicelib.domain.phones import to_e164
from chalicelib.domain.tenants import Tenant, require_timezone
from chalicelib.domain.users import User
from chalicelib.services.common import check_version, found
from chalicelib.store import tenants as store
from chalicelib.store.db import ConditionFailed, Transaction

ATTEMPTS = 3


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
    """Apply the owner's changes. The tenant's texting number and Stripe account are claimed in
    the same transaction (one tenant each), and a number or account given up is released."""
    country = get_settings(caller).country
    if "timezone" in changes:
        require_timezone(changes["timezone"])
    for phone_field in ("twilio_from_number", "phone"):
        if phone_field in changes:  # empty or null: none
            changes[phone_field] = changes[phone_field] and to_e164(changes[phone_field], country)
    if changes.get("twilio_from_number") == get_app_settings().twilio_default_from:
        raise Conflict("that number is the shared sender of every business", code="number_taken")
    for _ in range(ATTEMPTS):
        tenant = get_settings(caller)
        check_version(tenant.version, if_match)
        updated = Tenant.model_validate({**tenant.model_dump(), **changes})
        tx = Transaction()
        tx.put(store.tenant_item(updated), label="tenant", entity=updated)
        _transfer_ownership(tx, tenant, updated)
        try:
            tx.commit()
            return updated
        except ConditionFailed:
            continue  # another save, or a claim of the same number or account: look again
    raise Conflict("the settings are being changed; try again", code="conflict")


# What only one tenant may hold: the field, its kind of claim, and the answer to a second tenant.
OWNED = (
    ("twilio_from_number", store.SMS_NUMBER, "number_taken", "that number"),
    ("stripe_account_id", store.STRIPE_ACCOUNT, "stripe_account_taken", "that Stripe account"),
)


def _transfer_ownership(tx: Transaction, before: Tenant, after: Tenant) -> None:
    """Claim what the tenant holds after the change (absent or already its own), and release
    what it held before and gave up."""
    for field, kind, code, what in OWNED:
        held, wanted = getattr(before, field), getattr(after, field)
        if wanted:
            if _owner(kind, wanted) not in (None, after.tenant_id):
                raise Conflict(f"{what} belongs to another business", code=code)
            store.claim(tx, kind, wanted, after.tenant_id)
        if held and held != wanted and store.owner_of(kind, held) == before.tenant_id:
            store.release(tx, kind, held, before.tenant_id)


def _owner(kind: str, resource: str) -> str | None:
    owner = store.owner_of(kind, resource)
    if owner is None and kind == store.SMS_NUMBER:
        unclaimed = store.find_unclaimed_sms_owner(resource)
        owner = unclaimed.tenant_id if unclaimed else None
    return owner


def backfill_ownership(tenants: Iterable[Tenant] | None = None) -> list[str]:
    """Claim the number and Stripe account of every tenant saved before claims existed (a
    one-off admin command: it Scans the table). Safe to run again. Returns the conflicts found,
    two tenants holding one resource, for an admin to settle; neither is changed."""
    conflicts = []
    for tenant in tenants if tenants is not None else store.every_tenant():
        for field, kind, _, _ in OWNED:
            resource = getattr(tenant, field)
            if not resource:
                continue
            tx = Transaction()
            store.claim(tx, kind, resource, tenant.tenant_id)
            try:
                tx.commit()
            except ConditionFailed:
                owner = store.owner_of(kind, resource)
                conflicts.append(f"{kind} {resource}: tenant {tenant.tenant_id}, also {owner}")
    return conflicts
