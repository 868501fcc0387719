"""Online booking: the business's booking page, its free times, and a customer booking one.

A booking is written like any visit booked by the office: the customer (found by phone, or
new), the job (`scheduled`, `source: online_booking`), the visit assigned to a technician, its
timeline events and the technician's day, in one transaction through the scheduling service's
double-booking guard (`scheduling.queue_visits`: the day item under its version). Two customers
racing for the last slot: one transaction wins, the other re-reads, sees the slot gone, and is
told 409 `slot_taken` with the next free slots.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from chalicelib.domain import booking as rules
from chalicelib.domain import clock
from chalicelib.domain import jobs as job_rules
from chalicelib.domain import visits as visit_rules
from chalicelib.domain.booking import BookingSettings, Calendar, Request, Slot
from chalicelib.domain.callers import CUSTOMER, Caller
from chalicelib.domain.customers import Address, Customer
from chalicelib.domain.errors import Conflict, FieldlineError, NotFound, TooManyRequests
from chalicelib.domain.ids import new_id
from chalicelib.domain.phones import to_e164
from chalicelib.domain.pricebook import Item
from chalicelib.domain.tenants import Tenant
from chalicelib.domain.timefmt import local_window
from chalicelib.domain.users import Point
from chalicelib.domain.visits import Visit
from chalicelib.logs import logger
from chalicelib.services import customers, jobs, messaging, pricebook, scheduling, tenants
from chalicelib.services.common import retrying
from chalicelib.services.dispatch_board import all_technicians
from chalicelib.services.visit_links import visit_link
from chalicelib.store import booking as store
from chalicelib.store import customers as customer_store
from chalicelib.store import jobs as job_store
from chalicelib.store import visits as visit_store
from chalicelib.store.db import ConditionFailed, Transaction

ACTOR = "online_booking"
NEXT_SLOTS = 3
NEXT_SLOT_DAYS = 7  # how far ahead a refused booking looks for others
# Per booking page: bookings one IP, or one phone, may make in a window.
RATE_WINDOW_SECONDS = 3600
LIMITS = {"IP": 20, "PHONE": 5}


@dataclass
class Booked:
    job_id: str
    visit_id: str
    customer_id: str
    start: datetime
    end: datetime
    timezone: str
    visit_url: str


# --- the owner's settings ---------------------------------------------------------------------


def configure(caller: Caller, settings: dict[str, Any]) -> BookingSettings:
    """Turn online booking on or off; its slug is claimed in the same write (409 slug_taken)."""
    updated = tenants.update_settings(caller, {"booking": settings}, None)
    assert updated.booking is not None
    return updated.booking


def settings_of(caller: Caller) -> BookingSettings | None:
    return tenants.get_settings(caller).booking


# --- the public page --------------------------------------------------------------------------


def open_page(slug: str) -> tuple[Tenant, BookingSettings]:
    """The business behind a booking page; a page turned off looks like no page (404)."""
    tenant = store.tenant_by_slug(slug)
    if tenant is None or tenant.booking is None or not tenant.booking.enabled:
        raise NotFound("no booking page here")
    return tenant, tenant.booking


def tenant_of(path_params: dict[str, str]) -> str | None:
    """The business a booking route's slug names (its Idempotency-Key's scope)."""
    tenant = store.tenant_by_slug(path_params.get("slug") or "")
    return tenant.tenant_id if tenant else None


def bookable_services(tenant: Tenant) -> list[Item]:
    return pricebook.bookable_services(tenant.tenant_id)


def service(tenant: Tenant, service_id: str) -> Item:
    """A service the page offers; anything else (archived, not bookable) is 404."""
    try:
        item = pricebook.get_item(tenant.tenant_id, service_id)
    except NotFound:
        item = None
    if item is None or not item.bookable:
        raise NotFound("no such service to book")
    return item


def availability(slug: str, service_id: str, day: date) -> tuple[Tenant, list[Slot]]:
    tenant, settings = open_page(slug)
    item = service(tenant, service_id)
    return tenant, _slots(tenant, settings, item, day, None)


# --- booking ----------------------------------------------------------------------------------


def book(slug: str, fields: dict[str, Any], source_ip: str | None) -> Booked:
    """Book the slot starting at `fields["start"]` for the customer; see the module doc."""
    tenant, settings = open_page(slug)
    who = fields["customer"]
    phone = to_e164(who["phone"], tenant.country)
    _count(tenant, {"IP": source_ip, "PHONE": phone})
    item = service(tenant, fields["service_id"])
    address = Address.model_validate(who["address"])
    at = Point(lat=address.lat, lng=address.lng) if address.lat is not None else None
    rules.check_service_area(settings, address.postal_code, at)
    start = fields["start"]
    caller = Caller(tenant_id=tenant.tenant_id, user_id=ACTOR, role=CUSTOMER)

    def attempt() -> tuple[Customer, Visit]:
        day = rules.local_day_of(start, tenant.timezone)
        slot = next(
            (s for s in _slots(tenant, settings, item, day, at, True) if s.start == start), None
        )
        if slot is None:
            raise _slot_taken(tenant, settings, item, start, at)
        return _write(caller, tenant, item, slot, {**who, "phone": phone}, address, at)

    try:
        customer, visit = retrying(attempt, scheduling.MAX_ATTEMPTS, reraise=True)
    except ConditionFailed:
        raise _slot_taken(tenant, settings, item, start, at) from None
    except Conflict as clash:
        if clash.code != "double_booking":  # the guard saw a booking our read had not
            raise
        raise _slot_taken(tenant, settings, item, start, at) from None
    url = visit_link(tenant.tenant_id, visit.job_id, visit.visit_id, visit.end + timedelta(days=1))
    _confirm(tenant, customer, visit, url)
    return Booked(
        job_id=visit.job_id,
        visit_id=visit.visit_id,
        customer_id=customer.customer_id,
        start=rules.in_zone(visit.start, tenant.timezone),
        end=rules.in_zone(visit.end, tenant.timezone),
        timezone=tenant.timezone,
        visit_url=url,
    )


def _write(
    caller: Caller,
    tenant: Tenant,
    item: Item,
    slot: Slot,
    who: dict[str, Any],
    address: Address,
    at: Point | None,
) -> tuple[Customer, Visit]:
    """One transaction: the customer if new, the job, the visit on a technician's day."""
    tx = Transaction()
    customer = _customer(caller, tenant, who, address, tx)
    job, created = job_rules.new_lead(
        new_id(),
        customer.customer_id,
        item.name,
        ACTOR,
        currency=tenant.currency,
        source=rules.SOURCE,
        description=f"Booked online: {item.name} at {address.line1}, {address.postal_code}",
    )
    visit, visit_created = visit_rules.new_visit(
        visit_id=new_id(),
        job_id=job.job_id,
        window_start=slot.start,
        window_end=slot.end,
        duration_minutes=item.duration_minutes or 0,
        timezone=customer.timezone or tenant.timezone,
        actor=ACTOR,
        required_skills=item.required_skills,
        location=at,
    )
    assigned = visit_rules.assign(visit, slot.technician_ids[:1], None, ACTOR)
    scheduled = job_rules.advance(job, "scheduled", ACTOR)
    collection = job_store.load_collection(tenant.tenant_id, job.job_id)  # new: empty
    scheduling.queue_visits(tx, caller, tenant, [(None, visit)], collection)
    jobs.save(tx, caller, job, created, visit_created, *assigned, scheduled)
    tx.commit()
    return customer, visit


