"""Recurring visits: an RFC 5545 RRULE expanded into occurrences on the property's wall clock.

The rule is evaluated on *local wall-clock* time, never on UTC: "every Monday at 09:00" must
stay at 09:00 for the customer when their clocks change, so every occurrence is computed as a
naive local date-time and only then given its offset for that date. A wall-clock time that
does not exist on a spring-forward day (02:30) moves forward by the gap, as the zone defines.

A series may run for years (a weekly lawn service with no end): its rule is kept on a `Series`
item and only the visits of the next `AHEAD` (a quarter) exist; the nightly schedule writes the
next ones as the days pass (services/series.py), so a job's partition grows with the calendar's
next two months, never with the length of the contract.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from pydantic import BaseModel, Field

from chalicelib.domain.checklists import ChecklistItem
from chalicelib.domain.errors import Invalid

# Visits of a series exist this far ahead (a quarter: what an office plans); the rest are
# written as the days pass.
AHEAD = timedelta(days=91)
ALLOWED_FREQUENCIES = ("DAILY", "WEEKLY", "MONTHLY", "YEARLY")
SUB_DAILY = ("HOURLY", "MINUTELY", "SECONDLY")
# The time of day comes from the visit's window; a rule that sets its own would contradict it.
TIME_OF_DAY_PARTS = ("BYHOUR", "BYMINUTE", "BYSECOND")
KNOWN_PARTS = (
    "FREQ",
    "INTERVAL",
    "COUNT",
    "UNTIL",
    "BYDAY",
    "BYMONTHDAY",
    "BYYEARDAY",
    "BYWEEKNO",
    "BYMONTH",
    "BYSETPOS",
    "WKST",
)


@dataclass(frozen=True)
class Occurrence:
    """One visit of a series, in UTC (as visits are stored)."""

    window_start: datetime
    window_end: datetime
    start: datetime


class Series(BaseModel):
    """A recurring visit: its rule and first window (the DTSTART), and how far its visits have
    been written. Each visit is still booked, moved and cancelled alone."""

    series_id: str
    job_id: str
    rule: str
    window_start: datetime
    window_end: datetime
    start: datetime | None = None
    duration_minutes: int
    timezone: str
    technician_ids: list[str] = Field(default_factory=list)
    required_skills: list[str] = Field(default_factory=list)
    # What each visit covers: every visit of the series starts with it, the nightly ones too.
    checklist: list[ChecklistItem] = Field(default_factory=list)
    # Occurrences up to this moment exist as visits (None: none written yet).
    written_until: datetime | None = None
    ended: bool = False
    created_by: str
    created_at: datetime
    version: int | None = None


def check(rule: str, window_start: datetime, timezone: str) -> None:
    """422 for a rule that cannot be read, repeats within a day, or never occurs."""
    _dates(rule, window_start, ZoneInfo(timezone))


def horizon(series: Series, now: datetime) -> datetime:
    """How far a series' visits should exist: a quarter past now, or past its first visit."""
    return max(now, series.window_start) + AHEAD


def next_occurrences(series: Series, until: datetime) -> list[Occurrence]:
    """The occurrences after those written, up to `until` (a new series' first one however far
    ahead it is), and the series moved on: `written_until` past them, `ended` when no
    occurrence is left."""
    found = expand(
        series.rule,
        series.window_start,
        series.window_end,
        series.start,
        series.timezone,
        until,
        after=series.written_until,
    )
    zone = ZoneInfo(series.timezone)
    series.written_until = max([until, *(o.start for o in found[-1:])])
    later = _dates(series.rule, series.window_start, zone).after(
        _wall_clock(series.written_until, zone)
    )
    series.ended = later is None
    return found


def expand(
    rule: str,
    window_start: datetime,
    window_end: datetime,
    start: datetime | None,
    timezone: str,
    until: datetime,
    after: datetime | None = None,
) -> list[Occurrence]:
    """The rule's occurrences after `after` up to `until`, the first window's local times
    repeated on each date (with no `after`, the first occurrence however far ahead). The first
    window is the DTSTART: a first window on a day the rule does not name is not itself an
    occurrence, as in python-dateutil. 422 `invalid_recurrence` for an unreadable rule, one
    repeating within a day, or one that never occurs."""
    zone = ZoneInfo(timezone)
    first = _wall_clock(window_start, zone)
    window_length = _wall_clock(window_end, zone) - first
    offset = _wall_clock(start, zone) - first if start is not None else timedelta(0)
    written = _wall_clock(after, zone) if after is not None else None
    limit = _wall_clock(until, zone)
    rule_dates = _dates(rule, window_start, zone)
    dates = itertools.dropwhile(lambda local: written is not None and local <= written, rule_dates)
    found = list(itertools.takewhile(lambda local: local <= limit, dates))
    if not found and written is None:
        found = [next(iter(rule_dates))]  # a new series has its first visit, however far ahead
    return [
        Occurrence(
            window_start=_utc(local, zone),
            window_end=_utc(local + window_length, zone),
            start=_utc(local + offset, zone),
        )
        for local in found
    ]


