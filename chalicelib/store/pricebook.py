"""Price-book items: by id, and by name prefix over the book, a kind, a category or both.

Each item is written with its category entry (one transaction, one version): the item's own
index keys list the whole book or one kind by name; the entry's list one category, or one kind
in one category. An item without a category has an entry outside every index.
"""

from __future__ import annotations

from chalicelib.domain.pricebook import Item, search_name
from chalicelib.store import db, keys
from chalicelib.store.db import Transaction
from chalicelib.store.models import Item as Row
from chalicelib.store.records import Page, batch_get, entity, get, page, record

ITEM_TYPE = "pricebook_item"
# Whole-book reads go 100 items a request: DynamoDB would send 1 MB pages, which moto (the local
# stage) takes longer to answer than the client's 5 s read timeout once a book has ~1,000 items.
BOOK_PAGE = 100


def item_rows(tenant_id: str, item: Item) -> list[Row]:
    """The item and its category entry, each with its index keys."""
    iid = item.item_id
    sort = keys.pricebook_name_sort(item.archived, search_name(item.name), iid)
    main = record(
        keys.pricebook_item(tenant_id, iid),
        ITEM_TYPE,
        tenant_id,
        item,
        gsi1=(keys.pricebook_index(tenant_id), sort),
        gsi2=(keys.pricebook_index(tenant_id, kind=item.kind), sort),
    )
    entry = Row(
        *keys.pricebook_category_entry(tenant_id, iid),
        type="pricebook_category",
        tenant_id=tenant_id,
        data={"item_id": iid},
    )
    if item.category:
        category = search_name(item.category)
        entry.gsi1pk = keys.pricebook_index(tenant_id, category=category)
        entry.gsi2pk = keys.pricebook_index(tenant_id, kind=item.kind, category=category)
        entry.gsi1sk = entry.gsi2sk = sort
    # The entry follows the item's version, so both are rewritten under one condition.
    if item.version is not None:
        entry.version = item.version
    return [main, entry]


def put_item(tx: Transaction, tenant_id: str, item: Item) -> None:
    main, entry = item_rows(tenant_id, item)
    tx.put(main, entity=item, label="price-book item")
    tx.put(entry, label="price-book category entry")


def get_item(tenant_id: str, item_id: str) -> Item | None:
    return get(keys.pricebook_item(tenant_id, item_id), Item)


def items_by_id(tenant_id: str, item_ids: list[str]) -> dict[str, Item]:
    """The items that exist of those named, by id (100 to a BatchGetItem)."""
    found = batch_get([keys.pricebook_item(tenant_id, i) for i in item_ids], consistent=True)
    return {row.data["item_id"]: entity(row, Item) for row in found}


def search_items(
    tenant_id: str,
    sort_prefix: str,
    kind: str | None,
    category: str | None,
    cursor: str | None,
    limit: int,
) -> Page:
    """One page of items whose name sort key starts with `sort_prefix`, from the index that
    holds exactly the kind and category asked for (an index query, never a filter)."""
    index = Row.gsi2 if kind else Row.gsi1
    sort_key = Row.gsi2sk if kind else Row.gsi1sk
    rows, next_cursor = page(
        index,
        keys.pricebook_index(tenant_id, kind=kind, category=category),
        sort_key.startswith(sort_prefix),
        tenant_id,
        cursor,
        limit,
    )
    if category is None:
        return Page([entity(row, Item) for row in rows], next_cursor)
    ids = [row.data["item_id"] for row in rows]
    by_id = items_by_id(tenant_id, ids)
    return Page([by_id[i] for i in ids if i in by_id], next_cursor)


def whole_book(tenant_id: str) -> list[Item]:
    """Every item, active ones then archived ones, each by name: one query on the book's
    index (for export and import; a book holds hundreds of items, not millions)."""
    with db.translate_errors():
        rows = Row.gsi1.query(keys.pricebook_index(tenant_id), page_size=BOOK_PAGE)
        return [entity(row, Item) for row in rows]


def active_bookable(tenant_id: str, kind: str) -> list[Item]:
    """Every active item of a kind that customers may book, by name: one query on the kind's
    index (a book holds a few hundred items; DynamoDB pages the reply)."""
    with db.translate_errors():
        rows = Row.gsi2.query(
            keys.pricebook_index(tenant_id, kind=kind),
            Row.gsi2sk.startswith(keys.pricebook_name_sort(False)),
            filter_condition=Row.data["bookable_online"] == True,  # noqa: E712 (a condition)
            page_size=BOOK_PAGE,
        )
        return [entity(row, Item) for row in rows]
