"""The price book: items the office creates, changes and archives; everyone reads them
(technicians without costs, which the API leaves out); online booking offers the bookable
services."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from chalicelib.domain import clock
from chalicelib.domain.callers import Caller
from chalicelib.domain.errors import FieldlineError, Invalid
from chalicelib.domain.ids import new_id
from chalicelib.domain.money import LineItem
from chalicelib.domain.pricebook import SERVICE, Item, check_item, line_from_item, search_name
from chalicelib.services.common import check_version, found
from chalicelib.services.tenants import get_settings
from chalicelib.store import keys
from chalicelib.store import pricebook as store
from chalicelib.store.db import Transaction
from chalicelib.store.records import Page


def get_item(tenant_id: str, item_id: str) -> Item:
    """One item, archived or not; 404 when missing or another tenant's."""
    return found(store.get_item(tenant_id, item_id), "price-book item")


def bookable_services(tenant_id: str) -> list[Item]:
    """The services customers may book themselves, by name (archived ones never)."""
    return store.active_bookable(tenant_id, SERVICE)


def whole_book(caller: Caller) -> list[Item]:
    """Every item, archived ones too (the export)."""
    return store.whole_book(caller.tenant_id)


def create(caller: Caller, fields: dict[str, Any]) -> Item:
    item = _new(fields, get_settings(caller).currency, clock.now())
    _save(caller.tenant_id, item)
    return item


def update(caller: Caller, item_id: str, changes: dict[str, Any], if_match: int | None) -> Item:
    """Change an item (archiving is `archived: true`); documents already made from it keep
    what they copied."""
    item = get_item(caller.tenant_id, item_id)
    check_version(item.version, if_match)
    updated = _changed(item, changes, clock.now())
    _save(caller.tenant_id, updated)
    return updated


def search(
    caller: Caller,
    q: str | None,
    kind: str | None,
    category: str | None,
    archived: bool,
    cursor: str | None,
    limit: int,
) -> Page:
    """Items whose name starts with `q` (case ignored), of a kind and category if given."""
    prefix = keys.pricebook_name_sort(archived, search_name(q or ""))
    shelf = search_name(category) if category else None
    return store.search_items(caller.tenant_id, prefix, kind, shelf, cursor, limit)


def line_items(tenant_id: str, currency: str, lines: list[dict[str, Any]]) -> list[LineItem]:
    """A document's lines as given: typed ones as they are, `{item_id, quantity}` ones copied
    from the price book now (one BatchGetItem for them all). 422 naming an unknown item."""
    wanted = list(dict.fromkeys(line["item_id"] for line in lines if line.get("item_id")))
    items = store.items_by_id(tenant_id, wanted) if wanted else {}
    unknown = [item_id for item_id in wanted if item_id not in items]
    if unknown:
        raise Invalid(
            "no such price-book item",
            details=[{"field": "item_id", "message": "not found", "item_id": i} for i in unknown],
        )
    return [
        line_from_item(items[line["item_id"]], line.get("quantity", 1), currency)
        if line.get("item_id")
        else LineItem(**line)
        for line in lines
    ]


# --- CSV import ------------------------------------------------------------------------------

# Each item is two writes (item and category entry): a transaction holds 50 of them.
ITEMS_PER_TRANSACTION = 50


@dataclass
class ImportRow:
    """One row of an import as the API read it: its line in the file, the item fields its
    cells give (only the columns the file has), and what was wrong with its cells."""

    line: int
    fields: dict[str, Any]
    item_id: str | None = None
    errors: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Plan:
    """What an import does: each row's item and action, and every row's problems."""

    rows: int
    changes: list[tuple[int, Item, str]] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)

    def report(self, dry_run: bool) -> dict[str, Any]:
        actions = [action for _, _, action in self.changes]
        failed = {problem["row"] for problem in self.errors}
        return {
            "dry_run": dry_run,
            "rows": self.rows,
            "valid": self.rows - len(failed),
            "errors": self.errors,
            **{action: actions.count(action) for action in ("created", "updated", "unchanged")},
            "items": [
                {
                    "row": line,
                    "id": None if dry_run and action == "created" else item.item_id,
                    "action": action,
                }
                for line, item, action in self.changes
            ],
        }