def _dates(rule: str, window_start: datetime, zone: ZoneInfo):
    """The rule's local dates from the first window on (an rrule: iterable, with `after`)."""
    # python-dateutil is imported here: only recurring work pays for it at cold start.
    from dateutil.rrule import rrulestr

    try:
        dates = rrulestr(_parse(rule, zone), dtstart=_wall_clock(window_start, zone))
        first = next(iter(dates), None)
    except (ValueError, TypeError, OverflowError) as exc:
        raise _invalid(f"the recurrence rule cannot be read: {exc}") from exc
    if first is None:
        raise _invalid("the recurrence rule has no occurrence")
    return dates


def _parse(rule: str, zone: ZoneInfo) -> str:
    """The rule as python-dateutil reads it, with UNTIL on the same naive wall clock."""
    text = rule.strip()
    if text.upper().startswith("RRULE:"):
        text = text[len("RRULE:") :]
    if not text or any(c in text for c in "\r\n:"):
        raise _invalid("give one rule, e.g. RRULE:FREQ=WEEKLY;BYDAY=MO;COUNT=12")
    parts: dict[str, str] = {}
    for part in text.split(";"):
        name, sep, value = part.partition("=")
        name = name.strip().upper()
        if not sep or not value.strip():
            raise _invalid(f"'{part}' is not NAME=VALUE")
        if name in parts:
            raise _invalid(f"{name} is given twice")
        parts[name] = value.strip().upper()
    frequency = parts.get("FREQ")
    if frequency in SUB_DAILY:
        raise _invalid(
            f"FREQ={frequency} repeats within a day; a series repeats daily at most",
            reason="sub_daily",
        )
    if frequency not in ALLOWED_FREQUENCIES:
        raise _invalid(f"FREQ must be one of {', '.join(ALLOWED_FREQUENCIES)}")
    unknown = sorted(set(parts) - set(KNOWN_PARTS))
    if unknown:
        reason = "time_of_day" if set(unknown) & set(TIME_OF_DAY_PARTS) else "unknown_part"
        raise _invalid(
            f"unsupported rule part(s) {', '.join(unknown)}; the time of day comes from the window",
            reason=reason,
        )
    if "COUNT" in parts and "UNTIL" in parts:
        raise _invalid("give COUNT or UNTIL, not both")
    for name in ("COUNT", "INTERVAL"):
        if name in parts and not (parts[name].isdigit() and int(parts[name]) >= 1):
            raise _invalid(f"{name} must be a whole number of at least 1")
    if "UNTIL" in parts:
        parts["UNTIL"] = _until(parts["UNTIL"], zone)
    return ";".join(f"{name}={value}" for name, value in parts.items())


def _until(value: str, zone: ZoneInfo) -> str:
    """UNTIL is inclusive: a date means through that whole local day; a UTC time is converted."""
    try:
        if len(value) == 8:
            moment = datetime.combine(datetime.strptime(value, "%Y%m%d").date(), time.max)
        elif value.endswith("Z"):
            utc = datetime.strptime(value, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
            moment = utc.astimezone(zone).replace(tzinfo=None)
        else:
            moment = datetime.strptime(value, "%Y%m%dT%H%M%S")
    except ValueError as exc:
        raise _invalid("UNTIL must be YYYYMMDD or YYYYMMDDTHHMMSSZ") from exc
    return moment.strftime("%Y%m%dT%H%M%S")


def _wall_clock(moment: datetime, zone: ZoneInfo) -> datetime:
    return moment.astimezone(zone).replace(tzinfo=None)


def _utc(local: datetime, zone: ZoneInfo) -> datetime:
    # fold=0: an ambiguous fall-back time (01:30 twice) is its first, daylight-time instance.
    return local.replace(tzinfo=zone).astimezone(UTC)


def _invalid(message: str, reason: str = "invalid_rule") -> Invalid:
    return Invalid(
        message,
        details=[{"field": "recurrence", "reason": reason, "message": message}],
        code="invalid_recurrence",
    )
