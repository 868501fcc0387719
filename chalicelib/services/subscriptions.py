"""Outbound webhook subscriptions: made, listed, deleted, their secret rotated; deliveries
listed and replayed. The delivering itself is services/deliveries.py's."""

from __future__ import annotations

import secrets as tokens
from typing import Any

from chalicelib.config import get_settings
from chalicelib.domain import clock, outbound
from chalicelib.domain.callers import Caller
from chalicelib.domain.ids import new_id
from chalicelib.domain.outbound import Delivery, Subscription
from chalicelib.integrations import delivery_queue, outbound_http
from chalicelib.services.common import found
from chalicelib.store import subscriptions as store
from chalicelib.store.records import Page

SECRET_PREFIX = "whsec_"


def create(caller: Caller, fields: dict[str, Any]) -> dict[str, Any]:
    """The subscription, with its signing secret: the one time it is shown."""
    outbound_http.check_receiver(fields["url"], get_settings().is_local)
    secret = _new_secret()
    subscription = Subscription(
        subscription_id=new_id(),
        url=fields["url"],
        events=outbound.check_event_filter(fields["events"]),
        description=fields.get("description"),
        sealed_secret=store.seal(secret),
        created_at=clock.now(),
    )
    store.save_subscription(caller.tenant_id, subscription)
    return {**subscription.model_dump(), "secret": secret}


def list_all(caller: Caller) -> list[Subscription]:
    return store.list_subscriptions(caller.tenant_id)


def get(caller: Caller, subscription_id: str) -> Subscription:
    return found(store.get_subscription(caller.tenant_id, subscription_id), "subscription")


def delete(caller: Caller, subscription_id: str) -> None:
    get(caller, subscription_id)
    store.delete_subscription(caller.tenant_id, subscription_id)


def rotate_secret(caller: Caller, subscription_id: str) -> dict[str, Any]:
    """A new secret signs from now on; the previous one signs beside it (a second `v1`) for
    the grace period, so receivers can switch without missing an event."""
    subscription = get(caller, subscription_id)
    secret = _new_secret()
    rotated = subscription.model_copy(
        update={
            "sealed_secret": store.seal(secret),
            "sealed_previous": subscription.sealed_secret,
            "previous_until": clock.now() + outbound.ROTATION_GRACE,
        }
    )
    store.save_subscription(caller.tenant_id, rotated)
    return {**rotated.model_dump(), "secret": secret}


def deliveries(caller: Caller, subscription_id: str, cursor: str | None, limit: int) -> Page:
    get(caller, subscription_id)
    return store.list_deliveries(caller.tenant_id, subscription_id, cursor, limit)


def replay(caller: Caller, delivery_id: str) -> Delivery:
    """Send a delivery's payload again now, as a new delivery (the original keeps its story)."""
    original = found(store.get_delivery(caller.tenant_id, delivery_id), "delivery")
    get(caller, original.subscription_id)
    again = Delivery(
        delivery_id=new_id(),
        subscription_id=original.subscription_id,
        event_id=original.event_id,
        job_id=original.job_id,
        type=original.type,
        sequence=original.sequence,
        created_at=clock.now(),
        replay_of=original.delivery_id,
        payload=original.payload,
    )
    store.create_delivery(caller.tenant_id, again)
    delivery_queue.replay(caller.tenant_id, again.delivery_id)
    return again


def _new_secret() -> str:
    return SECRET_PREFIX + tokens.token_urlsafe(32)
