"""A tenant is one contracting business; its settings drive money, time and texting."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, Field, field_validator

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
    reminder_hours_before: int = 24
    quiet_hours: QuietHours = Field(default_factory=QuietHours)
    dunning_policy: list[DunningStep] = Field(default_factory=lambda: list(DEFAULT_DUNNING))
    twilio_from_number: str | None = None
    stripe_account_id: str | None = None
    # Texts the tenant rewrote (chalicelib/domain/templates.py holds the defaults).
    templates: dict[str, str] = Field(default_factory=dict)
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
