"""A tenant is one contracting business; its settings drive money, time and texting."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, Field, field_validator

from chalicelib.domain.booking import BookingSettings
from chalicelib.domain.currencies import DEFAULT_LOCALE, require_currency
from chalicelib.domain.errors import Invalid

ROLES = ("owner", "office", "technician")


class QuietHours(BaseModel):
    start: str = "21:00"
    end: str = "08:00"


class DunningStep(BaseModel):
    days_from_due: int
    channel: str = "sms"


DEFAULT_DUNNING = [DunningStep(days_from_due=d) for d in (-3, 0, 3, 7, 14, 30)]


class StripeStatus(BaseModel):
    """What Stripe last said about the tenant's connected account (its `account` object, from
    `account.updated` or a read), and as of when: an older word never replaces a newer one."""

    charges_enabled: bool = False
    payouts_enabled: bool = False
    details_submitted: bool = False
    # Fields Stripe needs now (currently_due), is late for (past_due: the account is disabled),
    # and will need as volume grows (eventually_due); names as Stripe gives them.
    currently_due: list[str] = Field(default_factory=list)
    past_due: list[str] = Field(default_factory=list)
    eventually_due: list[str] = Field(default_factory=list)
    disabled_reason: str | None = None
    # The business took the platform's access away (a Standard account can): nothing more can
    # be charged on it; onboarding again makes a new account.
    deauthorized: bool = False
    # Stripe's time of this state (epoch seconds): an event's `created`, or when it was read.
    as_of: int = 0

    @classmethod
    def from_account(cls, account: dict, as_of: int) -> StripeStatus:
        requirements = account.get("requirements") or {}
        return cls(
            charges_enabled=bool(account.get("charges_enabled")),
            payouts_enabled=bool(account.get("payouts_enabled")),
            details_submitted=bool(account.get("details_submitted")),
            currently_due=list(requirements.get("currently_due") or []),
            past_due=list(requirements.get("past_due") or []),
            eventually_due=list(requirements.get("eventually_due") or []),
            disabled_reason=requirements.get("disabled_reason"),
            as_of=as_of,
        )

    def replaced_by(self, newer: StripeStatus) -> bool:
        """Whether `newer` should replace this state: later, and saying something else."""
        return newer.as_of >= self.as_of and newer.model_dump(exclude={"as_of"}) != (
            self.model_dump(exclude={"as_of"})
        )


# The platform's fee on a card payment, in basis points of its amount: at most 10 %.
MAX_APPLICATION_FEE_BPS = 1000


def application_fee_cents(amount_cents: int, fee_bps: int) -> int:
    """The platform's share of a payment, rounded down to the minor unit (never more than the
    rate, never the whole payment)."""
    if not 0 <= fee_bps <= MAX_APPLICATION_FEE_BPS:
        raise ValueError(f"an application fee of {fee_bps} bps is outside 0-1000")
    return amount_cents * fee_bps // 10_000


class Tenant(BaseModel):
    tenant_id: str
    name: str
    timezone: str = "America/New_York"
    currency: str = "USD"
    country: str = "US"
    # How money (and, later, dates) read on the customer's texts and pages: a CLDR locale.
    locale: str = DEFAULT_LOCALE
    phone: str | None = None
    email: str | None = None
    # Shown on the customer's quote and invoice pages (https only).
    logo_url: str | None = None
    tax_rate_bps: int = 0
    travel_buffer_minutes: int = 15
    # A re-plan texts the customers whose visit moves by more than this many minutes.
    replan_notice_minutes: int = 30
    reminder_hours_before: int = 24
    quiet_hours: QuietHours = Field(default_factory=QuietHours)
    dunning_policy: list[DunningStep] = Field(default_factory=lambda: list(DEFAULT_DUNNING))
    twilio_from_number: str | None = None
    # The tenant's Stripe connected account: made by `POST /settings/stripe/onboarding`, never
    # typed in; card payments are charged on it (direct charges) once Stripe enables charges.
    stripe_account_id: str | None = None
    stripe_status: StripeStatus = Field(default_factory=StripeStatus)
    # Texts the tenant rewrote (chalicelib/domain/templates.py holds the defaults).
    templates: dict[str, str] = Field(default_factory=dict)
    # Service plans: days after a failed autopay billing date to charge again; then paused.
    plan_retry_days: list[int] = Field(default_factory=lambda: [1, 3, 7])
    # Online booking (PUT /settings/booking): its page's slug is claimed like a texting number.
    booking: BookingSettings | None = None
    created_at: datetime
    version: int | None = None

    # Checked on the model, so creating a tenant, changing its settings and reading it back all
    # refuse a currency or locale the app cannot bill or write in (a 422, never a 500 later).
    @field_validator("currency", mode="before")
    @classmethod
    def _currency(cls, value: object) -> str:
        return require_currency(value)

    @field_validator("locale", mode="before")
    @classmethod
    def _locale(cls, value: object) -> str:
        return require_locale(value)

    @property
    def booking_slug(self) -> str | None:
        return self.booking.slug if self.booking else None

    @property
    def takes_cards(self) -> bool:
        """Card payments go to the tenant's own account, and only once Stripe allows charges
        on it: never into the platform's balance."""
        return bool(self.stripe_account_id) and self.stripe_status.charges_enabled


def require_timezone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError) as exc:  # TypeError: a JSON null
        raise Invalid(f"unknown time zone '{name}'", code="invalid_timezone") from exc
    return name


def require_locale(name: object) -> str:
    """A locale Babel has data for, in its canonical spelling: "de-de" is de_DE."""
    from babel import Locale, UnknownLocaleError, localedata

    wanted = name.replace("-", "_") if isinstance(name, str) else ""
    try:
        canonical = str(Locale.parse(wanted))
    except (UnknownLocaleError, ValueError, TypeError):
        canonical = ""
    # Locale.parse guesses: "en_ZZ" comes back as en_US. Only an exact match is the tenant's.
    if not canonical or canonical.lower() != wanted.lower() or not localedata.exists(canonical):
        raise Invalid(f"unknown locale '{name}'", code="invalid_locale")
    return canonical
