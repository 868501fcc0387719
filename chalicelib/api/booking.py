"""Online booking: the owner's settings, and the public routes of a business's booking page
(its services, their free times, booking one). Times of slots are RFC 3339 with the
business's offset (the customer reads and sends back wall-clock times), not UTC."""

from __future__ import annotations

from datetime import datetime

from pydantic import AwareDatetime, Field, model_validator

from chalicelib.api.customers import AddressIn
from chalicelib.api.http import Api, caller, source_ip
from chalicelib.api.schemas import Out, PointIn, Strict
from chalicelib.domain import booking as rules
from chalicelib.domain.callers import OWNER, STAFF
from chalicelib.domain.errors import NotFound
from chalicelib.services import booking

api = Api(__name__, "online booking")

RFC3339 = "RFC 3339 with the business's offset, e.g. 2030-03-10T09:00:00-05:00"


class ServiceAreaIn(Strict):
    """Either `postal_codes`, or `center` and `radius_km`."""

    postal_codes: list[str] | None = Field(None, min_length=1, max_length=500)
    center: PointIn | None = None
    radius_km: float | None = Field(None, ge=0.1, le=500)

    @model_validator(mode="after")
    def _one_kind(self) -> ServiceAreaIn:
        if (self.postal_codes is None) == (self.center is None or self.radius_km is None):
            raise ValueError("give postal_codes, or center and radius_km")
        return self


class BookingSettingsIn(Strict):
    enabled: bool
    slug: str = Field(
        pattern=rules.SLUG_PATTERN,
        description="The page's address, /p/book/{slug}: 3-50 of a-z, 0-9 and -; unique",
    )
    lead_time_hours: int = Field(24, ge=0, le=720, description="No slot starts sooner")
    horizon_days: int = Field(30, ge=1, le=365, description="No slot starts later")
    service_area: ServiceAreaIn


class PointOut(Out):
    lat: float
    lng: float


class ServiceAreaOut(Out):
    postal_codes: list[str] | None
    center: PointOut | None
    radius_km: float | None


class BookingSettingsOut(Out):
    enabled: bool
    slug: str
    lead_time_hours: int
    horizon_days: int
    service_area: ServiceAreaOut


@api.route(
    "/settings/booking",
    "PUT",
    roles=(OWNER,),
    body=BookingSettingsIn,
    response=BookingSettingsOut,
)
def put_booking_settings(body: BookingSettingsIn):
    """Online booking on or off, its page's slug (409 slug_taken), lead time, horizon and
    service area (owner only)."""
    return booking.configure(caller(), body.model_dump())


@api.route("/settings/booking", "GET", roles=STAFF, response=BookingSettingsOut)
def get_booking_settings():
    """The business's online booking settings (404 until they are set)."""
    settings = booking.settings_of(caller())
    if settings is None:
        raise NotFound("online booking is not set up")
    return settings


# --- public ----------------------------------------------------------------------------------


class ServiceOut(Out):
    id: str = Field(validation_alias="item_id")
    name: str
    duration_minutes: int
    price_cents: int = Field(validation_alias="unit_price_cents")


class BookingPageOut(Out):
    business_name: str
    timezone: str
    currency: str
    services: list[ServiceOut]


class SlotOut(Out):
    start: str = Field(description=RFC3339)
    end: str = Field(description=RFC3339)


class AvailabilityOut(Out):
    slots: list[SlotOut]


class AvailabilityQuery(Strict):
    service_id: str = Field(min_length=1, max_length=64)
    date: str = Field(pattern=r"^\d{4}-\d{2}-\d{2}$", description="The business's local day")


class BookingCustomerIn(Strict):
    name: str = Field(min_length=1, max_length=200)
    phone: str = Field(min_length=3, max_length=32)
    email: str | None = Field(None, max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    address: AddressIn


class BookingIn(Strict):
    service_id: str = Field(min_length=1, max_length=64)
    start: AwareDatetime = Field(description="A slot's `start`, as availability gave it")
    customer: BookingCustomerIn


class BookedOut(Out):
    job_id: str
    visit_id: str
    customer_id: str
    start: str = Field(description=RFC3339)
    end: str = Field(description=RFC3339)
    timezone: str
    visit_url: str = Field(description="The customer's page for the visit (also texted)")


@api.route("/public/booking/{slug}", "GET", roles=None, response=BookingPageOut)
def booking_page(slug: str):
    """A business's booking page: its name, time zone and the services customers may book."""
    tenant, _ = booking.open_page(slug)
    return BookingPageOut(
        business_name=tenant.name,
        timezone=tenant.timezone,
        currency=tenant.currency,
        services=[ServiceOut.model_validate(s) for s in booking.bookable_services(tenant)],
    )


@api.route(
    "/public/booking/{slug}/availability",
    "GET",
    roles=None,
    query=AvailabilityQuery,
    response=AvailabilityOut,
)
def booking_availability(slug: str, query: AvailabilityQuery):
    """The free start times of a service on one local day."""
    day = rules.parse_day(query.date)
    _, slots = booking.availability(slug, query.service_id, day)
    return AvailabilityOut(slots=[_slot(s.start, s.end) for s in slots])


@api.route(
    "/public/booking/{slug}",
    "POST",
    roles=None,
    body=BookingIn,
    response=BookedOut,
    status=201,
    tenant_of=booking.tenant_of,
)
def book(slug: str, body: BookingIn):
    """Book a slot: 201 with the visit; 409 slot_taken (with the next free slots), 422
    outside_service_area, 429 rate_limited."""
    booked = booking.book(slug, body.model_dump(), source_ip())
    return BookedOut(
        job_id=booked.job_id,
        visit_id=booked.visit_id,
        customer_id=booked.customer_id,
        start=rules.rfc3339(booked.start),
        end=rules.rfc3339(booked.end),
        timezone=booked.timezone,
        visit_url=booked.visit_url,
    )


def _slot(start: datetime, end: datetime) -> SlotOut:
    return SlotOut(start=rules.rfc3339(start), end=rules.rfc3339(end))
