"""Visits (in their job's collection) and technicians' days (the lock every booking of a day
wins under its version), and the reads of a day: its unassigned visits, the visits booked on it
with their jobs. Reads of many items are BatchGetItem, 100 keys a call."""

from __future__ import annotations

from chalicelib.domain import clock
from chalicelib.domain.jobs import Job
from chalicelib.domain.visits import TechDay, Visit, local_day
from chalicelib.store import keys
from chalicelib.store.jobs import child_item
from chalicelib.store.models import Item
from chalicelib.store.records import batch_get, entity, page, record

UNASSIGNED_PAGE = 200


def visit_item(tenant_id: str, visit: Visit, timezone: str) -> Item:
    """The visit, indexed on the day board of its (first) technician or as unassigned.

    A visit with two technicians appears on the first one's board only; each technician's
    day lock still holds it, so neither can be double booked.
    """
    gsi1 = None
    if visit.status != "cancelled":
        day = local_day(visit.start, timezone)
        board = (
            keys.tech_day_index(tenant_id, visit.technician_ids[0], day)
            if visit.technician_ids
            else keys.unassigned_index(tenant_id, day)
        )
        gsi1 = (board, keys.visit_day_sort(clock.iso(visit.start), visit.visit_id))
    by_start = (
        keys.job_visits_index(tenant_id, visit.job_id),
        keys.visit_day_sort(clock.iso(visit.start), visit.visit_id),
    )
    return child_item(
        tenant_id, visit.job_id, "VISIT", visit.visit_id, visit, gsi1=gsi1, gsi2=by_start
    )


def tech_day_item(tenant_id: str, day: TechDay) -> Item:
    return record(keys.tech_day(tenant_id, day.technician_id, day.day), "tech_day", tenant_id, day)


def tech_days(
    tenant_id: str, wanted: list[tuple[str, str]], consistent: bool = False
) -> dict[tuple[str, str], TechDay]:
    """The stored days of (technician, day) pairs; a day nobody booked is not stored."""
    found = batch_get([keys.tech_day(tenant_id, tech, day) for tech, day in wanted], consistent)
    days = (entity(item, TechDay) for item in found)
    return {(day.technician_id, day.day): day for day in days}


def unassigned_visits(tenant_id: str, day: str) -> list[Visit]:
    """The visits on the day's unassigned index (eventually consistent), every page of it."""
    found, cursor = [], None
    while True:
        items, cursor = page(
            Item.gsi1,
            keys.unassigned_index(tenant_id, day),
            None,
            tenant_id,
            cursor,
            UNASSIGNED_PAGE,
        )
        found += [entity(item, Visit) for item in items]
        if cursor is None:
            return found


def visits_and_jobs(
    tenant_id: str, visits: list[tuple[str, str]], job_ids: list[str], consistent: bool = False
) -> tuple[list[Visit], list[Job]]:
    """Visits (job id, visit id) and job headers, read together."""
    wanted = [_visit_key(tenant_id, job_id, visit_id) for job_id, visit_id in visits]
    wanted += [keys.job(tenant_id, job_id) for job_id in job_ids]
    found = batch_get(wanted, consistent)
    return (
        [entity(item, Visit) for item in found if item.type == "visit"],
        [entity(item, Job) for item in found if item.type == "job"],
    )


def visits_and_tech_days(
    tenant_id: str, visits: list[tuple[str, str]], days: list[tuple[str, str]]
) -> tuple[list[Visit], list[TechDay]]:
    """Visits (job id, visit id) and technicians' days (technician, day), read together and
    strongly consistent: the versions a plan was made from, as they are now."""
    wanted = [_visit_key(tenant_id, job_id, visit_id) for job_id, visit_id in visits]
    wanted += [keys.tech_day(tenant_id, tech, day) for tech, day in days]
    found = batch_get(wanted, consistent=True)
    return (
        [entity(item, Visit) for item in found if item.type == "visit"],
        [entity(item, TechDay) for item in found if item.type == "tech_day"],
    )


def _visit_key(tenant_id: str, job_id: str, visit_id: str) -> keys.Key:
    return keys.job_child(tenant_id, job_id, "VISIT", visit_id)
