"""A tenant is one contracting business; its settings drive money, time and texting."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, Field

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


def require_timezone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError) as exc:  # TypeError: a JSON null
        raise Invalid(f"unknown time zone '{name}'", code="invalid_timezone") from exc
    return name
