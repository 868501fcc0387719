"""Mapping between domain objects and items of the one table, and paged reads."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import islice
from typing import Any, TypeVar

from pydantic import BaseModel

from chalicelib.store import db
from chalicelib.store.keys import Key
from chalicelib.store.models import Item

E = TypeVar("E", bound=BaseModel)

MAX_PAGE = 200


@dataclass
class Page:
    items: list[Any]
    next_cursor: str | None


def record(
    key: Key,
    type_: str,
    tenant_id: str | None,
    entity: BaseModel,
    *,
    gsi1: tuple[str, str] | None = None,
    gsi2: tuple[str, str] | None = None,
    ttl: int | None = None,
) -> Item:
    """`ttl` is epoch seconds: DynamoDB deletes the item some time after it passes."""
    data = entity.model_dump(mode="json", exclude={"version"})
    expires = datetime.fromtimestamp(ttl, UTC) if ttl is not None else None
    item = Item(key.pk, key.sk, type=type_, tenant_id=tenant_id, data=data, ttl=expires)
    if getattr(entity, "version", None) is not None:
        item.version = entity.version
    if gsi1:
        item.gsi1pk, item.gsi1sk = gsi1
    if gsi2:
        item.gsi2pk, item.gsi2sk = gsi2
    return item


def entity(item: Item, cls: type[E]) -> E:
    return cls.model_validate({**item.data.as_dict(), "version": item.version})


def get(key: Key, cls: type[E]) -> E | None:
    with db.translate_errors():
        try:
            return entity(Item.get(key.pk, key.sk, consistent_read=True), cls)
        except Item.DoesNotExist:
            return None


def partition(pk: str, sk_prefix: str | None = None) -> list[Item]:
    """Every item of one collection (a job with its children); bounded by the job's size."""
    condition = Item.sk.startswith(sk_prefix) if sk_prefix else None
    with db.translate_errors():
        return list(Item.query(pk, condition, consistent_read=True))


def partition_between(pk: str, low: str, high: str) -> list[Item]:
    """The items of one collection whose sort keys fall between two bounds."""
    with db.translate_errors():
        return list(Item.query(pk, Item.sk.between(low, high), consistent_read=True))


def page(
    index,
    hash_key: str,
    condition,
    tenant_id: str,
    cursor: str | None,
    limit: int,
    newest_first: bool = False,
    filter_condition=None,
) -> tuple[list[Item], str | None]:
    """One page of a query on the table (index=None) or one of its indexes, and the cursor of
    the next: None when nothing follows (one item more is read to know), so a client never
    follows a cursor to an empty page. The cursor only opens this same query (the same list,
    the same filters), for this tenant."""
    source = index or Item
    limit = min(limit, MAX_PAGE)
    scope = _query_scope(index, hash_key, condition, filter_condition, newest_first)
    with db.translate_errors():
        results = source.query(
            hash_key,
            condition,
            filter_condition=filter_condition,
            limit=limit + 1,
            page_size=limit + 1,
            last_evaluated_key=db.decode_cursor(cursor, tenant_id, scope),
            scan_index_forward=not newest_first,
        )
        items = list(islice(results, limit))
        # Where this page ends: the last item returned (or, at the end of what DynamoDB read,
        # the last key it evaluated); looked up before reading on.
        last_key = results.last_evaluated_key if len(items) == limit else None
        more = last_key is not None and next(results, None) is not None
        return items, db.encode_cursor(last_key, tenant_id, scope) if more else None


def _query_scope(index, hash_key: str, condition, filter_condition, newest_first: bool) -> str:
    name = index.Meta.index_name if index is not None else "table"
    return f"{name}|{hash_key}|{condition}|{filter_condition}|{newest_first}"


def batch_get(keys: list[Key], consistent: bool = False) -> list[Item]:
    """BatchGetItem, 100 keys a call (PynamoDB pages them and retries unprocessed keys)."""
    if not keys:
        return []
    with db.translate_errors():
        pairs = [(k.pk, k.sk) for k in dict.fromkeys(keys)]
        return list(Item.batch_get(pairs, consistent_read=consistent or None))