def import_items(caller: Caller, rows: list[ImportRow], dry_run: bool) -> dict[str, Any]:
    """Create or update items from rows, matched by `id`, else by kind and name (any case):
    re-running a file changes nothing more. Every row is checked before anything is written;
    with any error nothing is (422 listing them), and a dry run never writes."""
    plan = _plan(caller, rows)
    if dry_run:
        return plan.report(dry_run=True)
    if plan.errors:
        raise Invalid("the file has errors; nothing was imported", details=plan.errors)
    writes = [item for _, item, action in plan.changes if action != "unchanged"]
    for start in range(0, len(writes), ITEMS_PER_TRANSACTION):
        tx = Transaction()
        for item in writes[start : start + ITEMS_PER_TRANSACTION]:
            store.put_item(tx, caller.tenant_id, item)
        tx.commit()
    return plan.report(dry_run=False)


def _plan(caller: Caller, rows: list[ImportRow]) -> Plan:
    by_name = {(i.kind, search_name(i.name)): i.item_id for i in store.whole_book(caller.tenant_id)}
    targets = [row.item_id or by_name.get(_name_key(row.fields)) for row in rows]
    # The index is read eventually; the items to change are read again, consistently.
    current = store.items_by_id(caller.tenant_id, [t for t in targets if t])
    plan, now = Plan(rows=len(rows)), clock.now()
    currency = get_settings(caller).currency
    first: dict[Any, int] = {}  # the line of the first row naming each item
    for row, target in zip(rows, targets, strict=True):
        if row.item_id and row.item_id not in current:
            row.errors.append(_problem(row, "id", "no such item in the price book"))
        same = target or _name_key(row.fields)
        if same is not None and same in first:
            column = "id" if row.item_id else "name"
            row.errors.append(_problem(row, column, f"the same item as row {first[same]}"))
        if same is not None:
            first.setdefault(same, row.line)
        try:
            if not row.errors:
                item, action = _planned(row, current.get(target or ""), currency, now)
                plan.changes.append((row.line, item, action))
        except FieldlineError as error:
            row.errors += [{"row": row.line, **problem} for problem in _problems(error)]
        plan.errors += row.errors
    return plan


def _name_key(fields: dict[str, Any]) -> tuple[str, str] | None:
    """A row without an id names its item by kind and name, case and spacing ignored."""
    if not fields.get("kind") or not fields.get("name"):
        return None
    return fields["kind"], search_name(fields["name"])


def _planned(
    row: ImportRow, existing: Item | None, currency: str, now: datetime
) -> tuple[Item, str]:
    if existing is None:
        return _new(row.fields, currency, now), "created"
    if row.fields.get("kind", existing.kind) != existing.kind:
        raise Invalid("the kind never changes", details=[{"field": "kind", "message": "changed"}])
    changed = _changed(existing, row.fields, now)
    if changed.model_copy(update={"updated_at": existing.updated_at}) == existing:
        return existing, "unchanged"
    return changed, "updated"


def _new(fields: dict[str, Any], currency: str, now: datetime) -> Item:
    """A new item in the business's currency, its fields checked against its kind."""
    fresh = {"item_id": new_id(), "currency": currency, "created_at": now, "updated_at": now}
    return check_item(Item(**fresh, **fields))


def _changed(item: Item, changes: dict[str, Any], now: datetime) -> Item:
    return check_item(Item.model_validate({**item.model_dump(), **changes, "updated_at": now}))


def _problem(row: ImportRow, column: str, message: str) -> dict[str, Any]:
    return {"row": row.line, "field": column, "message": message}


def _problems(error: FieldlineError) -> list[dict[str, Any]]:
    given = [d for d in error.details if isinstance(d, dict) and "field" in d]
    return [{"field": d["field"], "message": d["message"]} for d in given] or [
        {"field": "", "message": error.message}
    ]


def _save(tenant_id: str, item: Item) -> None:
    tx = Transaction()
    store.put_item(tx, tenant_id, item)
    tx.commit()
