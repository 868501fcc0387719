"""Webhooks from providers: no bearer token, each verifies its own signature on the raw body.

Stripe delivers to two endpoints, each registered with its own signing secret: the platform's
own events, and the events of every connected account (the tenants' payments, refunds,
disputes and `account.updated`), which name their account.
"""

from __future__ import annotations

from chalice import Response

from chalicelib.api.http import Api
from chalicelib.services import payments

api = Api(__name__, "webhooks")


@api.route(
    "/webhooks/stripe",
    "POST",
    roles=None,
    raw=True,
    content_types=["application/json"],
)
def stripe_webhook(request):
    """The platform account's Stripe events, verified on the raw body (400 if forged or stale)
    and applied once: a repeated event is acknowledged with 200 and changes nothing."""
    signature = (request.headers or {}).get("stripe-signature")
    outcome = payments.handle_stripe_event(request.raw_body or b"", signature)
    return Response(body=outcome, status_code=200)


@api.route(
    "/webhooks/stripe/connect",
    "POST",
    roles=None,
    raw=True,
    content_types=["application/json"],
)
def stripe_connect_webhook(request):
    """Connected accounts' Stripe events (Stripe's Connect endpoint, its own signing secret),
    routed to the tenant that owns the event's `account`; an account no tenant owns is
    acknowledged and ignored."""
    signature = (request.headers or {}).get("stripe-signature")
    outcome = payments.handle_stripe_event(request.raw_body or b"", signature, connect=True)
    return Response(body=outcome, status_code=200)
