"""Gap-free numbers (invoice numbers), handed out without a race to lose.

`take` adds one to the tenant's counter atomically (UpdateItem ADD: concurrent takes queue at
the item, none fails), or first takes back a number a send could not use. A send that can't use
its number (the invoice was sent by someone else meanwhile, the job closed) `give_back`s it,
and the next send takes it: the numbers in use stay 1..N with no gap and no repeat, and a
burst of sends in one tenant never contends on one version.
"""

from __future__ import annotations

from datetime import datetime

from chalicelib.store import db, keys
from chalicelib.store.models import Item


def take(tenant_id: str, name: str) -> int:
    returned = _take_returned(tenant_id, name)
    if returned is not None:
        return returned
    return add_one(keys.counter(tenant_id, name), "counter", tenant_id)


def add_one(key: keys.Key, kind: str, tenant_id: str, expires: datetime | None = None) -> int:
    """One atomic UpdateItem ADD on the item's counter (made at 1 if missing); the new count.
    `expires`: when DynamoDB's TTL may delete the item."""
    counter = Item(key.pk, key.sk)
    actions = [Item.counter.add(1), Item.type.set(kind), Item.tenant_id.set(tenant_id)]
    if expires is not None:
        actions.append(Item.ttl.set(expires))
    with db.translate_errors():
        counter.update(actions=actions, add_version_condition=False)
    return int(counter.counter)


def give_back(tenant_id: str, name: str, number: int) -> None:
    key = keys.returned_number(tenant_id, name, number)
    with db.translate_errors():
        Item(key.pk, key.sk, type="returned_number", tenant_id=tenant_id, counter=number).save(
            add_version_condition=False
        )


def _take_returned(tenant_id: str, name: str) -> int | None:
    """The lowest number given back, claimed by deleting it (only one taker succeeds)."""
    pk = keys.returned_number(tenant_id, name, 0).pk
    with db.translate_errors():
        for item in Item.query(pk, limit=3, consistent_read=True):
            try:
                item.delete(condition=Item.sk.exists(), add_version_condition=False)
            except db.ConditionFailed:
                continue
            return int(item.counter)
    return None
