"""Visits: appointments at the customer's, their status machine and the rules for booking them.

A technician's booked time lives twice: on each visit, and on the technician's day (`TechDay`),
the small item whose version every booking of that day must win. The domain decides whether a
booking fits (skills, shift, overlap with the travel buffer); the service makes the decision
stick by writing the day under its version in the same transaction as the visit.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from pydantic import BaseModel, Field, computed_field, field_validator

from chalicelib.domain import clock
from chalicelib.domain.checklists import ChecklistItem, require_complete
from chalicelib.domain.errors import Conflict, Invalid
from chalicelib.domain.geo import eta_minutes
from chalicelib.domain.timeline import TimelineEvent, event
from chalicelib.domain.users import WEEKDAYS, Point, Shift, User

STATUSES = (
    "unscheduled",
    "scheduled",
    "dispatched",
    "en_route",
    "on_site",
    "completed",
    "cancelled",
    "no_access",
)
# Before anyone is on the road, a visit may be given technicians or moved; after a no-access
# attempt it may be booked again.
BOOKABLE = ("unscheduled", "scheduled", "dispatched", "no_access")
# A cancelled visit gives its time back; every other one with technicians holds it.
HOLDS_TIME = ("scheduled", "dispatched", "en_route", "on_site", "completed", "no_access")
# What a technician (or the office) may report, and from where.
TRANSITIONS = {
    "en_route": ("scheduled", "dispatched"),
    "on_site": ("en_route",),
    "completed": ("on_site",),
    "no_access": ("scheduled", "dispatched", "en_route", "on_site"),
}
STATUS_EVENTS = {
    "en_route": "TechnicianEnRoute",
    "on_site": "TechnicianOnSite",
    "completed": "VisitCompleted",
    "no_access": "VisitNoAccess",
}
MIN_DURATION_MINUTES, MAX_DURATION_MINUTES = 15, 1440
# A visit keeps its latest status changes (each note ≤ 5,000 characters); the timeline has all.
MAX_HISTORY = 20


def _utc(moment: datetime) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("a time needs an offset (RFC 3339), e.g. 2025-03-10T09:00:00-05:00")
    return moment.astimezone(UTC)


class StatusChange(BaseModel):
    status: str
    at: datetime
    actor: str
    note: str | None = None
    location: Point | None = None


class Visit(BaseModel):
    visit_id: str
    job_id: str
    status: str = "unscheduled"
    window_start: datetime
    window_end: datetime
    duration_minutes: int = Field(ge=MIN_DURATION_MINUTES, le=MAX_DURATION_MINUTES)
    start: datetime
    required_skills: list[str] = Field(default_factory=list)
    technician_ids: list[str] = Field(default_factory=list)
    location: Point | None = None
    timezone: str
    history: list[StatusChange] = Field(default_factory=list)
    cancel_reason: str | None = None
    # Visits of one recurring series share it; each is still booked, moved and cancelled alone.
    series_id: str | None = None
    # What dispatch should know before sending anyone (`plan_paused`: its plan went unpaid).
    flags: list[str] = Field(default_factory=list)
    checklist: list[ChecklistItem] = Field(default_factory=list)
    created_at: datetime
    updated_at: datetime
    version: int | None = None

    in_utc = field_validator("window_start", "window_end", "start")(_utc)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def end(self) -> datetime:
        return self.start + timedelta(minutes=self.duration_minutes)


class Booking(BaseModel):
    """One visit's time in a technician's day."""

    visit_id: str
    job_id: str
    start: datetime
    end: datetime

    in_utc = field_validator("start", "end")(_utc)


class TechDay(BaseModel):
    """A technician's day as the lock item holds it: every booking of that (local) day."""

    technician_id: str
    day: str
    bookings: list[Booking] = Field(default_factory=list)
    version: int | None = None

    def release(self, visit_id: str) -> None:
        self.bookings = [b for b in self.bookings if b.visit_id != visit_id]

    def book(self, booking: Booking, buffer_minutes: int) -> None:
        self.release(booking.visit_id)
        clash = find_clash(self.bookings, booking, buffer_minutes)
        if clash is not None:
            raise Conflict(
                f"the technician is already booked on visit {clash.visit_id} "
                f"from {clock.iso(clash.start)} to {clock.iso(clash.end)}",
                details=[
                    {
                        "technician_id": self.technician_id,
                        "visit_id": clash.visit_id,
                        "job_id": clash.job_id,
                        "start": clock.iso(clash.start),
                        "end": clock.iso(clash.end),
                        "travel_buffer_minutes": buffer_minutes,
                    }
                ],
                code="double_booking",
            )
        self.bookings = sorted([*self.bookings, booking], key=lambda b: (b.start, b.visit_id))


