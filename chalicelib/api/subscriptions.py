"""Outbound webhooks: the owner subscribes a receiver URL to the business's timeline events.

(The inbound Stripe and Twilio webhooks are api/webhooks.py and api/twilio_webhooks.py.)
"""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from chalicelib.api.http import Api, caller
from chalicelib.api.schemas import ListQuery, Out, PageOut, Strict
from chalicelib.domain.callers import OWNER
from chalicelib.domain.outbound import DeliveryStatus
from chalicelib.services import subscriptions

api = Api(__name__, "webhooks")
OWNER_ONLY = (OWNER,)


class SubscriptionIn(Strict):
    url: str = Field(min_length=8, max_length=2048, description="https://… (a public address)")
    events: list[str] = Field(
        min_length=1,
        max_length=100,
        description='`["*"]` for every event, or types such as `invoice.paid`, `visit.scheduled`',
    )
    description: str | None = Field(None, max_length=500)


class SubscriptionOut(Out):
    id: str = Field(validation_alias="subscription_id")
    url: str
    events: list[str]
    description: str | None
    created_at: datetime
    previous_secret_expires_at: datetime | None = Field(None, validation_alias="previous_until")


class SubscriptionWithSecretOut(SubscriptionOut):
    secret: str = Field(description="Signs every delivery; shown only in this response")


class SubscriptionList(PageOut[SubscriptionOut]):
    pass


class DeliveryOut(Out):
    id: str = Field(validation_alias="delivery_id")
    subscription_id: str
    event_id: str
    type: str
    job_id: str | None
    sequence: int | None
    status: DeliveryStatus = Field(description="`pending` (being tried), `delivered` or `failed`")
    attempts: int
    last_status_code: int | None
    next_attempt_at: datetime | None
    delivered_at: datetime | None
    created_at: datetime
    replay_of: str | None


class DeliveryPage(PageOut[DeliveryOut]):
    pass


@api.route(
    "/webhooks/subscriptions",
    "POST",
    roles=OWNER_ONLY,
    body=SubscriptionIn,
    response=SubscriptionWithSecretOut,
    status=201,
)
def create_subscription(body: SubscriptionIn):
    """Subscribe a receiver to timeline events; the response holds its signing secret."""
    return subscriptions.create(caller(), body.model_dump())


@api.route("/webhooks/subscriptions", "GET", roles=OWNER_ONLY, response=SubscriptionList)
def list_subscriptions():
    """The business's subscriptions (without their secrets)."""
    return {"items": subscriptions.list_all(caller()), "next_cursor": None}


@api.route("/webhooks/subscriptions/{subscription_id}", "DELETE", roles=OWNER_ONLY, status=204)
def delete_subscription(subscription_id: str):
    """Stop sending to a receiver."""
    subscriptions.delete(caller(), subscription_id)


@api.route(
    "/webhooks/subscriptions/{subscription_id}/rotate-secret",
    "POST",
    roles=OWNER_ONLY,
    response=SubscriptionWithSecretOut,
)
def rotate_subscription_secret(subscription_id: str):
    """A new signing secret; the previous one keeps signing beside it for 24 hours."""
    return subscriptions.rotate_secret(caller(), subscription_id)


@api.route(
    "/webhooks/subscriptions/{subscription_id}/deliveries",
    "GET",
    roles=OWNER_ONLY,
    query=ListQuery,
    response=DeliveryPage,
)
def list_deliveries(subscription_id: str, query: ListQuery):
    """A subscription's deliveries, newest first: status, attempts, the last answer."""
    return subscriptions.deliveries(caller(), subscription_id, query.cursor, query.limit)


@api.route(
    "/webhooks/deliveries/{delivery_id}/replay",
    "POST",
    roles=OWNER_ONLY,
    response=DeliveryOut,
    status=202,
)
def replay_delivery(delivery_id: str):
    """Send a delivery's payload again (a new delivery, retried like any other)."""
    return subscriptions.replay(caller(), delivery_id)
