"""Technicians' time: clocking in and out, the travel and on-site time their visits record,
the office's corrections, and the reports drawn from them (timesheets, job costing)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

from chalicelib.domain import clock
from chalicelib.domain import timesheets as rules
from chalicelib.domain.callers import TECHNICIAN, Caller
from chalicelib.domain.errors import Conflict, Invalid
from chalicelib.domain.invoices import Invoice
from chalicelib.domain.timesheets import TimeEntry
from chalicelib.domain.users import User
from chalicelib.services.common import check_version, found
from chalicelib.services.tenants import get_settings
from chalicelib.store import keys
from chalicelib.store import tenants as user_store
from chalicelib.store import time as store
from chalicelib.store.db import ConditionFailed, Transaction
from chalicelib.store.jobs import load_collection
from chalicelib.store.records import batch_get, entity

# An entry read for a week may have started the day before it (a shift across midnight).
LOOK_BACK = timedelta(hours=rules.MAX_ENTRY_HOURS)


def clock_in(caller: Caller) -> TimeEntry:
    now = clock.now()
    entry = rules.new_entry(caller.user_id, "shift", now, None, "clock", caller.user_id, now)
    tx = Transaction()
    tx.put(store.entry_item(caller.tenant_id, entry), entity=entry)
    store.open_shift(tx, caller.tenant_id, caller.user_id, entry.entry_id)
    try:
        tx.commit()
    except ConditionFailed as exc:
        raise Conflict("already clocked in: clock out first", code="already_clocked_in") from exc
    return entry


def clock_out(caller: Caller) -> TimeEntry:
    entry_id = store.open_shift_id(caller.tenant_id, caller.user_id)
    entry = store.get_entry(caller.tenant_id, entry_id) if entry_id else None
    if entry is None:
        raise Conflict("not clocked in", code="not_clocked_in")
    rules.clock_out(entry, clock.now())
    tx = Transaction()
    tx.put(store.entry_item(caller.tenant_id, entry), entity=entry)
    store.close_shift(tx, caller.tenant_id, caller.user_id)
    try:
        tx.commit()
    except ConditionFailed as exc:  # a second clock-out racing this one got there first
        raise Conflict("not clocked in", code="not_clocked_in") from exc
    return entry


def queue_visit_time(tx: Transaction, tenant_id: str, visit) -> None:
    """The travel or on-site time a visit's status change just ended, written with it."""
    for entry in rules.visit_segment(visit, clock.now()):
        tx.put(store.entry_item(tenant_id, entry), label=f"time {entry.technician_id}")


def add_entry(caller: Caller, fields: dict[str, Any], reason: str) -> TimeEntry:
    """Time the office records by hand (a forgotten clock-in); the reason stays on it."""
    _technician(caller, fields["technician_id"])
    now = clock.now()
    entry = rules.new_entry(
        fields["technician_id"],
        fields["kind"],
        fields["start"],
        fields["end"],
        "office",
        caller.user_id,
        now,
        fields.get("job_id"),
    )
    entry.history.append(rules.Correction(at=now, by=caller.user_id, reason=reason))
    tx = Transaction()
    tx.put(store.entry_item(caller.tenant_id, entry), entity=entry)
    tx.commit()
    return entry


def correct_entry(
    caller: Caller, entry_id: str, changes: dict[str, Any], reason: str, if_match: int | None
) -> TimeEntry:
    entry = found(store.get_entry(caller.tenant_id, entry_id), "time entry")
    check_version(entry.version, if_match)
    if entry.end is None and "end" not in changes:
        raise Conflict("the shift is still clocked in: clock out first", code="not_clocked_in")
    closes_shift = entry.end is None
    rules.correct(entry, changes, reason, caller.user_id, clock.now())
    tx = Transaction()
    tx.put(store.entry_item(caller.tenant_id, entry), entity=entry)
    if closes_shift:  # the office clocked the technician out
        store.close_shift(tx, caller.tenant_id, entry.technician_id)
    tx.commit()
    return entry


def _technician(caller: Caller, user_id: str) -> User:
    user = user_store.get_user(caller.tenant_id, user_id)
    if user is None or user.role != TECHNICIAN:
        raise Invalid(f"no technician {user_id}", code="unknown_technician")
    return user


# --- reports --------------------------------------------------------------------------------


def timesheets(caller: Caller, week: str) -> dict:
    zone = get_settings(caller).timezone
    monday, low, high = rules.week_bounds(week, zone)
    entries = store.entries_starting_between(caller.tenant_id, low - LOOK_BACK, high)
    by_technician = _grouped(entries, lambda entry: entry.technician_id)
    users = _users(caller, list(by_technician))
    now = clock.now()
    sheets = []
    for tech_id, own in sorted(by_technician.items(), key=lambda p: _name(users, p[0])):
        sheet = rules.timesheet(tech_id, own, monday, zone, now)
        if sheet.worked_minutes == 0:
            continue  # only time from the week before
        in_week = [e for e in own if e.seconds_within(low, high, now) > 0]
        sheets.append({**sheet.model_dump(), "name": _name(users, tech_id), "entries": in_week})
    return {"week": week, "timezone": zone, "start": low, "end": high, "technicians": sheets}


def job_costing(caller: Caller, first: date, last: date) -> dict:
    """Per job worked on between two of the tenant's days: its labour in the period, and its
    materials and what it billed (non-void invoices, the whole job) → margin."""
    if last < first:
        raise Invalid("`to` is on or after `from`", code="validation_error")
    tenant = get_settings(caller)
    low = rules.local_midnight(first, tenant.timezone)
    high = rules.local_midnight(last + timedelta(days=1), tenant.timezone)
    entries = store.entries_starting_between(caller.tenant_id, low, high)
    finished = [entry for entry in entries if entry.job_id and entry.end is not None]
    by_job = _grouped(finished, lambda entry: entry.job_id)
    users = _users(caller, sorted({e.technician_id for e in finished}))
    rates = {uid: user.cost_rate_cents or 0 for uid, user in users.items()}
    jobs = []
    for job_id, own in sorted(by_job.items()):
        collection = load_collection(caller.tenant_id, job_id)
        header = collection.header()
        if header is None:
            continue
        invoices = collection.children("invoice", Invoice)
        cost = rules.job_cost(job_id, own, rates, invoices)
        jobs.append({**cost.model_dump(), "title": header.title})
    totals = {
        name: sum(job[name] for job in jobs)
        for name in ("labour_cents", "materials_cents", "invoiced_cents", "margin_cents")
    }
    return {
        "from": first,
        "to": last,
        "currency": tenant.currency,
        "timezone": tenant.timezone,
        "jobs": jobs,
        "totals": totals,
        "unrated_technicians": sorted(uid for uid, rate in rates.items() if not rate),
    }


def _grouped(entries: list[TimeEntry], key: Callable[[TimeEntry], str]) -> dict:
    groups: dict[str, list[TimeEntry]] = defaultdict(list)
    for entry in entries:
        groups[key(entry)].append(entry)
    return groups


def _users(caller: Caller, user_ids: list[str]) -> dict[str, User]:
    items = batch_get([keys.user(caller.tenant_id, uid) for uid in user_ids])
    return {user.user_id: user for user in (entity(item, User) for item in items)}


def _name(users: dict[str, User], user_id: str) -> str:
    user = users.get(user_id)
    return user.name if user is not None else user_id