# --- time -------------------------------------------------------------------------------------


def local_day(moment: datetime, timezone: str) -> str:
    """The calendar date (YYYY-MM-DD) a moment falls on where the business is."""
    return moment.astimezone(ZoneInfo(timezone)).date().isoformat()


def check_times(
    window_start: datetime, window_end: datetime, duration_minutes: int, start: datetime
) -> None:
    """The window is real, and the planned visit fits inside it."""
    if window_end <= window_start:
        raise Invalid(
            "window_end must be after window_start",
            details=[{"field": "window_end", "message": "must be after window_start"}],
        )
    end = start + timedelta(minutes=duration_minutes)
    if start < window_start or end > window_end:
        raise Invalid(
            f"a {duration_minutes}-minute visit starting at {clock.iso(start)} "
            "does not fit in its window",
            details=[{"field": "start", "message": "the visit must fit inside its window"}],
        )


def overlaps(a: Booking, b: Booking, buffer_minutes: int) -> bool:
    """Two visits clash when they are closer than the travel time between jobs."""
    buffer = timedelta(minutes=buffer_minutes)
    return a.start < b.end + buffer and b.start < a.end + buffer


def find_clash(bookings: list[Booking], candidate: Booking, buffer_minutes: int) -> Booking | None:
    for booking in bookings:
        if booking.visit_id != candidate.visit_id and overlaps(booking, candidate, buffer_minutes):
            return booking
    return None


def within_shift(shift: Shift, start: datetime, end: datetime, timezone: str) -> bool:
    """Whether [start, end) lies inside the shift of the local day it starts on.

    The shift is wall-clock time in the business's zone, so on a DST day it begins at a
    different UTC instant than the day before: build it from the local date, never from an
    offset.
    """
    zone = ZoneInfo(timezone)
    local_start = start.astimezone(zone)
    if WEEKDAYS[local_start.weekday()] not in shift.days:
        return False
    day = local_start.date()
    shift_start = datetime.combine(day, _clock_time(shift.start), tzinfo=zone)
    shift_end = datetime.combine(day, _clock_time(shift.end), tzinfo=zone)
    return shift_start <= start and end <= shift_end


def _clock_time(hhmm: str) -> time:
    hours, minutes = hhmm.split(":")
    return time(int(hours), int(minutes))


# --- who may take a visit ---------------------------------------------------------------------


def check_technicians(technicians: list[User], visit: Visit, timezone: str) -> None:
    """Every technician has the visit's skills and works at that time; 422 naming each problem."""
    problems = []
    for tech in technicians:
        missing = sorted(set(visit.required_skills) - set(tech.skills))
        if missing:
            problems.append(
                {"technician_id": tech.user_id, "reason": "missing_skill", "missing": missing}
            )
        if tech.shift is not None and not within_shift(
            tech.shift, visit.start, visit.end, timezone
        ):
            problems.append(
                {
                    "technician_id": tech.user_id,
                    "reason": "off_shift",
                    "shift": tech.shift.model_dump(),
                    "timezone": timezone,
                }
            )
    if not problems:
        return
    reasons = {p["reason"] for p in problems}
    code = "missing_skill" if reasons == {"missing_skill"} else "off_shift"
    if len(reasons) > 1:
        code = "technician_unavailable"
    names = ", ".join(sorted({p["technician_id"] for p in problems}))
    what = " and ".join(r.replace("_", " ") for r in sorted(reasons))
    raise Invalid(f"cannot assign technician(s) {names}: {what}", details=problems, code=code)


