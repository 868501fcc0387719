"""Recurring visits: an RFC 5545 RRULE expanded into occurrences on the property's wall clock.

The rule is evaluated on *local wall-clock* time, never on UTC: "every Monday at 09:00" must
stay at 09:00 for the customer when their clocks change, so every occurrence is computed as a
naive local date-time and only then given its offset for that date. A wall-clock time that
does not exist on a spring-forward day (02:30) moves forward by the gap, as the zone defines.

Bounds keep one request small and the calendar honest: at most `MAX_OCCURRENCES` visits and
none more than a year after the first. A rule that would go further is refused (422), not
silently cut short: the office should know the series ends earlier than it asked.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from chalicelib.domain.errors import Invalid

MAX_OCCURRENCES = 60
HORIZON_YEARS = 1
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


def expand(
    rule: str,
    window_start: datetime,
    window_end: datetime,
    start: datetime | None,
    timezone: str,
    max_occurrences: int = MAX_OCCURRENCES,
) -> list[Occurrence]:
    """Every occurrence of `rule`, the first window's local times repeated on each date.

    The first window is the series' DTSTART: occurrences are the rule's dates from it on (a
    first window on a day the rule does not name is not itself an occurrence, as in
    python-dateutil). Raises Invalid (422, `invalid_recurrence`) for a malformed or unbounded
    rule, one that repeats more often than daily, or one past the bounds.
    """
    # python-dateutil is imported here: only creating a series pays for it at cold start.
    from dateutil.relativedelta import relativedelta
    from dateutil.rrule import rrulestr

    zone = ZoneInfo(timezone)
    first = _wall_clock(window_start, zone)
    # Offsets from the window's start, on the wall clock: a 09:00-12:00 window stays 09:00-12:00.
    window_length = _wall_clock(window_end, zone) - first
    start_offset = _wall_clock(start, zone) - first if start is not None else timedelta(0)
    parsed = _parse(rule, zone)
    try:
        dates = rrulestr(parsed, dtstart=first)
        limit = first + relativedelta(years=HORIZON_YEARS)
        found = list(itertools.islice(dates, max_occurrences + 1))
    except (ValueError, TypeError, OverflowError) as exc:
        raise _invalid(f"the recurrence rule cannot be read: {exc}") from exc
    if not found:
        raise _invalid("the recurrence rule has no occurrence")
    if len(found) > max_occurrences:
        raise _invalid(
            f"a series has at most {max_occurrences} visits; give a COUNT or UNTIL that ends it",
            reason="too_many_occurrences",
        )
    if found[-1] > limit:
        raise _invalid(
            "a series may reach at most a year ahead of its first visit "
            f"({limit.date().isoformat()})",
            reason="beyond_a_year",
        )
    return [
        Occurrence(
            window_start=_utc(local, zone),
            window_end=_utc(local + window_length, zone),
            start=_utc(local + start_offset, zone),
        )
        for local in found
    ]


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
