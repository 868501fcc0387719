"""Tenants, their settings and their staff, and their Stripe connected accounts.

A tenant's Stripe account is made here (`start_onboarding`: a Standard account, claimed for the
tenant in the same transaction that names it) and never typed in; Stripe's word on it
(`account.updated`, or a read) is kept as `stripe_status`, newest wins. Card payments are
charged on it only while Stripe has charges enabled (`takes_cards`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from chalicelib.config import get_settings as get_app_settings
from chalicelib.domain import clock
from chalicelib.domain.callers import OWNER, SYSTEM, Caller
from chalicelib.domain.errors import Conflict, Unavailable
from chalicelib.domain.ids import new_id
from chalicelib.domain.phones import to_e164
from chalicelib.domain.tenants import StripeStatus, Tenant, require_timezone
from chalicelib.domain.users import User
from chalicelib.integrations import payments_stripe as stripe
from chalicelib.logs import logger
from chalicelib.services.common import check_version, found, retrying
from chalicelib.store import tenants as store
from chalicelib.store.db import ConditionFailed, Transaction

ATTEMPTS = 3
SETTINGS_BUSY = "the settings are being changed; try again"


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
    """Apply the owner's changes. The tenant's texting number is claimed in the same
    transaction (one tenant each), and a number given up is released. (Its Stripe account is
    not among the changes: onboarding makes and claims it.)"""
    country = get_settings(caller).country
    if "timezone" in changes:
        require_timezone(changes["timezone"])
    for phone_field in ("twilio_from_number", "phone"):
        if phone_field in changes:  # empty or null: none
            changes[phone_field] = changes[phone_field] and to_e164(changes[phone_field], country)
    if changes.get("twilio_from_number") == get_app_settings().twilio_default_from:
        raise Conflict("that number is the shared sender of every business", code="number_taken")

    def attempt() -> Tenant:
        tenant = get_settings(caller)
        check_version(tenant.version, if_match)
        updated = Tenant.model_validate({**tenant.model_dump(), **changes})
        tx = Transaction()
        tx.put(store.tenant_item(updated), label="tenant", entity=updated)
        _transfer_ownership(tx, tenant, updated)
        tx.commit()  # lost to another save, or a claim of the same number or account: look again
        return updated

    return retrying(attempt, ATTEMPTS, busy=SETTINGS_BUSY)


# What only one tenant may hold: the field, its kind of claim, and the answer to a second tenant.
OWNED = (
    ("twilio_from_number", store.SMS_NUMBER, "number_taken", "that number"),
    ("stripe_account_id", store.STRIPE_ACCOUNT, "stripe_account_taken", "that Stripe account"),
    ("booking_slug", store.BOOKING_SLUG, "slug_taken", "that booking address"),
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


# --- the tenant's Stripe connected account ------------------------------------------------------


def stripe_account(caller: Caller) -> Tenant:
    """The tenant with Stripe's current word on its account: read from Stripe (an owner
    coming back from onboarding should not wait for the webhook), or, if Stripe cannot be
    reached, the last word kept (its `as_of` says how old)."""
    tenant = get_settings(caller)
    if tenant.stripe_account_id and not tenant.stripe_status.deauthorized:
        try:
            return _refresh_status(tenant)
        except Unavailable:
            logger.warning("stripe account not read; showing the last status kept")
    return tenant


def start_onboarding(caller: Caller, return_url: str, refresh_url: str) -> stripe.AccountLink:
    """Stripe's hosted onboarding for the tenant's account, made first if it has none (or if
    the business took the platform's access away from its old one)."""
    tenant = get_settings(caller)
    if not tenant.stripe_account_id or tenant.stripe_status.deauthorized:
        # One account per tenant (and per account it replaces), however often this is retried:
        # Stripe answers a repeated idempotency key with the account it made the first time.
        replaced = tenant.stripe_account_id or "none"
        account = stripe.create_account(
            tenant.country,
            tenant.name,
            tenant.email,
            tenant.tenant_id,
            idempotency_key=f"account-{tenant.tenant_id}-{replaced}",
        )
        tenant = _connect(caller, account["id"], _status_now(account))
    return stripe.create_account_link(tenant.stripe_account_id, refresh_url, return_url)


def connect_test_account(caller: Caller) -> Tenant:
    """Local stage only: the tenant gets a Stripe test account that has finished onboarding
    (on the local Stripe double), so it takes card payments at once."""
    tenant = get_settings(caller)
    account = stripe.create_account(
        tenant.country, tenant.name, tenant.email, tenant.tenant_id, f"account-{tenant.tenant_id}"
    )
    stripe.finish_test_onboarding(account["id"])
    return _connect(caller, account["id"], _status_now(stripe.retrieve_account(account["id"])))


def takes_cards(tenant: Tenant) -> bool:
    """Whether the tenant's pay pages take cards now. A tenant whose account was named before
    statuses were kept is asked about once, from Stripe."""
    if tenant.stripe_account_id and tenant.stripe_status.as_of == 0:
        tenant = _refresh_status(tenant)
    return tenant.takes_cards


def owner_of_account(account_id: str) -> str | None:
    """The tenant a connected account belongs to (its ownership claim), if any."""
    return store.owner_of(store.STRIPE_ACCOUNT, account_id)


def apply_account_event(tenant_id: str, account_id: str, stripe_event: dict[str, Any]) -> str:
    """`account.updated` (the account's new state) or `account.application.deauthorized`
    (the business disconnected the platform) on the tenant that owns the account
    (`owner_of_account`), unless a newer word is kept already. Returns the outcome for the
    webhook's answer."""
    system = Caller(tenant_id=tenant_id, user_id="stripe", role=SYSTEM)
    created = int(stripe_event.get("created") or 0)
    if stripe_event["type"] == "account.updated":
        status = StripeStatus.from_account(stripe_event["data"]["object"], created)
    else:
        kept = get_settings(system).stripe_status
        status = kept.model_copy(
            update={
                "charges_enabled": False,
                "payouts_enabled": False,
                "deauthorized": True,
                "as_of": max(created, kept.as_of),
            }
        )
    return _save_status(system, account_id, status)


def _status_now(account: dict[str, Any]) -> StripeStatus:
    return StripeStatus.from_account(account, int(clock.now().timestamp()))


def _refresh_status(tenant: Tenant) -> Tenant:
    account_id = str(tenant.stripe_account_id)
    status = _status_now(stripe.retrieve_account(account_id))
    system = Caller(tenant_id=tenant.tenant_id, user_id="stripe", role=SYSTEM)
    _save_status(system, account_id, status)
    return get_settings(system)


def _save_status(caller: Caller, account_id: str, status: StripeStatus) -> str:

    def attempt() -> str:
        tenant = get_settings(caller)
        if tenant.stripe_account_id != account_id:
            return "ignored"  # the tenant has moved to another account since
        if not tenant.stripe_status.replaced_by(status):
            return "unchanged"
        updated = tenant.model_copy(update={"stripe_status": status})
        tx = Transaction()
        tx.put(store.tenant_item(updated), label="tenant", entity=updated)
        tx.commit()  # lost if saved meanwhile (settings, another event): compare again
        return "applied"

    return retrying(attempt, ATTEMPTS, busy=SETTINGS_BUSY)


def _connect(caller: Caller, account_id: str, status: StripeStatus) -> Tenant:
    """Name the account on the tenant and claim it, in one transaction: one tenant per
    account. An account it replaces is released."""

    def attempt() -> Tenant:
        tenant = get_settings(caller)
        if tenant.stripe_account_id == account_id:
            return tenant  # a retried request connected it already
        updated = tenant.model_copy(
            update={"stripe_account_id": account_id, "stripe_status": status}
        )
        tx = Transaction()
        tx.put(store.tenant_item(updated), label="tenant", entity=updated)
        _transfer_ownership(tx, tenant, updated)
        tx.commit()
        return updated

    return retrying(attempt, ATTEMPTS, busy=SETTINGS_BUSY)


def _owner(kind: str, resource: str) -> str | None:
    owner = store.owner_of(kind, resource)
    if owner is None and kind == store.SMS_NUMBER:
        unclaimed = store.find_unclaimed_sms_owner(resource)
        owner = unclaimed.tenant_id if unclaimed else None
    return owner


def backfill_ownership(tenants: Iterable[Tenant]) -> list[str]:
    """Claim the number and Stripe account of each tenant saved before claims existed (the
    one-off admin command infra/backfill_ownership.py lists them). Safe to run again. Returns
    the conflicts found, two tenants holding one resource, for an admin to settle; neither is
    changed."""
    conflicts = []
    for tenant in tenants:
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