# --- booking ----------------------------------------------------------------------------------


def bookings(visit: Visit | None, timezone: str) -> dict[tuple[str, str], Booking]:
    """The (technician, local day) slots a visit holds. Every technician on it holds one."""
    if visit is None or visit.status not in HOLDS_TIME or not visit.technician_ids:
        return {}
    day = local_day(visit.start, timezone)
    booking = Booking(
        visit_id=visit.visit_id, job_id=visit.job_id, start=visit.start, end=visit.end
    )
    return {(tech, day): booking for tech in visit.technician_ids}


def days_to_change(before: Visit | None, after: Visit, timezone: str) -> list[tuple[str, str]]:
    """The technician days whose bookings change; a status update alone touches none."""
    old, new = bookings(before, timezone), bookings(after, timezone)
    return sorted(key for key in old.keys() | new.keys() if old.get(key) != new.get(key))


def rebook(
    before: Visit | None,
    after: Visit,
    days: dict[tuple[str, str], TechDay],
    timezone: str,
    buffer_minutes: int,
) -> list[TechDay]:
    """Move the visit's time from its old days to its new ones; 409 double_booking on a clash.

    `days` holds every day `days_to_change` names, as just read.
    """
    new = bookings(after, timezone)
    changed = []
    for key in days_to_change(before, after, timezone):
        day = days[key]
        day.release(after.visit_id)
        if key in new:
            day.book(new[key], buffer_minutes)
        changed.append(day)
    return changed


# --- the visit's life -------------------------------------------------------------------------


def new_visit(
    visit_id: str,
    job_id: str,
    window_start: datetime,
    window_end: datetime,
    duration_minutes: int,
    timezone: str,
    actor: str,
    start: datetime | None = None,
    required_skills: list[str] | None = None,
    location: Point | None = None,
) -> tuple[Visit, TimelineEvent]:
    moment = clock.now()
    visit = Visit(
        visit_id=visit_id,
        job_id=job_id,
        window_start=window_start,
        window_end=window_end,
        duration_minutes=duration_minutes,
        start=start or window_start,
        required_skills=sorted(set(required_skills or [])),
        location=location,
        timezone=timezone,
        history=[StatusChange(status="unscheduled", at=moment, actor=actor)],
        created_at=moment,
        updated_at=moment,
    )
    check_times(visit.window_start, visit.window_end, visit.duration_minutes, visit.start)
    created = event(
        job_id,
        "VisitCreated",
        actor,
        visit_id=visit_id,
        window_start=clock.iso(visit.window_start),
        window_end=clock.iso(visit.window_end),
        duration_minutes=duration_minutes,
    )
    return visit, created


def assign(
    visit: Visit, technician_ids: list[str], start: datetime | None, actor: str
) -> list[TimelineEvent]:
    """Give the visit its technicians (and optionally a new start in its window): `scheduled`."""
    _require(visit, BOOKABLE, "assign")
    if start is not None:
        visit.start = _utc(start)
    check_times(visit.window_start, visit.window_end, visit.duration_minutes, visit.start)
    previous_technicians, previous_status = visit.technician_ids, visit.status
    visit.technician_ids = list(dict.fromkeys(technician_ids))
    _set_status(visit, "scheduled", actor)
    # Events are created in the order the timeline tells them (ids sort by creation).
    events = [_scheduled(visit, actor)] if previous_status != "scheduled" else []
    events.append(
        event(
            visit.job_id,
            "TechnicianAssigned",
            actor,
            visit_id=visit.visit_id,
            technician_ids=visit.technician_ids,
            previous_technician_ids=previous_technicians,
            start=clock.iso(visit.start),
            end=clock.iso(visit.end),
        )
    )
    return events


