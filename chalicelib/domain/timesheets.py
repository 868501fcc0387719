"""Time entries (clocked shifts, travel and on-site time from visits, office corrections) and
the figures drawn from them: weekly timesheets and job costing. Pure rules: no storage here.

Every moment is UTC; a week and its days are the tenant's (a DST week is 167 or 169 hours long,
and an hour clocked across the change counts as the hour it really was).
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, Field

from chalicelib.domain.errors import Conflict, Invalid
from chalicelib.domain.ids import new_id

Kind = Literal["shift", "travel", "on_site"]
# The status a visit left names the time that just ended: the road, then the work.
SEGMENT_OF_STATUS = {"en_route": "travel", "on_site": "on_site"}
OVERTIME_AFTER_MINUTES = 40 * 60
MAX_ENTRY_HOURS = 24
WEEK = re.compile(r"^(\d{4})-W(\d{2})$")


class Correction(BaseModel):
    """Who changed an entry, when and why, and what each changed field was and became."""

    at: datetime
    by: str
    reason: str
    changes: dict[str, list] = Field(default_factory=dict)


class TimeEntry(BaseModel):
    entry_id: str
    technician_id: str
    kind: Kind
    start: datetime
    end: datetime | None = None  # a shift still clocked in
    job_id: str | None = None
    visit_id: str | None = None
    source: Literal["clock", "visit", "office"]
    created_by: str
    created_at: datetime
    history: list[Correction] = Field(default_factory=list)
    version: int | None = None

    def seconds_within(self, low: datetime, high: datetime, now: datetime) -> int:
        """Seconds of this entry inside [low, high); an open shift runs until `now`."""
        start, end = max(self.start, low), min(self.end or now, high)
        return max(0, int((end - start).total_seconds()))


def new_entry(
    technician_id: str,
    kind: str,
    start: datetime,
    end: datetime | None,
    source: str,
    actor: str,
    now: datetime,
    job_id: str | None = None,
    visit_id: str | None = None,
) -> TimeEntry:
    entry = TimeEntry(
        entry_id=new_id(),
        technician_id=technician_id,
        kind=kind,
        start=start.astimezone(UTC),
        end=end.astimezone(UTC) if end else None,
        job_id=job_id,
        visit_id=visit_id,
        source=source,
        created_by=actor,
        created_at=now,
    )
    require_sensible(entry)
    return entry


def require_sensible(entry: TimeEntry) -> None:
    """An entry ends after it starts and lasts at most a day (a forgotten clock-out is fixed by
    the office, never counted as a week of work)."""
    if entry.end is None:
        return
    if entry.end <= entry.start:
        raise Invalid("a time entry ends after it starts", code="invalid_time_entry")
    if entry.end - entry.start > timedelta(hours=MAX_ENTRY_HOURS):
        raise Invalid(
            f"a time entry lasts at most {MAX_ENTRY_HOURS} hours", code="invalid_time_entry"
        )


def clock_out(entry: TimeEntry, now: datetime) -> None:
    if entry.end is not None:
        raise Conflict("not clocked in", code="not_clocked_in")
    entry.end = now
    require_sensible(entry)


def correct(entry: TimeEntry, changes: dict, reason: str, actor: str, now: datetime) -> None:
    """The office's correction: the fields change, and the history keeps who, why and what."""
    before = entry.model_dump(mode="json")
    for field, value in changes.items():
        setattr(entry, field, value.astimezone(UTC) if isinstance(value, datetime) else value)
    require_sensible(entry)
    after = entry.model_dump(mode="json")
    changed = {f: [before[f], after[f]] for f in changes if before[f] != after[f]}
    entry.history.append(Correction(at=now, by=actor, reason=reason, changes=changed))


def visit_segment(visit, now: datetime) -> list[TimeEntry]:
    """The time a visit's latest status change ended (travel when the technician arrived, on
    site when they finished or found no access), one entry per technician on the visit."""
    if len(visit.history) < 2:
        return []
    left, arrived = visit.history[-2], visit.history[-1]
    kind = SEGMENT_OF_STATUS.get(left.status)
    if kind is None or arrived.at <= left.at:
        return []
    return [
        new_entry(
            tech,
            kind,
            left.at,
            arrived.at,
            "visit",
            arrived.actor,
            now,
            visit.job_id,
            visit.visit_id,
        )
        for tech in visit.technician_ids
    ]


# --- timesheets ---------------------------------------------------------------------------------