def _customer(
    caller: Caller, tenant: Tenant, who: dict[str, Any], address: Address, tx: Transaction
) -> Customer:
    """The tenant's customer with this phone, as the office keeps them; else a new one."""
    known = customer_store.find_by_phone(tenant.tenant_id, who["phone"], limit=1)
    if known:
        return known[0]
    fields = {"name": who["name"], "phone": who["phone"], "address": address.model_dump()}
    if who.get("email"):
        fields["email"] = who["email"]
    customer = customers.new_customer(fields, tenant.country)
    customers.add_to(tx, caller, customer)
    return customer


def _confirm(tenant: Tenant, customer: Customer, visit: Visit, url: str) -> None:
    """Sent once the booking is saved: a carrier's failure never undoes a booking."""
    window = local_window(visit.start, visit.end, visit.timezone)
    values = {"visit_window": window, "link": url}
    try:
        messaging.text_from_template(
            tenant, customer, visit.job_id, "booking_confirmed", values, ACTOR
        )
    except FieldlineError as exc:
        logger.warning("booking confirmation not sent", extra={"error": exc.message})


def _count(tenant: Tenant, subjects: dict[str, str | None]) -> None:
    """429 once an IP or a phone has booked too often on this page this window."""
    now = clock.now()
    for kind, subject in subjects.items():
        if not subject:
            continue
        seen = store.count_request(tenant.tenant_id, f"{kind}#{subject}", now, RATE_WINDOW_SECONDS)
        if seen > LIMITS[kind]:
            wait = RATE_WINDOW_SECONDS - int(now.timestamp()) % RATE_WINDOW_SECONDS
            raise TooManyRequests(
                "too many bookings; try again later", retry_after=wait, code="rate_limited"
            )