def reschedule(
    visit: Visit,
    window_start: datetime,
    window_end: datetime,
    start: datetime | None,
    actor: str,
) -> list[TimelineEvent]:
    """Move the visit's window, keeping its technicians; it is `scheduled` again if it has any."""
    _require(visit, BOOKABLE, "reschedule")
    previous_start = visit.start
    visit.window_start, visit.window_end = _utc(window_start), _utc(window_end)
    visit.start = _utc(start) if start is not None else visit.window_start
    check_times(visit.window_start, visit.window_end, visit.duration_minutes, visit.start)
    if visit.technician_ids:
        _set_status(visit, "scheduled", actor)
    else:
        visit.updated_at = clock.now()
    return [
        event(
            visit.job_id,
            "VisitRescheduled",
            actor,
            visit_id=visit.visit_id,
            previous_start=clock.iso(previous_start),
            start=clock.iso(visit.start),
            end=clock.iso(visit.end),
            window_start=clock.iso(visit.window_start),
            window_end=clock.iso(visit.window_end),
            technician_ids=visit.technician_ids,
        )
    ]


def unassign(visit: Visit, actor: str) -> TimelineEvent:
    """Take the visit off its technicians' days: `unscheduled` again, its time free."""
    _require(visit, BOOKABLE, "unassign")
    previous = visit.technician_ids
    visit.technician_ids = []
    _set_status(visit, "unscheduled", actor)
    return event(
        visit.job_id,
        "TechnicianUnassigned",
        actor,
        visit_id=visit.visit_id,
        previous_technician_ids=previous,
    )


def cancel(visit: Visit, reason: str | None, actor: str) -> TimelineEvent:
    if visit.status in ("completed", "cancelled"):
        raise Conflict(f"a {visit.status} visit cannot be cancelled", code="illegal_transition")
    visit.cancel_reason = reason
    _set_status(visit, "cancelled", actor, note=reason)
    return event(visit.job_id, "VisitCancelled", actor, visit_id=visit.visit_id, reason=reason)


def open_work(visits: list[Visit]) -> list[Visit]:
    """The visits closing their job calls off: every one not completed or cancelled already.

    A no-access attempt is among them: it still holds its technicians' time and could be
    booked again, which a closed job never will be.
    """
    return [v for v in visits if v.status not in ("completed", "cancelled")]


def cancel_with_job(visit: Visit, job_stage: str, reason: str | None, actor: str) -> TimelineEvent:
    """The job was lost or cancelled, so is the visit; the event says it went with the job."""
    called_off = cancel(visit, reason, actor)
    called_off.data["cause"] = f"job_{job_stage}"
    return called_off


def report(
    visit: Visit,
    status: str,
    actor: str,
    note: str | None = None,
    location: Point | None = None,
) -> TimelineEvent:
    """A status the technician (or the office) reports from the field; 409 if it cannot follow."""
    allowed_from = TRANSITIONS.get(status)
    if allowed_from is None or visit.status not in allowed_from:
        raise Conflict(
            f"a visit cannot go from {visit.status} to {status}",
            details=[
                {"from": visit.status, "to": status, "allowed_from": list(allowed_from or [])}
            ],
            code="illegal_transition",
        )
    if status == "completed":
        require_complete(visit.checklist)
    _set_status(visit, status, actor, note=note, location=location)
    data: dict = {"visit_id": visit.visit_id, "status": status}
    if note:
        data["note"] = note
    if status == "en_route":
        data["eta_minutes"] = eta_for(visit, location)
    return event(visit.job_id, STATUS_EVENTS[status], actor, **data)


def eta_for(visit: Visit, origin: Point | None) -> int | None:
    if origin is None or visit.location is None:
        return None
    return eta_minutes(origin, visit.location)


