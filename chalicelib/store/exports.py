"""Every record of one tenant, read by key: no Scan.

A tenant's items do not share one partition (each customer, job, price-book item and time
entry is a collection of its own, under `T#<tenant>#…`), so the export reads:

- the partitions whose keys it can name: the tenant's own (`T#<tenant>`: its settings, users,
  counters), its service plans and its webhook subscriptions;
- the partitions an index lists: each customer (GSI1 customers index, its name entries), job
  (GSI1 jobs index), price-book item (GSI1 price-book index) and time entry (GSI2 tenant time
  index), and each user's technician partition (GSI1 users index: days and the open clock).

Each partition is Queried whole, page by page (`PAGE_SIZE` items a page), and only items whose
partition key is the tenant's are given back. What is not read (and why) is in docs/API.md.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from chalicelib.store import db, keys
from chalicelib.store.models import Item

# Items per DynamoDB page (its own limit is 1 MB a page, whichever comes first).
PAGE_SIZE = 500

# (index, the index's partition for a tenant, what starts the sort keys read or None): each
# item found names a partition of the tenant by its own partition key.
LISTED_PARTITIONS: tuple[tuple[Any, Callable[[str], str], str | None], ...] = (
    (Item.gsi1, keys.customers_index, keys.customer_name_sort("")),
    (Item.gsi1, keys.jobs_index, None),
    (Item.gsi1, keys.pricebook_index, None),
    (Item.gsi2, keys.tenant_time_index, None),
)


def tenant_items(tenant_id: str) -> Iterator[Item]:
    """Every item of the tenant's partitions, each once."""
    for pk in _partitions(tenant_id):
        for item in _query(Item, pk, None):
            if keys.tenant_owns(tenant_id, item.pk):
                yield item


def _partitions(tenant_id: str) -> Iterator[str]:
    seen: set[str] = set()
    for pk in _named_partitions(tenant_id):
        if pk not in seen and keys.tenant_owns(tenant_id, pk):
            seen.add(pk)
            yield pk


def _named_partitions(tenant_id: str) -> Iterator[str]:
    yield keys.tenant(tenant_id).pk
    yield keys.service_plan(tenant_id, "").pk
    yield keys.subscriptions_partition(tenant_id)
    for index, partition, prefix in LISTED_PARTITIONS:
        for entry in _query(index, partition(tenant_id), prefix):
            yield entry.pk
    for user in _query(Item.gsi1, keys.users_index(tenant_id), None):
        user_id = user.data.as_dict().get("user_id") if user.data is not None else None
        if user_id:
            yield keys.tech_day(tenant_id, user_id, "").pk


def _query(source, hash_key: str, sort_prefix: str | None) -> Iterator[Item]:
    """All of one partition of the table or an index, PAGE_SIZE items to a request."""
    condition = None
    if sort_prefix is not None:
        sort_key = {Item: Item.sk, Item.gsi1: Item.gsi1sk, Item.gsi2: Item.gsi2sk}[source]
        condition = sort_key.startswith(sort_prefix)
    with db.translate_errors():
        yield from source.query(hash_key, condition, page_size=PAGE_SIZE)


def as_record(item: Item) -> dict[str, Any]:
    """An item as the export writes it: its kind, keys, version and fields."""
    record: dict[str, Any] = {"type": item.type, "pk": item.pk, "sk": item.sk}
    if item.version is not None:
        record["version"] = item.version
    if item.counter is not None:
        record["counter"] = int(item.counter)
    record["data"] = item.data.as_dict() if item.data is not None else {}
    return record
