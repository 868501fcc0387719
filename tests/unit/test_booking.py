"""The times online booking offers: real availability, on the business's wall clock."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from chalicelib.domain.booking import (
    BookingSettings,
    Calendar,
    Request,
    ServiceArea,
    available_slots,
    check_service_area,
    rfc3339,
)
from chalicelib.domain.errors import Invalid
from chalicelib.domain.users import Point, Shift, User
from chalicelib.domain.visits import Booking

CHICAGO = "America/Chicago"
ZONE = ZoneInfo(CHICAGO)
MONDAY = date(2030, 6, 3)
# Long before the day: lead time and horizon out of the way unless a test says otherwise.
LONG_BEFORE = datetime(2030, 1, 2, 12, tzinfo=UTC)
OFFICE = Point(lat=41.8868, lng=-87.6597)  # Chicago's West Loop
ROCKFORD = Point(lat=42.2711, lng=-89.0940)  # about 130 km away


def tech(user_id="sam", skills=("plumbing",), shift=("09:00", "12:00"), days=None, active=True):
    return User(
        user_id=user_id,
        role="technician",
        name=user_id.title(),
        skills=list(skills),
        shift=Shift(days=days or ["mon", "tue", "wed", "thu", "fri"], start=shift[0], end=shift[1])
        if shift
        else None,
        active=active,
        created_at=LONG_BEFORE,
    )


def calendar(technicians, booked=None, now=LONG_BEFORE, lead=0, horizon=365, places=None):
    return Calendar(
        timezone=CHICAGO,
        now=now,
        lead_time_hours=lead,
        horizon_days=horizon,
        buffer_minutes=15,
        technicians=technicians,
        booked=booked or {},
        places=places or {},
    )


def booked_at(hhmm_start: str, hhmm_end: str, day=MONDAY, visit_id="v1") -> Booking:
    def at(hhmm):
        h, m = map(int, hhmm.split(":"))
        return datetime(day.year, day.month, day.day, h, m, tzinfo=ZONE)

    return Booking(visit_id=visit_id, job_id="j1", start=at(hhmm_start), end=at(hhmm_end))


def starts(slots) -> list[str]:
    return [s.start.strftime("%H:%M") for s in slots]


def ask(day=MONDAY, minutes=60, skills=("plumbing",), at=None) -> Request:
    return Request(day=day, duration_minutes=minutes, required_skills=list(skills), at=at)


def test_slots_fill_the_shift_on_a_half_hour_grid_and_end_inside_it():
    slots = available_slots(ask(), calendar([tech()]))
    assert starts(slots) == ["09:00", "09:30", "10:00", "10:30", "11:00"]
    assert rfc3339(slots[0].start) == "2030-06-03T09:00:00-05:00"
    assert rfc3339(slots[-1].end) == "2030-06-03T12:00:00-05:00"


def test_no_slot_on_a_day_off_or_for_a_technician_without_a_shift():
    saturday = MONDAY + timedelta(days=5)
    assert available_slots(ask(day=saturday), calendar([tech()])) == []
    assert available_slots(ask(), calendar([tech(shift=None)])) == []


def test_a_booked_visit_and_the_travel_buffer_around_it_are_not_offered():
    # Sam is booked 10:00-10:30; with a 15-minute buffer a 60-minute visit can neither end
    # after 9:45 nor start before 10:45
    slots = available_slots(ask(), calendar([tech()], {"sam": [booked_at("10:00", "10:30")]}))
    assert starts(slots) == ["11:00"]


def test_the_estimated_drive_from_a_far_visit_replaces_the_buffer_when_longer():
    # Sam is booked 9:00-9:30 in Rockford; a customer downtown cannot be reached by 10:00
    booked = {"sam": [booked_at("09:00", "09:30")]}
    far = calendar([tech()], booked, places={"v1": ROCKFORD})
    assert starts(available_slots(ask(at=OFFICE), far)) == []
    # Without the customer's place, only the buffer is known
    assert starts(available_slots(ask(), far)) == ["10:00", "10:30", "11:00"]
    near = calendar([tech()], booked, places={"v1": OFFICE})
    assert starts(available_slots(ask(at=OFFICE), near)) == ["10:00", "10:30", "11:00"]


def test_only_technicians_with_every_required_skill_and_active_are_offered():
    team = [
        tech("ana", skills=["hvac"]),
        tech("bo", skills=["plumbing", "gas"], shift=("13:00", "15:00")),
        tech("cy", skills=["plumbing", "gas"], active=False),
    ]
    slots = available_slots(ask(skills=["plumbing", "gas"]), calendar(team))
    assert starts(slots) == ["13:00", "13:30", "14:00"]
    assert {t for s in slots for t in s.technician_ids} == {"bo"}


def test_a_slot_lists_free_technicians_least_busy_first():
    team = [tech("ana"), tech("bo")]
    busy = {"ana": [booked_at("11:15", "11:45", visit_id="x")]}
    first = available_slots(ask(), calendar(team, busy))[0]
    assert first.technician_ids == ["bo", "ana"]


def test_nothing_inside_the_lead_time():
    # Monday 8:00 in Chicago, 2 hours' lead time: 10:00 is the first start
    now = datetime(2030, 6, 3, 8, tzinfo=ZONE)
    slots = available_slots(ask(), calendar([tech()], now=now, lead=2))
    assert starts(slots) == ["10:00", "10:30", "11:00"]


def test_nothing_past_the_horizon():
    now = datetime(2030, 6, 1, 10, 30, tzinfo=ZONE)  # Saturday 10:30
    assert starts(available_slots(ask(), calendar([tech()], now=now, horizon=2))) == [
        "09:00",
        "09:30",
        "10:00",
        "10:30",
    ]
    assert available_slots(ask(), calendar([tech()], now=now, horizon=1)) == []


def test_spring_forward_day_skips_the_missing_hour_and_slots_carry_the_new_offset():
    # 2030-03-10: Chicago jumps from 2:00 CST to 3:00 CDT; a technician on from 00:00 to 06:00
    sunday = date(2030, 3, 10)
    night = tech(shift=("00:00", "06:00"), days=["sun"])
    slots = available_slots(ask(day=sunday, minutes=30), calendar([night]))
    assert starts(slots) == [
        "00:00",
        "00:30",
        "01:00",
        "01:30",
        "03:00",
        "03:30",
        "04:00",
        "04:30",
        "05:00",
        "05:30",
    ]
    assert rfc3339(slots[3].start) == "2030-03-10T01:30:00-06:00"
    assert rfc3339(slots[3].end) == "2030-03-10T03:00:00-05:00"  # 30 real minutes later
    assert rfc3339(slots[4].start) == "2030-03-10T03:00:00-05:00"


def test_a_business_day_after_the_change_keeps_its_wall_clock_hours():
    day_before, day_after = date(2030, 3, 8), date(2030, 3, 11)
    before = available_slots(ask(day=day_before), calendar([tech()]))
    after = available_slots(ask(day=day_after), calendar([tech()]))
    assert starts(before) == starts(after)
    assert before[0].start.astimezone(UTC).hour == 15 and after[0].start.astimezone(UTC).hour == 14


def test_service_area_by_postal_code_or_by_distance():
    settings = BookingSettings(
        slug="acme", service_area=ServiceArea(postal_codes=["60607", " 60608"])
    )
    check_service_area(settings, "60607", None)
    with pytest.raises(Invalid) as outside:
        check_service_area(settings, "60290", None)
    assert outside.value.code == "outside_service_area"
    circle = BookingSettings(slug="acme", service_area=ServiceArea(center=OFFICE, radius_km=40))
    check_service_area(circle, "60607", OFFICE)
    for at in (ROCKFORD, None):
        with pytest.raises(Invalid):
            check_service_area(circle, "61101", at)


def test_a_service_area_is_one_kind_or_the_other():
    with pytest.raises(ValueError):
        ServiceArea()
    with pytest.raises(ValueError):
        ServiceArea(postal_codes=["60607"], center=OFFICE, radius_km=5)