# --- the calendar -----------------------------------------------------------------------------


def _slots(
    tenant: Tenant,
    settings: BookingSettings,
    item: Item,
    day: date,
    at: Point | None,
    consistent: bool = False,
) -> list[Slot]:
    """The day's slots for the service, from its technicians' days as stored now."""
    caller = Caller(tenant_id=tenant.tenant_id, user_id=ACTOR, role=CUSTOMER)
    technicians = all_technicians(caller)
    wanted = [(tech.user_id, day.isoformat()) for tech in technicians]
    days = visit_store.tech_days(tenant.tenant_id, wanted, consistent=consistent)
    booked = {tech: tech_day.bookings for (tech, _), tech_day in days.items()}
    calendar = Calendar(
        timezone=tenant.timezone,
        now=clock.now(),
        lead_time_hours=settings.lead_time_hours,
        horizon_days=settings.horizon_days,
        buffer_minutes=tenant.travel_buffer_minutes,
        technicians=technicians,
        booked=booked,
        places=_places(tenant, booked) if at is not None else {},
    )
    request = Request(
        day=day,
        duration_minutes=item.duration_minutes or 0,
        required_skills=item.required_skills,
        at=at,
    )
    return rules.available_slots(request, calendar)


def _places(tenant: Tenant, booked: dict[str, list[visit_rules.Booking]]) -> dict[str, Point]:
    """Where the day's booked visits are (one batch read), for the drive between them."""
    wanted = sorted({(b.job_id, b.visit_id) for bookings in booked.values() for b in bookings})
    if not wanted:
        return {}
    visits, _ = visit_store.visits_and_jobs(tenant.tenant_id, wanted, [])
    return {v.visit_id: v.location for v in visits if v.location is not None}


def _slot_taken(
    tenant: Tenant, settings: BookingSettings, item: Item, start: datetime, at: Point | None
) -> Conflict:
    """409 slot_taken, offering the next free slots after the one asked for."""
    offered: list[Slot] = []
    first = rules.local_day_of(start, tenant.timezone)
    for days_ahead in range(NEXT_SLOT_DAYS):
        day = first + timedelta(days=days_ahead)
        offered += [s for s in _slots(tenant, settings, item, day, at) if s.start > start]
        if len(offered) >= NEXT_SLOTS:
            break
    next_slots = [
        {"start": rules.rfc3339(s.start), "end": rules.rfc3339(s.end)} for s in offered[:NEXT_SLOTS]
    ]
    return Conflict(
        "that time is no longer free",
        details=[{"next_slots": next_slots}],
        code="slot_taken",
    )
