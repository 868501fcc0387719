"""What a person reads: times in the property's (or tenant's) zone, DST included."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo


def _parse(moment: str | datetime) -> datetime:
    if isinstance(moment, datetime):
        return moment
    return datetime.fromisoformat(moment.replace("Z", "+00:00"))


def _clock(moment: datetime) -> str:
    return moment.strftime("%I:%M %p").lstrip("0")


def local_window(start: str | datetime, end: str | datetime, timezone: str) -> str:
    """e.g. 'Mon Mar 9, 9:00 AM-11:00 AM'. A plain hyphen: an en dash is not in the GSM-7
    alphabet and would turn the whole text into UCS-2 (70 characters a segment, not 160)."""
    zone = ZoneInfo(timezone)
    first, last = _parse(start).astimezone(zone), _parse(end).astimezone(zone)
    day = f"{first:%a %b} {first.day}"
    return f"{day}, {_clock(first)}-{_clock(last)}"


def local_date(moment: str | datetime, timezone: str) -> str:
    local = _parse(moment).astimezone(ZoneInfo(timezone))
    return f"{local:%a %b} {local.day}"
