"""The price book: items the office creates, changes and archives; everyone reads them
(technicians without costs, which the API leaves out); online booking offers the bookable
services."""

from __future__ import annotations

from typing import Any

from chalicelib.domain import clock
from chalicelib.domain.callers import Caller
from chalicelib.domain.ids import new_id
from chalicelib.domain.pricebook import SERVICE, Item, check_item, search_name
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


def create(caller: Caller, fields: dict[str, Any]) -> Item:
    now = clock.now()
    currency = get_settings(caller).currency
    item = check_item(
        Item(item_id=new_id(), currency=currency, created_at=now, updated_at=now, **fields)
    )
    _save(caller.tenant_id, item)
    return item


def update(caller: Caller, item_id: str, changes: dict[str, Any], if_match: int | None) -> Item:
    """Change an item (archiving is `archived: true`); documents already made from it keep
    what they copied."""
    item = get_item(caller.tenant_id, item_id)
    check_version(item.version, if_match)
    updated = check_item(
        Item.model_validate({**item.model_dump(), **changes, "updated_at": clock.now()})
    )
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


def _save(tenant_id: str, item: Item) -> None:
    tx = Transaction()
    store.put_item(tx, tenant_id, item)
    tx.commit()
