"""Webhooks from providers: no bearer token, each verifies its own signature on the raw body."""

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
    """Stripe's events, verified on the raw body (400 if forged or stale) and applied once:
    a repeated event is acknowledged with 200 and changes nothing."""
    signature = (request.headers or {}).get("stripe-signature")
    outcome = payments.handle_stripe_event(request.raw_body or b"", signature)
    return Response(body=outcome, status_code=200)
