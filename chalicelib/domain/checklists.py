"""Visit checklists: what the office wants done on site, ticked off by the technician.

The checklist lives on the visit itself, so the rule "a visit cannot be completed while a
required item is open" is decided on the same version of the same item as the completion:
no ticking or redefining can slip in between the check and the write.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from chalicelib.domain.errors import Conflict, Invalid, NotFound

MAX_ITEMS = 50
# A visit that is over keeps its checklist as a record of what was done.
CLOSED_STATUSES = ("completed", "cancelled")
PROGRESS = {"done", "done_at", "done_by", "note", "photo_id"}


class ChecklistItem(BaseModel):
    id: str
    label: str
    required: bool = False
    done: bool = False
    done_at: datetime | None = None
    done_by: str | None = None
    note: str | None = None
    photo_id: str | None = None


def define(
    current: list[ChecklistItem], items: list[dict], visit_status: str
) -> list[ChecklistItem]:
    """The office's new list. An item that keeps its id keeps what was already done on it."""
    _require_open(visit_status, "changed")
    if len(items) > MAX_ITEMS:
        raise Invalid(
            f"a checklist has at most {MAX_ITEMS} items",
            details=[{"field": "items", "message": f"at most {MAX_ITEMS} items"}],
        )
    ids = [item["id"] for item in items]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise Invalid(
            f"checklist item ids must be unique: {', '.join(duplicates)}",
            details=[
                {"field": "items", "item_id": i, "message": "duplicate id"} for i in duplicates
            ],
        )
    previous = {item.id: item for item in current}
    defined = []
    for item in items:
        kept = previous.get(item["id"])
        progress = kept.model_dump(include=PROGRESS) if kept else {}
        defined.append(
            ChecklistItem(
                id=item["id"], label=item["label"], required=item.get("required", False), **progress
            )
        )
    return defined


def tick(
    checklist: list[ChecklistItem],
    item_id: str,
    done: bool,
    actor: str,
    at: datetime,
    visit_status: str,
    note: str | None = None,
    photo_id: str | None = None,
) -> ChecklistItem:
    """Mark an item done (or open again), with an optional note and photo."""
    _require_open(visit_status, "ticked")
    item = next((i for i in checklist if i.id == item_id), None)
    if item is None:
        raise NotFound("checklist item not found")
    item.done = done
    item.done_at, item.done_by = (at, actor) if done else (None, None)
    if note is not None:
        item.note = note
    if photo_id is not None:
        item.photo_id = photo_id
    return item


def open_required(checklist: list[ChecklistItem]) -> list[ChecklistItem]:
    return [item for item in checklist if item.required and not item.done]


def require_complete(checklist: list[ChecklistItem]) -> None:
    """422 naming every required item still open."""
    missing = open_required(checklist)
    if not missing:
        return
    labels = ", ".join(f"'{item.label}'" for item in missing)
    raise Invalid(
        f"required checklist items are still open: {labels}",
        details=[{"item_id": item.id, "label": item.label} for item in missing],
        code="checklist_incomplete",
    )


def _require_open(visit_status: str, action: str) -> None:
    if visit_status in CLOSED_STATUSES:
        raise Conflict(
            f"the checklist of a {visit_status} visit cannot be {action}",
            details=[{"status": visit_status}],
            code="illegal_transition",
        )
