"""Outbound webhook subscriptions, their deliveries and the per-job lanes that order them.

A subscription's signing secret must be read back to sign (an HMAC needs it), so it cannot be
hashed: it is sealed with Fernet under a key derived from the stage's link secrets
(`db.sealing_cipher`, the list cursors' cipher with keys of its own), and only the sealed text
is stored. Rotating the link secrets keeps the old ones listed, so secrets sealed before still
open.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TypeVar

from pydantic import BaseModel

from chalicelib.domain.clock import iso
from chalicelib.domain.outbound import Delivery, Lane, Subscription
from chalicelib.store import db, keys
from chalicelib.store.db import ConditionFailed, Transaction, translate_errors
from chalicelib.store.models import Item
from chalicelib.store.records import Page, entity, get, page, partition, record

E = TypeVar("E", bound=BaseModel)
SEAL_INFO = b"fieldline outbound webhook secret"
# Deliveries are kept a month for the list and replays; DynamoDB deletes them after (ttl).
DELIVERY_DAYS = 30


def seal(secret: str) -> str:
    return db.sealing_cipher(SEAL_INFO).encrypt(secret.encode()).decode()


def unseal(sealed: str) -> str:
    return db.sealing_cipher(SEAL_INFO).decrypt(sealed.encode()).decode()


# --- subscriptions ---------------------------------------------------------------------------


def subscription_item(tenant_id: str, subscription: Subscription) -> Item:
    key = keys.subscription(tenant_id, subscription.subscription_id)
    return record(key, "subscription", tenant_id, subscription)


def save_subscription(tenant_id: str, subscription: Subscription) -> Subscription:
    return _save(subscription_item(tenant_id, subscription), subscription)


def get_subscription(tenant_id: str, subscription_id: str) -> Subscription | None:
    return get(keys.subscription(tenant_id, subscription_id), Subscription)


def list_subscriptions(tenant_id: str) -> list[Subscription]:
    items = partition(keys.subscriptions_partition(tenant_id), "SUB#")
    return [entity(item, Subscription) for item in items]


def delete_subscription(tenant_id: str, subscription_id: str) -> None:
    key = keys.subscription(tenant_id, subscription_id)
    tx = Transaction()
    tx.delete(key.pk, key.sk, Item.pk.exists(), label="subscription")
    tx.commit()


# --- deliveries ------------------------------------------------------------------------------


def delivery_item(tenant_id: str, delivery: Delivery) -> Item:
    expires = delivery.created_at + timedelta(days=DELIVERY_DAYS)
    return record(
        keys.delivery(tenant_id, delivery.delivery_id),
        "delivery",
        tenant_id,
        delivery,
        gsi1=(
            keys.subscription_deliveries_index(tenant_id, delivery.subscription_id),
            keys.delivery_sort(iso(delivery.created_at), delivery.delivery_id),
        ),
        ttl=int(expires.timestamp()),
    )


def create_delivery(tenant_id: str, delivery: Delivery) -> Delivery:
    """Store a new delivery; the one already there if another run made it first."""
    item = delivery_item(tenant_id, delivery)
    try:
        with translate_errors(["delivery"]):
            item.save(condition=Item.pk.does_not_exist())
    except ConditionFailed:
        return get_delivery(tenant_id, delivery.delivery_id) or delivery
    return delivery.model_copy(update={"version": item.version})


def save_delivery(tenant_id: str, delivery: Delivery) -> Delivery:
    """Under the version read: a racing attempt's write is refused (ConditionFailed)."""
    return _save(delivery_item(tenant_id, delivery), delivery)


def get_delivery(tenant_id: str, delivery_id: str) -> Delivery | None:
    return get(keys.delivery(tenant_id, delivery_id), Delivery)


def list_deliveries(tenant_id: str, subscription_id: str, cursor: str | None, limit: int) -> Page:
    """Newest first."""
    items, next_cursor = page(
        Item.gsi1,
        keys.subscription_deliveries_index(tenant_id, subscription_id),
        None,
        tenant_id,
        cursor,
        limit,
        newest_first=True,
    )
    return Page([entity(item, Delivery) for item in items], next_cursor)


# --- lanes -----------------------------------------------------------------------------------


def get_lane(tenant_id: str, subscription_id: str, lane_id: str) -> Lane | None:
    return get(keys.delivery_lane(tenant_id, subscription_id, lane_id), Lane)


def save_lane(tenant_id: str, lane: Lane) -> Lane:
    key = keys.delivery_lane(tenant_id, lane.subscription_id, lane.lane_id)
    return _save(record(key, "delivery_lane", tenant_id, lane), lane)


def _save(item: Item, entity: E) -> E:
    """Put the item under the entity's version (a stale one is ConditionFailed)."""
    tx = Transaction()
    tx.put(item, entity=entity)
    tx.commit()
    return entity


def timeline_partition(tenant_id: str, timeline: dict[str, str]) -> str:
    """A job's collection, or a customer's (where a customer's own events are)."""
    if timeline.get("job_id"):
        return keys.job_partition(tenant_id, timeline["job_id"])
    return keys.customer(tenant_id, timeline["customer_id"]).pk


def timeline_after(
    tenant_id: str, timeline: dict[str, str], cursor: str, limit: int
) -> list[tuple[str, dict]]:
    """The timeline's events after `cursor` (a sort key), oldest first, with their keys."""
    pk = timeline_partition(tenant_id, timeline)
    with translate_errors():
        items = Item.query(
            pk,
            Item.sk.between(cursor + "\x00", keys.TIMELINE_PREFIX + "~"),
            consistent_read=True,
            limit=limit,
        )
        return [(item.sk, item.data.as_dict()) for item in items]


def timeline_position(tenant_id: str, timeline: dict[str, str], sort_key: str) -> int:
    """The event's place in its timeline, from 1: its `sequence`."""
    pk = timeline_partition(tenant_id, timeline)
    with translate_errors():
        return Item.count(pk, Item.sk.between(keys.TIMELINE_PREFIX, sort_key), consistent_read=True)


def started_at(moment: datetime) -> str:
    """A lane's first cursor: events before this moment (the subscription's) are not sent."""
    return keys.TIMELINE_PREFIX + iso(moment)
