"""Customers (homeowners, businesses) the contractor works for."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel


class Address(BaseModel):
    line1: str
    line2: str | None = None
    city: str
    region: str
    postal_code: str
    country: str = "US"
    lat: float | None = None
    lng: float | None = None


class Customer(BaseModel):
    customer_id: str
    name: str
    phone: str
    email: str | None = None
    address: Address | None = None
    timezone: str | None = None
    sms_opted_out: bool = False
    created_at: datetime
    version: int | None = None

    @property
    def first_name(self) -> str:
        return self.name.split()[0] if self.name.split() else self.name


class SmsOptOut(BaseModel):
    """A phone's choice about texts from one sender number, as the carrier enforces it.

    Twilio blocks a (sender, phone) pair once the phone texts STOP to that sender (error 21610
    on every later send) until it texts START. The shared default sender texts for every tenant
    without its own number, so this choice is the sender's, not any one tenant's.
    """

    sender: str
    phone: str
    opted_out: bool
    source: str  # "keyword": STOP/START texted to us; "carrier": Twilio refused with 21610
    at: datetime
