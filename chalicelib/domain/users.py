"""People who log in: owners, office staff and technicians."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class Shift(BaseModel):
    days: list[str] = Field(default_factory=lambda: list(WEEKDAYS[:5]))
    start: str = "08:00"
    end: str = "17:00"


class Point(BaseModel):
    lat: float
    lng: float


class User(BaseModel):
    user_id: str
    role: str
    name: str
    phone: str | None = None
    email: str | None = None
    skills: list[str] = Field(default_factory=list)
    shift: Shift | None = None
    home: Point | None = None
    active: bool = True
    # A technician's cost to the business per hour (job costing), in the tenant's currency.
    cost_rate_cents: int | None = None
    # The user's Cognito username (deployed stages), set when they accepted an invitation.
    login: str | None = None
    # Epoch seconds: tokens issued before are refused (deactivation, a role change).
    tokens_valid_after: float | None = None
    created_at: datetime
    version: int | None = None
