"""Local-stage helpers: make a tenant, mint a token, read the outbox. Registered only locally."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from chalicelib.api.http import Api
from chalicelib.api.schemas import Strict
from chalicelib.domain.callers import Caller
from chalicelib.domain.phones import to_e164
from chalicelib.integrations import tokens
from chalicelib.integrations.sms import OUTBOX
from chalicelib.services import tenants

api = Api(__name__, "local stage")


class TenantIn(Strict):
    name: str = Field(min_length=1, max_length=200)
    timezone: str = "America/New_York"
    currency: str = Field("USD", pattern="^[A-Za-z]{3}$")
    stripe: Literal["enabled", "none"] = Field(
        "enabled",
        description="enabled: a Stripe test account that finished onboarding (cards at once); "
        "none: no account yet (POST /settings/stripe/onboarding makes one)",
    )


class TenantCreated(BaseModel):
    tenant_id: str
    owner_id: str
    owner_token: str


class TokenIn(Strict):
    tenant_id: str = Field(min_length=1, max_length=64)
    role: Literal["owner", "office", "technician"]
    user_id: str | None = Field(None, min_length=1, max_length=64)


class TokenOut(BaseModel):
    token: str


class OutboxQuery(Strict):
    to: str | None = Field(None, max_length=32)


class OutboxItem(BaseModel):
    id: str
    channel: str
    to: str
    from_: str = Field(serialization_alias="from")
    body: str
    subject: str | None = None
    sent_at: str


class OutboxOut(BaseModel):
    items: list[OutboxItem]


@api.route("/dev/tenants", "POST", roles=None, body=TenantIn, response=TenantCreated, status=201)
def create_tenant(body: TenantIn):
    """Create a tenant and its owner, and return an owner token (local stage only). The
    tenant's Stripe test account has finished onboarding unless `stripe` is "none"."""
    tenant, owner = tenants.create_tenant(body.name, body.timezone, body.currency)
    if body.stripe == "enabled":
        tenants.connect_test_account(Caller(tenant.tenant_id, owner.user_id, owner.role))
    token = tokens.issue_local_token(tenant.tenant_id, owner.user_id, owner.role)
    return TenantCreated(tenant_id=tenant.tenant_id, owner_id=owner.user_id, owner_token=token)


@api.route("/dev/tokens", "POST", roles=None, body=TokenIn, response=TokenOut, status=201)
def create_token(body: TokenIn):
    """Mint a token for a user of an existing tenant (local stage only)."""
    owner = Caller(tenant_id=body.tenant_id, user_id="dev", role="owner")
    tenants.get_settings(owner)  # 404 for a tenant that does not exist
    user_id = body.user_id or f"{body.role}-user"
    return TokenOut(token=tokens.issue_local_token(body.tenant_id, user_id, body.role))


@api.route("/dev/outbox", "GET", roles=None, query=OutboxQuery, response=OutboxOut)
def read_outbox(query: OutboxQuery):
    """What the local stage 'sent' (texts and emails), newest first."""
    to = to_e164(query.to) if query.to else None
    return OutboxOut(items=OUTBOX.read(to))
