"""Recurring work that runs for years: each night, the next visits of every series.

A series' visits exist only `recurrence.AHEAD` (a quarter) ahead. The nightly schedule reads the
series whose written horizon is closer than that (one Query on GSI1, across tenants) and
writes their next visits, each booked like any visit: with its technicians when they are free
and on shift, otherwise unassigned for dispatch (the timeline says why). A visit's id comes
from its series and date, so a night run again after a failure writes nothing twice.
"""

from __future__ import annotations

from datetime import datetime

from chalicelib.domain import clock, recurrence
from chalicelib.domain.callers import SYSTEM, Caller
from chalicelib.domain.errors import Conflict, FieldlineError, Invalid
from chalicelib.domain.recurrence import Occurrence, Series
from chalicelib.domain.timeline import event
from chalicelib.domain.visits import Visit
from chalicelib.logs import logger
from chalicelib.services import jobs, scheduling
from chalicelib.store import series as store
from chalicelib.store.db import Transaction

SERIES = "series"  # the actor of what the nightly extension writes


def extend_due(now: datetime) -> int:
    """Write the next visits of every series that needs them; how many visits were written."""
    written = 0
    for tenant_id, series in store.to_extend(clock.iso(now + recurrence.AHEAD)):
        try:
            written += extend(tenant_id, series, now)
        except FieldlineError:
            logger.exception("series not extended", extra={"series_id": series.series_id})
    return written


def extend(tenant_id: str, series: Series, now: datetime) -> int:
    caller = Caller(tenant_id=tenant_id, user_id=SERIES, role=SYSTEM)
    job = jobs.get(caller, series.job_id)
    if job.is_open:
        occurrences = recurrence.next_occurrences(series, recurrence.horizon(series, now))
    else:
        occurrences, series.ended = [], True  # a closed job's series writes nothing more
    written = sum(_write(caller, series, occurrence) for occurrence in occurrences)
    tx = Transaction()
    tx.put(store.series_item(tenant_id, series), label="series", entity=series)
    tx.commit()
    return written


def _write(caller: Caller, series: Series, occurrence: Occurrence) -> int:
    visit_id = f"{series.series_id}-{occurrence.window_start:%Y%m%d}"
    if jobs.load(caller, series.job_id).child("visit", visit_id, Visit) is not None:
        return 0  # written by an earlier run of this night
    fields = {
        "window_start": occurrence.window_start,
        "window_end": occurrence.window_end,
        "start": occurrence.start,
        "duration_minutes": series.duration_minutes,
        "required_skills": series.required_skills,
        "technician_ids": series.technician_ids,
        "checklist": series.checklist,
    }
    try:
        scheduling.create_visit(caller, series.job_id, fields, visit_id, series.series_id)
    except (Conflict, Invalid) as refused:
        if not series.technician_ids or refused.code == "illegal_transition":
            raise
        # The technicians are booked or off that day: the visit waits for dispatch.
        unassigned = {**fields, "technician_ids": []}
        scheduling.create_visit(caller, series.job_id, unassigned, visit_id, series.series_id)
        why = event(
            series.job_id,
            "SeriesVisitUnassigned",
            SERIES,
            series_id=series.series_id,
            visit_id=visit_id,
            reason=refused.code,
            message=refused.message,
        )
        jobs.record_events(Transaction(), caller, why).commit()
    return 1
