"""Visit checklists: defined by the office, ticked on site, and required items gate completion."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from chalicelib.domain import visits
from chalicelib.domain.checklists import (
    MAX_ITEMS,
    ChecklistItem,
    define,
    open_required,
    require_complete,
    tick,
)
from chalicelib.domain.errors import Conflict, Invalid, NotFound

NOW = datetime(2030, 6, 3, 15, 0, tzinfo=UTC)
ITEMS = [
    {"id": "gas-off", "label": "Shut off gas", "required": True},
    {"id": "photo", "label": "Photo of the meter", "required": True},
    {"id": "sweep", "label": "Sweep up", "required": False},
]


def test_required_items_left_open_are_named():
    checklist = define([], ITEMS, "scheduled")
    tick(checklist, "gas-off", True, "tech-1", NOW, "on_site")

    with pytest.raises(Invalid) as refused:
        require_complete(checklist)

    assert refused.value.code == "checklist_incomplete"
    assert refused.value.details == [{"item_id": "photo", "label": "Photo of the meter"}]
    assert "'Photo of the meter'" in refused.value.message


def test_optional_items_never_block_completion():
    checklist = define([], ITEMS, "scheduled")
    for item_id in ("gas-off", "photo"):
        tick(checklist, item_id, True, "tech-1", NOW, "on_site")

    require_complete(checklist)
    assert open_required(checklist) == []


def test_redefining_keeps_progress_on_items_that_keep_their_id():
    checklist = define([], ITEMS, "scheduled")
    tick(checklist, "gas-off", True, "tech-1", NOW, "on_site", note="valve by the meter")

    redefined = define(
        checklist, [{"id": "gas-off", "label": "Gas off at the meter", "required": True}], "on_site"
    )

    assert redefined == [
        ChecklistItem(
            id="gas-off",
            label="Gas off at the meter",
            required=True,
            done=True,
            done_at=NOW,
            done_by="tech-1",
            note="valve by the meter",
        )
    ]


def test_unticking_clears_who_and_when():
    checklist = define([], ITEMS, "scheduled")
    tick(checklist, "sweep", True, "tech-1", NOW, "on_site")
    item = tick(checklist, "sweep", False, "tech-1", NOW, "on_site")

    assert (item.done, item.done_at, item.done_by) == (False, None, None)


def test_duplicate_ids_and_too_many_items_are_422():
    with pytest.raises(Invalid):
        define([], [ITEMS[0], ITEMS[0]], "scheduled")
    many = [{"id": f"i{n}", "label": f"Item {n}"} for n in range(MAX_ITEMS + 1)]
    with pytest.raises(Invalid):
        define([], many, "scheduled")


def test_an_unknown_item_is_404_and_a_finished_visit_is_409():
    checklist = define([], ITEMS, "scheduled")
    with pytest.raises(NotFound):
        tick(checklist, "nope", True, "tech-1", NOW, "on_site")
    with pytest.raises(Conflict):
        tick(checklist, "sweep", True, "tech-1", NOW, "completed")
    with pytest.raises(Conflict):
        define(checklist, ITEMS, "cancelled")


def test_a_visit_on_site_cannot_be_completed_with_a_required_item_open():
    # Given a visit on site with an open required item
    visit, _ = visits.new_visit(
        "v1", "j1", NOW, NOW.replace(hour=18), 60, "America/Chicago", "office"
    )
    visit.status = "on_site"
    visit.checklist = define([], ITEMS[:1], visit.status)

    # When the technician reports it completed, it is refused and stays on site
    with pytest.raises(Invalid) as refused:
        visits.report(visit, "completed", "tech-1")
    assert refused.value.code == "checklist_incomplete"
    assert visit.status == "on_site"

    # Once ticked, it completes
    tick(visit.checklist, "gas-off", True, "tech-1", NOW, visit.status)
    visits.report(visit, "completed", "tech-1")
    assert visit.status == "completed"
