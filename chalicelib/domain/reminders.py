"""When an automated text may go out: reminder times, quiet hours, and the reminder itself.

Everything here is wall-clock time in the zone of whoever reads the text (the property's zone
for a visit, the tenant's for an invoice): "24 hours before 09:00 on Monday" is 09:00 on
Sunday even when the clocks changed in between, and quiet hours are "21:00 to 08:00 there",
not a UTC interval.

Quiet hours rule: a text that would fall inside quiet hours goes out at the latest allowed
moment *before* they begin (one minute before their start) — the evening before rather than
the morning of, so a reminder always arrives ahead of an early visit. If that moment has
already passed, it goes out when quiet hours end, provided that is still before the visit;
otherwise there is no reminder.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from pydantic import BaseModel

from chalicelib.domain.tenants import QuietHours

BEFORE_QUIET_HOURS = timedelta(minutes=1)
# Visit states in which the customer is still expecting us at the planned time.
REMINDABLE = ("scheduled", "dispatched")


class Reminder(BaseModel):
    """A visit's reminder workflow: which execution is current and whether it has texted."""

    visit_id: str
    job_id: str
    visit_version: int
    start: datetime | None = None  # the visit's start this reminder is for
    execution_name: str | None = None
    execution_arn: str | None = None
    state: str = "waiting"  # waiting, sent, stopped
    sent_at: datetime | None = None
    version: int | None = None


# --- wall-clock arithmetic --------------------------------------------------------------------


def _clock(hhmm: str) -> time:
    hours, minutes = hhmm.split(":")
    return time(int(hours), int(minutes))


def at_local(day: date, moment: time, timezone: str) -> datetime:
    """A wall-clock time on a local date, as a UTC instant.

    A time the clocks skip (02:30 on a spring-forward night) is read with the offset before
    the change, which lands it just after the gap; a repeated one takes its first occurrence.
    """
    local = datetime.combine(day, moment, tzinfo=ZoneInfo(timezone))
    return local.astimezone(UTC)


def hours_before(start: datetime, hours: int, timezone: str) -> datetime:
    """`hours` before `start` on the wall clock of `timezone` (DST-safe), as a UTC instant."""
    local = start.astimezone(ZoneInfo(timezone))
    earlier = local.replace(tzinfo=None) - timedelta(hours=hours)
    return at_local(earlier.date(), earlier.time(), timezone)


# --- quiet hours ------------------------------------------------------------------------------


def _has_quiet_hours(quiet: QuietHours) -> bool:
    return quiet.start != quiet.end


def in_quiet_hours(moment: datetime, quiet: QuietHours, timezone: str) -> bool:
    if not _has_quiet_hours(quiet):
        return False
    tod = moment.astimezone(ZoneInfo(timezone)).time()
    start, end = _clock(quiet.start), _clock(quiet.end)
    if start < end:
        return start <= tod < end
    return tod >= start or tod < end  # the usual case: the night, across midnight


def quiet_period(moment: datetime, quiet: QuietHours, timezone: str) -> tuple[datetime, datetime]:
    """Start and end (UTC) of the quiet period `moment` falls in; call only when it does."""
    local = moment.astimezone(ZoneInfo(timezone))
    start, end = _clock(quiet.start), _clock(quiet.end)
    day = local.date()
    if start < end:
        return at_local(day, start, timezone), at_local(day, end, timezone)
    if local.time() >= start:
        return at_local(day, start, timezone), at_local(day + timedelta(days=1), end, timezone)
    return at_local(day - timedelta(days=1), start, timezone), at_local(day, end, timezone)


def out_of_quiet_hours(moment: datetime, quiet: QuietHours, timezone: str) -> datetime:
    """The latest allowed moment at or before `moment` (see the module's rule)."""
    if not in_quiet_hours(moment, quiet, timezone):
        return moment
    began, _ = quiet_period(moment, quiet, timezone)
    return began - BEFORE_QUIET_HOURS


def next_allowed(moment: datetime, quiet: QuietHours, timezone: str) -> datetime:
    """`moment` itself, or the end of the quiet period it falls in."""
    if not in_quiet_hours(moment, quiet, timezone):
        return moment
    return quiet_period(moment, quiet, timezone)[1]


# --- the reminder -----------------------------------------------------------------------------


def remind_at(
    visit_start: datetime,
    reminder_hours_before: int,
    timezone: str,
    quiet: QuietHours,
    now: datetime,
) -> datetime | None:
    """When to text the reminder for a visit; None when no useful moment is left."""
    planned = out_of_quiet_hours(
        hours_before(visit_start, reminder_hours_before, timezone), quiet, timezone
    )
    if planned < now:
        # Booked at short notice: remind as soon as we may, if that is still ahead of the visit.
        planned = next_allowed(now, quiet, timezone)
    if planned >= visit_start:
        return None
    return planned