def week_bounds(week: str, zone: str) -> tuple[date, datetime, datetime]:
    """Monday of an ISO week (`2026-W10`) and the week's bounds in UTC, midnight to midnight on
    the tenant's wall clock."""
    found = WEEK.match(week)
    try:
        monday = date.fromisocalendar(int(found[1]), int(found[2]), 1) if found else None
    except ValueError:
        monday = None
    if monday is None:
        raise Invalid(f"'{week}' is not an ISO week like 2026-W10", code="validation_error")
    return monday, local_midnight(monday, zone), local_midnight(monday + timedelta(days=7), zone)


def local_midnight(day: date, zone: str) -> datetime:
    return datetime.combine(day, time.min, ZoneInfo(zone)).astimezone(UTC)


class DayTotals(BaseModel):
    date: date
    worked_minutes: int


class Timesheet(BaseModel):
    technician_id: str
    worked_minutes: int
    travel_minutes: int
    on_site_minutes: int
    overtime_minutes: int
    days: list[DayTotals]


def timesheet(
    technician_id: str, entries: list[TimeEntry], monday: date, zone: str, now: datetime
) -> Timesheet:
    """One technician's week. Worked time is the union of their clocked shifts and their visit
    time (time on a visit outside a clocked shift is still work; overlaps count once); overtime
    is worked time past 40 hours in the week."""
    days = []
    for offset in range(7):
        day = monday + timedelta(days=offset)
        low, high = local_midnight(day, zone), local_midnight(day + timedelta(days=1), zone)
        days.append(
            DayTotals(date=day, worked_minutes=_union_seconds(entries, low, high, now) // 60)
        )
    low, high = local_midnight(monday, zone), local_midnight(monday + timedelta(days=7), zone)
    worked = _union_seconds(entries, low, high, now) // 60

    def minutes(kind: str) -> int:
        return sum(e.seconds_within(low, high, now) for e in entries if e.kind == kind) // 60

    return Timesheet(
        technician_id=technician_id,
        worked_minutes=worked,
        travel_minutes=minutes("travel"),
        on_site_minutes=minutes("on_site"),
        overtime_minutes=max(0, worked - OVERTIME_AFTER_MINUTES),
        days=days,
    )


def _union_seconds(entries: list[TimeEntry], low: datetime, high: datetime, now: datetime) -> int:
    spans = sorted(
        (max(e.start, low), min(e.end or now, high))
        for e in entries
        if e.seconds_within(low, high, now) > 0
    )
    total, reached = 0, low
    for start, end in spans:
        start = max(start, reached)
        if end > start:
            total += int((end - start).total_seconds())
            reached = end
    return total


# --- job costing --------------------------------------------------------------------------------


class JobCost(BaseModel):
    job_id: str
    labour_minutes: int
    labour_cents: int
    materials_cents: int
    invoiced_cents: int
    margin_cents: int


def labour_cents(entries: list[TimeEntry], hourly_rate_cents: dict[str, int]) -> int:
    """Time x each technician's hourly cost rate, rounded once per job (half up), never per
    entry (a hundred short entries would drift by a hundred roundings)."""
    cent_seconds = sum(
        int((e.end - e.start).total_seconds()) * hourly_rate_cents.get(e.technician_id, 0)
        for e in entries
        if e.end is not None
    )
    return (cent_seconds + 1800) // 3600


def materials_cents(invoices: list) -> int:
    """What the billed lines cost, where a line carries its `unit_cost_cents` (lines priced from
    the price book); a line without one costs 0 here."""
    return sum(
        line.quantity * (line.unit_cost_cents or 0)
        for invoice in invoices
        if invoice.status != "void"
        for line in invoice.line_items
        if line.kind != "credit"
    )


def invoiced_before_tax(invoices: list) -> int:
    """What the job billed, tax excluded, across its non-void invoices. A final takes each
    advance off at its whole total, tax included, so that tax is added back: a deposit and the
    final that credits it sum to the scope, not the scope less the deposit's tax."""
    live = [i for i in invoices if i.status != "void"]
    tax_of = {i.invoice_id: i.tax_cents for i in live}
    credited_tax = sum(
        tax_of.get(line.credits_invoice_id, 0)
        for invoice in live
        for line in invoice.line_items
        if line.kind == "credit"
    )
    return sum(i.total_cents - i.tax_cents for i in live) + credited_tax


def job_cost(
    job_id: str, entries: list[TimeEntry], rates: dict[str, int], invoices: list
) -> JobCost:
    labour, materials = labour_cents(entries, rates), materials_cents(invoices)
    invoiced = invoiced_before_tax(invoices)
    seconds = sum(int((e.end - e.start).total_seconds()) for e in entries if e.end is not None)
    return JobCost(
        job_id=job_id,
        labour_minutes=seconds // 60,
        labour_cents=labour,
        materials_cents=materials,
        invoiced_cents=invoiced,
        margin_cents=invoiced - labour - materials,
    )
