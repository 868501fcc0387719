"""Visit checklists: the office defines them, the technician ticks items off on site.

A checklist is part of its visit, so both changes go through scheduling's one way of changing
a visit (load, decide, save under the visit's and the job's versions with a timeline event),
and completing the visit is decided on the same version the last tick wrote.
"""

from __future__ import annotations

from typing import Any

from chalicelib.domain import checklists as rules
from chalicelib.domain import clock
from chalicelib.domain.callers import Caller
from chalicelib.domain.jobs import Job
from chalicelib.domain.timeline import TimelineEvent, event
from chalicelib.domain.visits import Visit
from chalicelib.services import photos, scheduling


def define(
    caller: Caller,
    job_id: str,
    visit_id: str,
    items: list[dict[str, Any]],
    if_match: int | None = None,
) -> dict[str, Any]:
    """Replace the visit's checklist; items that keep their id keep what was done on them."""

    def change(job: Job, visit: Visit, _others: list[Visit]) -> list[TimelineEvent | None]:
        visit.checklist = rules.define(visit.checklist, items, visit.status)
        visit.updated_at = clock.now()
        return [
            event(
                job_id,
                "ChecklistDefined",
                caller.user_id,
                visit_id=visit_id,
                item_ids=[item.id for item in visit.checklist],
                required_item_ids=[item.id for item in visit.checklist if item.required],
            )
        ]

    return view(scheduling.change_visit(caller, job_id, visit_id, change, if_match=if_match))


def tick(
    caller: Caller,
    job_id: str,
    visit_id: str,
    item_id: str,
    done: bool,
    note: str | None = None,
    photo_id: str | None = None,
    if_match: int | None = None,
) -> dict[str, Any]:
    """Tick an item (technician on the visit, or the office), with an optional note and photo."""
    if photo_id is not None:
        photos.require_uploaded(caller, job_id, photo_id)

    def change(job: Job, visit: Visit, _others: list[Visit]) -> list[TimelineEvent | None]:
        moment = clock.now()
        item = rules.tick(
            visit.checklist, item_id, done, caller.user_id, moment, visit.status, note, photo_id
        )
        visit.updated_at = moment
        data: dict[str, Any] = {"visit_id": visit_id, "item_id": item.id, "done": done}
        if photo_id:
            data["photo_id"] = photo_id
        return [event(job_id, "ChecklistItemChecked", caller.user_id, **data)]

    return view(scheduling.change_visit(caller, job_id, visit_id, change, if_match=if_match))


def get(caller: Caller, job_id: str, visit_id: str) -> dict[str, Any]:
    return view(scheduling.get_visit(caller, job_id, visit_id))


def view(visit: Visit) -> dict[str, Any]:
    return {
        "visit_id": visit.visit_id,
        "job_id": visit.job_id,
        "items": visit.checklist,
        "open_required": [item.id for item in rules.open_required(visit.checklist)],
        "version": visit.version,
    }
