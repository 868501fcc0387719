"""Stripe behind a small interface: PaymentIntents, refunds and webhook verification.

The SDK is imported inside the functions (it costs ~210 ms and pulls aiohttp; a route that
never touches payments should not pay for it). One `StripeClient` per key and base URL: the
local stage and the tests point it at localstripe through `settings.stripe_api_base`.

Every call that creates something carries an idempotency key, and the tenant's connected
account rides on every call as `stripe_account`. An unreachable Stripe (connection error,
5xx, rate limit) becomes `Unavailable` (503): callers reach Stripe before they write, so a
failure leaves nothing half-done and the client can simply retry.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from chalicelib.config import get_settings
from chalicelib.domain.errors import BadRequest, Invalid, Unavailable
from chalicelib.logs import logger

# Statuses in which the customer can still pay with the intent we already have.
REUSABLE = ("requires_payment_method", "requires_confirmation", "requires_action")
# Money is moving or has moved: never offer a second intent beside one of these.
IN_FLIGHT = ("processing", "requires_capture", "succeeded")
TOLERANCE_SECONDS = 300
# Connect, read: a Lambda behind API Gateway has 29 s in all. The SDK retries a timeout too,
# so the worst case is (1 + NETWORK_RETRIES) x 11 s plus its backoff (0.5-1 s): about 23 s.
TIMEOUT_SECONDS = (3, 8)
NETWORK_RETRIES = 1


@dataclass(frozen=True)
class Intent:
    id: str
    client_secret: str
    amount_cents: int
    currency: str
    status: str


@dataclass(frozen=True)
class RefundResult:
    id: str
    amount_cents: int
    status: str


def create_intent(
    amount_cents: int,
    currency: str,
    metadata: dict[str, str],
    account: str | None,
    idempotency_key: str,
    *,
    methods: list[str] | None = None,
) -> Intent:
    """An intent for `methods` (chalicelib.domain.currencies.payment_method_types): Stripe
    refuses the whole intent if one of them does not take the currency."""
    params = {
        "amount": amount_cents,
        "currency": currency.lower(),
        "payment_method_types": methods or ["card"],
        "metadata": metadata,
    }
    with _calling("payment"):
        intent = _client().v1.payment_intents.create(
            params=params, options=_options(account, idempotency_key)
        )
    return _intent(intent)


def retrieve_intent(intent_id: str, account: str | None) -> Intent:
    with _calling("payment"):
        return _intent(_client().v1.payment_intents.retrieve(intent_id, options=_options(account)))


def cancel_intent(intent_id: str, account: str | None) -> bool:
    """Cancel an intent we replace. False if Stripe refuses (it was paid meanwhile)."""
    try:
        with _calling("payment"):
            _client().v1.payment_intents.cancel(intent_id, options=_options(account))
    except Invalid:
        return False
    return True


def refund(
    intent_id: str,
    amount_cents: int,
    metadata: dict[str, str],
    account: str | None,
    idempotency_key: str,
) -> RefundResult:
    # Stripe's `reason` takes only its own three words; ours travels in the metadata.
    params = {"payment_intent": intent_id, "amount": amount_cents, "metadata": metadata}
    with _calling("refund"):
        result = _client().v1.refunds.create(
            params=params, options=_options(account, idempotency_key)
        )
    return RefundResult(
        id=_field(result, "id", str, "refund"),
        amount_cents=_field(result, "amount", int, "refund"),
        status=_field(result, "status", str, "refund"),
    )


def verify_event(payload: bytes, signature: str | None) -> dict[str, Any]:
    """The event, if Stripe signed this exact body within the tolerance; 400 otherwise."""
    import stripe

    try:
        # What Webhook.construct_event checks, without building SDK objects from a body that
        # may not even be an object (construct_event fails on a signed `[]` with an
        # AttributeError); we read the event as plain JSON.
        stripe.WebhookSignature.verify_header(
            payload, signature, get_settings().stripe_webhook_secret, tolerance=TOLERANCE_SECONDS
        )
        event = json.loads(payload)
    except stripe.SignatureVerificationError as exc:
        raise BadRequest("the Stripe signature is not valid", code="invalid_signature") from exc
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise BadRequest("the body is not a Stripe event", code="malformed_event") from exc
    if not isinstance(event, dict) or not isinstance(event.get("data"), dict):
        raise BadRequest("the body is not a Stripe event", code="malformed_event")
    if not isinstance(event["data"].get("object"), dict) or not event.get("id"):
        raise BadRequest("the body is not a Stripe event", code="malformed_event")
    obj = event["data"]["object"]
    if not isinstance(obj.get("id"), str) or not obj["id"] or not _fits(obj, OBJECT_SHAPE):
        raise BadRequest("the event's object is not shaped as Stripe's", code="malformed_event")
    return event


# What the event handlers read from an event's object, with the JSON types Stripe documents
# (null stands for any field that does not apply). Checked once here, so a handler can rely on
# `int(amount)` and `metadata.get(...)` whatever was posted.
OBJECT_SHAPE: dict[str, Any] = {
    "id": str,
    "object": str,
    "currency": str,
    "charge": str,
    "reason": str,
    "amount": int,
    "amount_received": int,
    "amount_refunded": int,
    "metadata": {"*": str},
    "payment_intent": (str, {"id": str}),
    "latest_charge": (str, {"id": str, "payment_method_details": {"type": str}}),
    "last_payment_error": {"message": str, "code": str},
    "refunds": {"data": [{"id": str, "created": int, "metadata": {"*": str}}]},
}


def _fits(value: Any, shape: Any) -> bool:
    if value is None:
        return True
    if isinstance(shape, tuple):
        return any(_fits(value, choice) for choice in shape)
    if isinstance(shape, dict):
        if not isinstance(value, dict):
            return False
        if "*" in shape:
            return all(_fits(v, shape["*"]) for v in value.values())
        return all(_fits(value.get(name), inner) for name, inner in shape.items())
    if isinstance(shape, list):
        return isinstance(value, list) and all(_fits(v, shape[0]) for v in value)
    if shape is int:  # a JSON true is no amount
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, shape)


# --- the client ------------------------------------------------------------------------------


def _client():
    settings = get_settings()
    return _client_for(settings.stripe_secret_key, settings.stripe_api_base)


@lru_cache(maxsize=4)
def _client_for(api_key: str, api_base: str | None):
    import stripe

    return stripe.StripeClient(
        api_key,
        base_addresses={"api": api_base} if api_base else None,
        # Against an emulator a refused connection is the answer; against Stripe, retry
        # once (the idempotency key makes a retried create safe).
        max_network_retries=0 if api_base else NETWORK_RETRIES,
        http_client=stripe.RequestsClient(timeout=TIMEOUT_SECONDS),
    )


def _options(account: str | None, idempotency_key: str | None = None) -> dict[str, Any]:
    options: dict[str, Any] = {}
    if account:
        options["stripe_account"] = account
    if idempotency_key:
        options["idempotency_key"] = idempotency_key
    return options


def _intent(intent) -> Intent:
    return Intent(
        id=_field(intent, "id", str, "payment"),
        client_secret=_field(intent, "client_secret", str, "payment"),
        amount_cents=_field(intent, "amount", int, "payment"),
        currency=_field(intent, "currency", str, "payment").upper(),
        status=_field(intent, "status", str, "payment"),
    )


def _field(obj: Any, name: str, kind: type, what: str) -> Any:
    """A field of what Stripe answered, of the type Stripe documents; anything else (an
    empty or foreign body from a proxy, a truncated object) is Stripe unavailable, not a 500."""
    import stripe

    value = getattr(obj, name, None) if isinstance(obj, stripe.StripeObject) else None
    if not isinstance(value, kind) or isinstance(value, bool) or value == "":
        logger.error("stripe answer unreadable", extra={"what": what, "field": name})
        raise Unavailable(
            f"Stripe's answer for the {what} could not be read; nothing was changed, retry shortly",
            code="stripe_unavailable",
        )
    return value


@contextmanager
def _calling(what: str) -> Iterator[None]:
    import stripe

    try:
        yield
    # APIError: Stripe failed, or answered with a body that is not JSON (whatever its status).
    except (stripe.APIConnectionError, stripe.RateLimitError, stripe.APIError) as exc:
        logger.warning("stripe unreachable", extra={"what": what, "error": str(exc)})
        raise Unavailable(
            f"Stripe could not be reached for the {what}; nothing was changed, retry shortly",
            code="stripe_unavailable",
        ) from exc
    except stripe.StripeError as exc:
        status = exc.http_status or 0
        if status >= 500 or status in (401, 403, 0):
            logger.error("stripe failed", extra={"what": what, "status": status})
            raise Unavailable(
                f"Stripe could not take the {what} right now; nothing was changed, retry shortly",
                code="stripe_unavailable",
            ) from exc
        message = exc.user_message or str(exc)
        raise Invalid(f"Stripe refused the {what}: {message}", code="stripe_refused") from exc
