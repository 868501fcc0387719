"""Delivering the timeline to subscribers: fan-out, per-job lanes, attempts and retries.

Order comes from the timeline, not from the transport (EventBridge and a standard queue do
not keep order): a message only says "this subscription's lane of this job may have news".
Draining a lane reads the job's timeline after the lane's cursor, oldest first, and settles
each event in turn: not wanted, delivered, or failed after 24 h of retries. An event that is
waiting for a retry stops the lane there, so a later event of the job waits behind it. A lane
is drained by one message at a time (its own FIFO message group); the lane's version refuses
a racing drain's write.
"""

from __future__ import annotations

import hashlib
import time
from typing import Any

from chalicelib.config import get_settings
from chalicelib.domain import clock, outbound
from chalicelib.domain.outbound import Delivery, Lane, Subscription
from chalicelib.integrations import delivery_queue, outbound_http
from chalicelib.logs import logger
from chalicelib.store import customers as customer_store
from chalicelib.store import jobs as job_store
from chalicelib.store import subscriptions as store

PAGE = 25  # timeline events read per query while draining
# A message's share of work: no new attempt starts after this many seconds, so one more
# (10 s at most) still ends inside the function's timeout; the message comes straight back.
DRAIN_SECONDS = 15
USER_AGENT = "Fieldline-Webhooks/1"


def fan_out(detail: dict[str, Any]) -> int:
    """A bus event (its detail: the timeline event and tenant): nudge the lane of each
    subscription that wants it; returns how many."""
    tenant_id, timeline = detail.get("tenant_id"), outbound.timeline_of(detail)
    if not (tenant_id and timeline):
        return 0  # not a tenant's timeline event (a platform event, such as a reconciliation's)
    type_ = outbound.event_type(detail["type"])
    wanting = [s for s in store.list_subscriptions(tenant_id) if outbound.wants(s.events, type_)]
    for subscription in wanting:
        subscription_id = subscription.subscription_id
        delivery_queue.nudge_lane(tenant_id, subscription_id, timeline, detail["event_id"])
    return len(wanting)


def drain(tenant_id: str, subscription_id: str, timeline: dict[str, str]) -> float | None:
    """Send the lane (a job's timeline, or a customer's own) up to date; the seconds until its
    head may be retried, or None when nothing is left waiting."""
    subscription = store.get_subscription(tenant_id, subscription_id)
    if subscription is None:
        return None  # deleted: nothing more goes out
    lane = store.get_lane(tenant_id, subscription_id, outbound.lane_id(timeline)) or Lane(
        subscription_id=subscription_id,
        lane_id=outbound.lane_id(timeline),
        cursor=store.started_at(subscription.created_at),
    )
    start, deadline = lane.cursor, time.monotonic() + DRAIN_SECONDS
    try:
        while True:
            events = store.timeline_after(tenant_id, timeline, lane.cursor, PAGE)
            for sort_key, event in events:
                if time.monotonic() > deadline:
                    return 0.0  # more to send: the message comes straight back
                wait = _settle(tenant_id, subscription, timeline, sort_key, event)
                if wait is not None:
                    return wait
                lane.cursor = sort_key
            if len(events) < PAGE:
                return None
    finally:
        if lane.cursor != start:
            store.save_lane(tenant_id, lane)


def deliver_replay(tenant_id: str, delivery_id: str) -> float | None:
    """Attempt a replayed delivery; the seconds until its retry, or None when settled."""
    delivery = store.get_delivery(tenant_id, delivery_id)
    if delivery is None:
        return None
    subscription = store.get_subscription(tenant_id, delivery.subscription_id)
    return attempt(tenant_id, subscription, delivery) if subscription else None


def attempt(tenant_id: str, subscription: Subscription, delivery: Delivery) -> float | None:
    """POST the delivery if it is due; the seconds until it may be tried again, or None."""
    if delivery.status != "pending":
        return None
    now = clock.now()
    if delivery.next_attempt_at and delivery.next_attempt_at > now:
        return (delivery.next_attempt_at - now).total_seconds()
    body = outbound.body_bytes(delivery.payload)
    secrets = [store.unseal(sealed) for sealed in subscription.sealed_secrets(now)]
    headers = {
        "Fieldline-Signature": outbound.signature(secrets, int(now.timestamp()), body),
        "Fieldline-Event-Id": delivery.event_id,
        "Fieldline-Delivery-Id": delivery.delivery_id,
        "User-Agent": USER_AGENT,
    }
    settings = get_settings()
    answer = outbound_http.post(subscription.url, body, headers, allow_local=settings.is_local)
    done = outbound.tried(delivery, answer.status_code, answer.error, clock.now(), _scale())
    store.save_delivery(tenant_id, done)
    logger.info(
        "webhook delivery attempted",
        extra={"delivery": done.delivery_id, "status": done.status, "code": answer.status_code},
    )
    if done.status == "pending" and done.next_attempt_at:
        return max((done.next_attempt_at - clock.now()).total_seconds(), 0.0)
    return None


def _settle(tenant_id: str, subscription: Subscription, timeline: dict, sort_key: str, event: dict):
    type_ = outbound.event_type(event["type"])
    if not outbound.wants(subscription.events, type_):
        return None
    delivery_id = _delivery_id(subscription.subscription_id, event["event_id"])
    delivery = store.get_delivery(tenant_id, delivery_id) or store.create_delivery(
        tenant_id, _new_delivery(tenant_id, subscription, delivery_id, timeline, sort_key, event)
    )
    return attempt(tenant_id, subscription, delivery)


def _new_delivery(
    tenant_id: str,
    subscription: Subscription,
    delivery_id: str,
    timeline: dict,
    sort_key: str,
    event: dict,
) -> Delivery:
    sequence = store.timeline_position(tenant_id, timeline, sort_key)
    document = outbound.payload(event, sequence, _resources(tenant_id, timeline))
    return Delivery(
        delivery_id=delivery_id,
        subscription_id=subscription.subscription_id,
        event_id=event["event_id"],
        job_id=timeline.get("job_id"),
        type=document["type"],
        sequence=sequence,
        created_at=clock.now(),
        payload=document,
    )


def _resources(tenant_id: str, timeline: dict) -> dict[str, Any]:
    """What the event is about, as it is now: the job, or the customer of a customer's event."""
    if timeline.get("job_id"):
        job = job_store.get_job(tenant_id, timeline["job_id"])
        return {"job": job.model_dump(mode="json", exclude={"version"}) if job else None}
    customer = customer_store.get_customer(tenant_id, timeline["customer_id"])
    return {"customer": customer.model_dump(mode="json", exclude={"version"}) if customer else None}


def _delivery_id(subscription_id: str, event_id: str) -> str:
    """One delivery per event and subscription, whichever run gets there first."""
    return hashlib.sha256(f"{subscription_id}:{event_id}".encode()).hexdigest()[:26]


def _scale() -> float:
    """The local stage runs its retries as fast as its clock (FIELDLINE_TIME_SCALE)."""
    settings = get_settings()
    return max(settings.time_scale, 1e-6) if settings.is_local else 1.0
