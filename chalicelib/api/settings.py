"""Tenant settings."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from chalicelib.api.http import Api, caller
from chalicelib.api.schemas import Out, Strict
from chalicelib.domain.callers import OWNER, STAFF
from chalicelib.domain.currencies import SUPPORTED
from chalicelib.domain.tenants import DunningStep, QuietHours
from chalicelib.services import tenants

api = Api(__name__, "settings")

HHMM = r"^([01]\d|2[0-3]):[0-5]\d$"


class QuietHoursIn(Strict):
    start: str = Field(pattern=HHMM)
    end: str = Field(pattern=HHMM)


class DunningStepIn(Strict):
    days_from_due: int = Field(ge=-60, le=365)
    channel: str = Field("sms", pattern="^(sms|email)$")


class SettingsPatch(Strict):
    name: str | None = Field(None, min_length=1, max_length=200)
    timezone: str | None = Field(None, max_length=64)
    currency: str | None = Field(
        None,
        pattern="^[A-Za-z]{3}$",
        description="ISO 4217 code of a currency Fieldline bills in: " + ", ".join(SUPPORTED),
    )
    locale: str | None = Field(
        None,
        max_length=35,
        description="How amounts read on texts and pages, as a CLDR locale: en_US, de_DE, fr_CA",
    )
    phone: str | None = Field(None, max_length=32)
    email: str | None = Field(None, max_length=254)
    logo_url: str | None = Field(None, max_length=500, pattern=r"^https://[^\s\"'<>]+$")
    tax_rate_bps: int | None = Field(None, ge=0, le=5000)
    travel_buffer_minutes: int | None = Field(None, ge=0, le=240)
    reminder_hours_before: int | None = Field(None, ge=1, le=168)
    quiet_hours: QuietHoursIn | None = None
    dunning_policy: list[DunningStepIn] | None = Field(None, max_length=12)
    twilio_from_number: str | None = Field(None, max_length=32)
    stripe_account_id: str | None = Field(None, pattern=r"^acct_[A-Za-z0-9]{1,64}$")


class SettingsOut(Out):
    tenant_id: str
    name: str
    timezone: str
    currency: str
    locale: str
    phone: str | None
    email: str | None
    logo_url: str | None = None
    tax_rate_bps: int
    travel_buffer_minutes: int
    reminder_hours_before: int
    quiet_hours: QuietHours
    dunning_policy: list[DunningStep]
    twilio_from_number: str | None
    stripe_account_id: str | None
    created_at: datetime
    version: int


@api.route("/settings", "GET", roles=STAFF, response=SettingsOut)
def get_settings():
    """The tenant's settings."""
    return tenants.get_settings(caller())


@api.route("/settings", "PATCH", roles=(OWNER,), body=SettingsPatch, response=SettingsOut)
def patch_settings(body: SettingsPatch, if_match: int | None = None):
    """Change the tenant's settings (owner only)."""
    return tenants.update_settings(caller(), body.model_dump(exclude_unset=True), if_match)
