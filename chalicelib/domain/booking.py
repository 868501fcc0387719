"""Online booking: where a business takes bookings, and the times a customer may book.

A slot is offered only when a technician could really take it: one with the service's skills,
on shift for the whole visit, and free of their other bookings that day by the same travel
buffer the double-booking guard keeps (`domain/visits.find_clash`) — or by the estimated drive
from a neighbouring visit when both places are known (`domain/geo.eta_minutes`, no routing
service per slot). Nothing starts inside the lead time or after the horizon.

Slots sit on a grid of wall-clock times in the business's zone (9:00, 9:30, ...), built from
the local date, so a DST day has its real number of hours and every slot its real offset.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from pydantic import BaseModel, Field, model_validator

from chalicelib.domain.errors import Invalid
from chalicelib.domain.geo import eta_minutes, haversine_km
from chalicelib.domain.users import Point, User
from chalicelib.domain.visits import Booking, within_shift

GRID_MINUTES = 30
SLUG_PATTERN = r"^[a-z0-9](?:[a-z0-9-]{1,48}[a-z0-9])$"
SOURCE = "online_booking"  # the job's `source`: the board shows it as booked online


class ServiceArea(BaseModel):
    """Where the business goes: a list of postal codes, or a circle around a point."""

    postal_codes: list[str] | None = None
    center: Point | None = None
    radius_km: float | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> ServiceArea:
        by_codes = self.postal_codes is not None
        by_circle = self.center is not None and self.radius_km is not None
        if by_codes == by_circle:
            raise ValueError("a service area is postal_codes, or center and radius_km")
        if by_codes:
            self.postal_codes = sorted({_postal(code) for code in self.postal_codes or []})
        return self

    def refusal(self, postal_code: str, at: Point | None) -> str | None:
        """Why an address is outside the area, or None when the business goes there."""
        if self.postal_codes is not None:
            return None if _postal(postal_code) in self.postal_codes else "postal_code"
        if at is None:
            return "no_coordinates"  # a circle can only be checked against a point (no geocoder)
        assert self.center is not None and self.radius_km is not None
        return None if haversine_km(self.center, at) <= self.radius_km else "too_far"


def _postal(code: str) -> str:
    return " ".join(code.upper().split())


class BookingSettings(BaseModel):
    enabled: bool = False
    slug: str
    lead_time_hours: int = Field(24, ge=0, le=24 * 30)
    horizon_days: int = Field(30, ge=1, le=365)
    service_area: ServiceArea


def check_service_area(settings: BookingSettings, postal_code: str, at: Point | None) -> None:
    reason = settings.service_area.refusal(postal_code, at)
    if reason is not None:
        raise Invalid(
            "the business does not take bookings at this address",
            details=[{"field": "customer.address", "message": reason}],
            code="outside_service_area",
        )


# --- slots ------------------------------------------------------------------------------------


@dataclass
class Slot:
    start: datetime  # in the business's zone: written with its offset
    end: datetime
    technician_ids: list[str] = field(default_factory=list)  # who could take it, least busy first


@dataclass
class Request:
    """What is asked: a service's length and skills on one local day, maybe at a known place."""

    day: date
    duration_minutes: int
    required_skills: list[str]
    at: Point | None = None


@dataclass
class Calendar:
    """What the slots are checked against: the business's rules, its technicians and what each
    has booked on the day (their `TechDay`), with the places of those visits when known."""

    timezone: str
    now: datetime
    lead_time_hours: int
    horizon_days: int
    buffer_minutes: int
    technicians: list[User]
    booked: dict[str, list[Booking]] = field(default_factory=dict)
    places: dict[str, Point] = field(default_factory=dict)  # visit id → its location


def available_slots(request: Request, calendar: Calendar) -> list[Slot]:
    """Every grid time of the day at which some technician can take the visit."""
    able = [t for t in calendar.technicians if _can_do(t, request.required_skills)]
    # Each booked visit, widened by the travel kept around it, is computed once for the day
    # (the drive estimate does not depend on the grid time).
    blocked = {t.user_id: _blocked(calendar, t.user_id, request.at) for t in able}
    zone = ZoneInfo(calendar.timezone)
    slots = []
    for local_start in _grid(request.day, zone):
        # Arithmetic in UTC: a zoned datetime plus a timedelta moves the wall clock, which
        # across a DST change is an hour off the real elapsed time.
        start = local_start.astimezone(UTC)
        end = start + timedelta(minutes=request.duration_minutes)
        if not _bookable_time(start, calendar):
            continue
        free = [t for t in able if _free(t, start, end, blocked[t.user_id], calendar.timezone)]
        if free:
            free.sort(key=lambda t: (len(blocked[t.user_id]), t.user_id))
            slots.append(Slot(local_start, end.astimezone(zone), [t.user_id for t in free]))
    return slots


def _grid(day: date, zone: ZoneInfo) -> list[datetime]:
    """The day's wall-clock times every GRID_MINUTES that exist there (a spring-forward day
    skips 2:00-2:59), each as an aware local time."""
    times = []
    for minutes in range(0, 24 * 60, GRID_MINUTES):
        wall = datetime.combine(day, time(minutes // 60, minutes % 60))
        local = wall.replace(tzinfo=zone)
        if local.astimezone(UTC).astimezone(zone).replace(tzinfo=None) == wall:
            times.append(local)
    return times


def _bookable_time(start: datetime, calendar: Calendar) -> bool:
    now = calendar.now.astimezone(UTC)
    earliest = now + timedelta(hours=calendar.lead_time_hours)
    latest = now + timedelta(days=calendar.horizon_days)
    return earliest <= start <= latest


def _can_do(tech: User, skills: list[str]) -> bool:
    # A technician without a shift has no hours to offer online.
    return tech.active and tech.shift is not None and set(skills) <= set(tech.skills)


def _blocked(
    cal: Calendar, technician_id: str, at: Point | None
) -> list[tuple[datetime, datetime]]:
    """The technician's booked visits, each widened by the travel kept around it."""
    widened = []
    for booked in cal.booked.get(technician_id, []):
        gap = timedelta(minutes=_travel(cal.places.get(booked.visit_id), at, cal.buffer_minutes))
        widened.append((booked.start - gap, booked.end + gap))
    return widened


def _free(
    tech: User, start: datetime, end: datetime, blocked: list[tuple[datetime, datetime]], zone: str
) -> bool:
    assert tech.shift is not None
    if not within_shift(tech.shift, start, end, zone):
        return False
    # As visits.overlaps: clear of each booked visit by the travel kept between them.
    return all(end <= low or high <= start for low, high in blocked)


def _travel(there: Point | None, here: Point | None, buffer_minutes: int) -> int:
    """Minutes kept between two visits: the buffer, or the estimated drive when longer."""
    if there is None or here is None:
        return buffer_minutes
    return max(buffer_minutes, eta_minutes(there, here))


def parse_day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise Invalid(
            "date is YYYY-MM-DD",
            details=[{"field": "date", "message": "a calendar date, YYYY-MM-DD"}],
        ) from exc


def local_day_of(start: datetime, timezone: str) -> date:
    return start.astimezone(ZoneInfo(timezone)).date()


def in_zone(moment: datetime, timezone: str) -> datetime:
    return moment.astimezone(ZoneInfo(timezone))


def rfc3339(moment: datetime) -> str:
    """A slot's time as the customer reads it: the business's wall clock and its offset."""
    return moment.isoformat(timespec="seconds")
