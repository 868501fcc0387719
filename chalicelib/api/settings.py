"""Tenant settings, and the tenant's Stripe connected account (made by onboarding, never
typed in)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

from pydantic import Field, field_validator

from chalicelib.api.http import Api, caller
from chalicelib.api.schemas import Out, Patch, Strict
from chalicelib.config import get_settings as stage_settings
from chalicelib.domain.callers import OWNER, STAFF
from chalicelib.domain.currencies import SUPPORTED
from chalicelib.domain.tenants import QuietHours
from chalicelib.services import tenants

api = Api(__name__, "settings")

HHMM = r"^([01]\d|2[0-3]):[0-5]\d$"


class QuietHoursIn(Strict):
    start: str = Field(pattern=HHMM)
    end: str = Field(pattern=HHMM)


Channel = Literal["sms", "email"]


class DunningStepIn(Strict):
    days_from_due: int = Field(ge=-60, le=365)
    channel: Channel = "sms"


class DunningStepOut(Out):
    days_from_due: int = Field(description="Days after the due date (negative: before)")
    channel: Channel


RetryDay = Annotated[int, Field(ge=1, le=60)]


class SettingsPatch(Patch):
    """Only the contact details, the logo, the texting number and the Stripe account can be
    cleared (null); every other setting always has a value."""

    name: str = Field(None, min_length=1, max_length=200)
    timezone: str = Field(None, max_length=64, description="IANA time zone, e.g. America/Chicago")
    currency: str = Field(
        None,
        pattern="^[A-Za-z]{3}$",
        description="ISO 4217 code of a currency Fieldline bills in: " + ", ".join(SUPPORTED),
    )
    locale: str = Field(
        None,
        max_length=35,
        description="How amounts read on texts and pages, as a CLDR locale: en_US, de_DE, fr_CA",
    )
    phone: str | None = Field(None, max_length=32)
    email: str | None = Field(None, max_length=254)
    logo_url: str | None = Field(None, max_length=500, pattern=r"^https://[^\s\"'<>]+$")
    tax_rate_bps: int = Field(None, ge=0, le=5000)
    travel_buffer_minutes: int = Field(None, ge=0, le=240)
    replan_notice_minutes: int = Field(
        None, ge=0, le=24 * 60, description="A re-plan texts customers moved by more than this"
    )
    reminder_hours_before: int = Field(None, ge=1, le=168)
    quiet_hours: QuietHoursIn = None
    dunning_policy: list[DunningStepIn] = Field(None, max_length=12, description="[] for none")
    plan_retry_days: list[RetryDay] = Field(
        None,
        max_length=10,
        description="Service plans' autopay: days after a failed billing date to charge again, "
        "increasing; after the last failure the plan is paused ([] pauses at once)",
    )
    twilio_from_number: str | None = Field(None, max_length=32)

    @field_validator("plan_retry_days")
    @classmethod
    def _increasing(cls, days: list[int]) -> list[int]:
        if any(later <= earlier for earlier, later in zip(days, days[1:], strict=False)):
            raise ValueError("retry days increase: e.g. [1, 3, 7]")
        return days


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
    replan_notice_minutes: int = 30
    reminder_hours_before: int
    quiet_hours: QuietHours
    dunning_policy: list[DunningStepOut]
    plan_retry_days: list[int] = Field(description="Service plans' autopay retries (days)")
    twilio_from_number: str | None
    stripe_account_id: str | None = Field(
        description="Read only: made by POST /settings/stripe/onboarding"
    )
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


# --- Stripe ---------------------------------------------------------------------------------

# Where Stripe sends the owner back: their own app's page. http only for a local address.
RETURN_URL = r"^(https://[^\s\"'<>]+|http://(127\.0\.0\.1|localhost)(:\d+)?(/[^\s\"'<>]*)?)$"


class OnboardingIn(Strict):
    return_url: str = Field(
        max_length=500,
        pattern=RETURN_URL,
        description="Where Stripe sends the owner when they leave onboarding, finished or not",
    )
    refresh_url: str | None = Field(
        None,
        max_length=500,
        pattern=RETURN_URL,
        description="Where Stripe sends the owner if the link expired or was used (it should "
        "call this route again); default: return_url",
    )


class OnboardingOut(Out):
    url: str = Field(description="Stripe's onboarding page; single use, expires in minutes")
    expires_at: datetime


class StripeAccountOut(Out):
    account_id: str | None
    account_type: str | None = Field(description="standard: the business's own Stripe account")
    card_payments: bool = Field(description="Pay pages take cards (Stripe enabled charges)")
    charges_enabled: bool
    payouts_enabled: bool
    details_submitted: bool
    currently_due: list[str] = Field(description="What Stripe needs now, as Stripe names it")
    past_due: list[str] = Field(description="What Stripe needed by a deadline that passed")
    eventually_due: list[str]
    disabled_reason: str | None
    deauthorized: bool = Field(description="The business disconnected Fieldline: onboard again")
    as_of: datetime | None = Field(description="When Stripe said so (null: never)")
    application_fee_bps: int = Field(description="Fieldline's fee on each card payment")


@api.route("/settings/stripe", "GET", roles=STAFF, response=StripeAccountOut)
def get_stripe_account():
    """The business's Stripe account: whether it takes card payments and receives payouts,
    and what Stripe still requires."""
    tenant = tenants.stripe_account(caller())
    status = tenant.stripe_status
    return StripeAccountOut(
        account_id=tenant.stripe_account_id,
        account_type="standard" if tenant.stripe_account_id else None,
        card_payments=tenant.takes_cards,
        **status.model_dump(exclude={"as_of"}),
        as_of=datetime.fromtimestamp(status.as_of, UTC) if status.as_of else None,
        application_fee_bps=stage_settings().application_fee_bps,
    )


@api.route(
    "/settings/stripe/onboarding",
    "POST",
    roles=(OWNER,),
    body=OnboardingIn,
    response=OnboardingOut,
)
def start_stripe_onboarding(body: OnboardingIn):
    """Stripe's onboarding for the business (owner only): its Stripe account is made the
    first time; send the owner to `url`."""
    link = tenants.start_onboarding(caller(), body.return_url, body.refresh_url or body.return_url)
    return OnboardingOut(url=link.url, expires_at=datetime.fromtimestamp(link.expires_at, UTC))