def all_done(visits: list[Visit]) -> bool:
    """The work is done when every visit not cancelled is completed (a no-access one is not)."""
    return Tally.of(visits).work_done


class Tally(BaseModel):
    """A job's visits counted, kept beside the job so that no change reads every visit:
    `live` not cancelled, `unfinished` neither completed nor cancelled, and per technician how
    many visits name them (a technician sees the jobs they have a visit on)."""

    live: int = 0
    unfinished: int = 0
    technicians: dict[str, int] = Field(default_factory=dict)
    version: int | None = None

    @classmethod
    def of(cls, visits: list[Visit]) -> Tally:
        tally = cls()
        for visit in visits:
            tally.count(visit, 1)
        return tally

    @property
    def work_done(self) -> bool:
        return self.live > 0 and self.unfinished == 0

    def plus(self, visit: Visit) -> Tally:
        """This tally with one more visit counted (the others, and the one being changed)."""
        more = self.model_copy(deep=True)
        more.count(visit, 1)
        return more

    def names(self, technician_id: str) -> bool:
        return self.technicians.get(technician_id, 0) > 0

    def change(self, before: Visit | None, after: Visit) -> bool:
        """Count `after` instead of `before`; True when a count moved."""
        was = self.model_dump(exclude={"version"})
        if before is not None:
            self.count(before, -1)
        self.count(after, 1)
        return self.model_dump(exclude={"version"}) != was

    def count(self, visit: Visit, step: int) -> None:
        if visit.status != "cancelled":
            self.live += step
            self.unfinished += step if visit.status != "completed" else 0
        for technician_id in visit.technician_ids:
            left = self.technicians.get(technician_id, 0) + step
            if left > 0:
                self.technicians[technician_id] = left
            else:
                self.technicians.pop(technician_id, None)


def _require(visit: Visit, allowed: tuple[str, ...], action: str) -> None:
    if visit.status not in allowed:
        raise Conflict(
            f"a visit that is {visit.status} cannot be {action}ed",
            details=[{"status": visit.status, "allowed_from": list(allowed)}],
            code="illegal_transition",
        )


def _set_status(
    visit: Visit, status: str, actor: str, note: str | None = None, location: Point | None = None
) -> None:
    moment = clock.now()
    visit.status, visit.updated_at = status, moment
    change = StatusChange(status=status, at=moment, actor=actor, note=note, location=location)
    # Bounded, so a visit item stays far below DynamoDB's 400 KB however often it is worked:
    # the job's timeline keeps every change.
    visit.history = [*visit.history, change][-MAX_HISTORY:]


def _scheduled(visit: Visit, actor: str) -> TimelineEvent:
    return event(
        visit.job_id,
        "VisitScheduled",
        actor,
        visit_id=visit.visit_id,
        start=clock.iso(visit.start),
        end=clock.iso(visit.end),
        technician_ids=visit.technician_ids,
    )


# --- telling the customer ---------------------------------------------------------------------


def eta_phrase(eta: int | None, now: datetime, timezone: str) -> str:
    """ ", arriving in about 25 minutes (around 2:55 PM)" on the customer's (or business's)
    wall clock, or "" without an estimate: the {eta} of the on-my-way template."""
    if eta is None:
        return ""
    arrival = (now + timedelta(minutes=eta)).astimezone(ZoneInfo(timezone))
    return f", arriving in about {eta} minutes (around {_wall_clock(arrival)})"


def _wall_clock(moment: datetime) -> str:
    # Rounded up to the minute and spelled out by hand: strftime's %p follows the locale.
    if moment.second or moment.microsecond:
        moment = moment.replace(second=0, microsecond=0) + timedelta(minutes=1)
    hour = moment.hour % 12 or 12
    return f"{hour}:{moment.minute:02d} {'AM' if moment.hour < 12 else 'PM'}"
