"""Stripe behind a small interface: connected accounts and their onboarding links,
PaymentIntents, refunds and webhook verification.

The SDK is imported inside the functions (it costs ~210 ms and pulls aiohttp; a route that
never touches payments should not pay for it). One `StripeClient` per key and base URL: the
local stage and the tests point it at localstripe through `settings.stripe_api_base`.

Every call that creates something carries an idempotency key, and the tenant's connected
account rides on every call as `stripe_account` (direct charges: the payment, its refunds and
disputes live on the tenant's account, which pays Stripe's fees). An unreachable Stripe
(connection error, 5xx, rate limit) becomes `Unavailable` (503): callers reach Stripe before
they write, so a failure leaves nothing half-done and the client can simply retry.
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
from chalicelib.domain.tenants import application_fee_cents
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
class AccountLink:
    url: str
    expires_at: int


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
    refuses the whole intent if one of them does not take the currency.

    On a connected account the platform's fee (settings.application_fee_bps) rides on it as
    `application_fee_amount`; the fee is part of the idempotency key, since Stripe refuses a
    key reused with other parameters (a fee changed between two visits of the page)."""
    params: dict[str, Any] = {
        "amount": amount_cents,
        "currency": currency.lower(),
        "payment_method_types": methods or ["card"],
        "metadata": metadata,
    }
    fee = application_fee_cents(amount_cents, get_settings().application_fee_bps) if account else 0
    if fee:
        params["application_fee_amount"] = fee
        idempotency_key = f"{idempotency_key}-fee{fee}"
    with _calling("payment"):
        intent = _client().v1.payment_intents.create(
            params=params, options=_options(account, idempotency_key)
        )
    return _intent(intent)


@dataclass(frozen=True)
class OffSessionCharge:
    """What came of charging a saved method: `succeeded` (or `processing`: a bank debit),
    else `failed` with Stripe's error code as `failure` (`card_declined`,
    `authentication_required`, …) and, for a decline, the issuer's `decline_code`."""

    status: str
    intent_id: str | None = None
    failure: str | None = None
    decline_code: str | None = None
    message: str | None = None


def charge_saved_method(
    amount_cents: int,
    currency: str,
    metadata: dict[str, str],
    account: str | None,
    idempotency_key: str,
    *,
    customer: str,
    payment_method: str,
    method_type: str = "card",
) -> OffSessionCharge:
    """Charge a saved method with the customer away (`off_session`, confirmed at once). Stripe
    answers a decline, or a bank's demand for authentication the customer can't give now, with
    a 402 CardError whose PaymentIntent is left `requires_payment_method`: a failure to act on,
    never a 5xx. An intent answered `requires_action` is the same failure."""
    import stripe

    params: dict[str, Any] = {
        "amount": amount_cents,
        "currency": currency.lower(),
        "customer": customer,
        "payment_method": payment_method,
        "payment_method_types": [method_type],
        "off_session": True,
        "confirm": True,
        "metadata": metadata,
    }
    fee = application_fee_cents(amount_cents, get_settings().application_fee_bps) if account else 0
    if fee:
        params["application_fee_amount"] = fee
        idempotency_key = f"{idempotency_key}-fee{fee}"
    try:
        with _calling("payment"):
            intent = _client().v1.payment_intents.create(
                params=params, options=_options(account, idempotency_key)
            )
    except Invalid as refused:
        card_error = refused.__cause__
        if not isinstance(card_error, stripe.CardError):
            raise
        error = card_error.error
        intent = getattr(error, "payment_intent", None) if error is not None else None
        return OffSessionCharge(
            status="failed",
            intent_id=getattr(intent, "id", None) if intent is not None else None,
            failure=card_error.code or "card_declined",
            decline_code=getattr(error, "decline_code", None) if error is not None else None,
            message=card_error.user_message or str(card_error),
        )
    status = _field(intent, "status", str, "payment")
    intent_id = _field(intent, "id", str, "payment")
    if status in ("succeeded", "processing"):
        return OffSessionCharge(status=status, intent_id=intent_id)
    return OffSessionCharge(status="failed", intent_id=intent_id, failure="authentication_required")


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


# --- connected accounts (Connect, Standard accounts) -------------------------------------------


def create_account(
    country: str, business_name: str, email: str | None, tenant_id: str, idempotency_key: str
) -> dict[str, Any]:
    """A Standard connected account for a tenant, prefilled with what we know of it (the
    owner confirms or corrects it during onboarding). The idempotency key makes a retried
    request the same account."""
    params: dict[str, Any] = {
        "type": "standard",
        "country": country,
        "business_profile": {"name": business_name[:100]},
        "metadata": {"tenant_id": tenant_id},
    }
    if email:
        params["email"] = email
    with _calling("account"):
        account = _client().v1.accounts.create(
            params=params, options=_options(None, idempotency_key)
        )
    return _account(account)


def retrieve_account(account_id: str) -> dict[str, Any]:
    with _calling("account"):
        return _account(_client().v1.accounts.retrieve(account_id))


def create_account_link(account_id: str, refresh_url: str, return_url: str) -> AccountLink:
    """Stripe's hosted onboarding for the account: a single-use URL that expires in minutes
    (never stored). Stripe sends the owner to `refresh_url` if it expired or was used, and to
    `return_url` when they leave the flow, finished or not (account.updated says which)."""
    params = {
        "account": account_id,
        "type": "account_onboarding",
        "refresh_url": refresh_url,
        "return_url": return_url,
    }
    with _calling("account link"):
        link = _client().v1.account_links.create(params=params)
    return AccountLink(
        url=_field(link, "url", str, "account link"),
        expires_at=_field(link, "expires_at", int, "account link"),
    )


def finish_test_onboarding(account_id: str) -> None:
    """The local Stripe double only (localstage/localstripe_strict.py): the account finishes
    onboarding at once, as its owner would on Stripe's hosted pages."""
    import urllib.error
    import urllib.request

    base = get_settings().stripe_api_base
    if not base:
        raise BadRequest("only the local Stripe double onboards accounts by itself")
    request = urllib.request.Request(
        f"{base.rstrip('/')}/_config/accounts/{account_id}",
        data=json.dumps({"onboarded": True}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS[1]).close()
    except (urllib.error.URLError, OSError) as exc:
        raise Unavailable(
            "the local Stripe double could not be reached", code="stripe_unavailable"
        ) from exc


def _account(account) -> dict[str, Any]:
    """The account as plain JSON, shaped as Stripe documents it; otherwise Stripe is
    unavailable (a proxy's page, a truncated body), not a 500."""
    found = account.to_dict() if hasattr(account, "to_dict") else None
    if (
        not isinstance(found, dict)
        or not found.get("id")
        or not _matches_shape(found, ACCOUNT_SHAPE)
    ):
        logger.error("stripe account unreadable")
        raise Unavailable(
            "Stripe's answer for the account could not be read; retry shortly",
            code="stripe_unavailable",
        )
    return found


# --- webhooks ----------------------------------------------------------------------------------


def verify_event(payload: bytes, signature: str | None, *, connect: bool = False) -> dict[str, Any]:
    """The event, if Stripe signed this exact body within the tolerance; 400 otherwise.

    Each endpoint has its own signing secret: the platform's events (`connect=False`) and the
    connected accounts' (`connect=True`) are registered as two endpoints."""
    import stripe

    settings = get_settings()
    secret = settings.stripe_connect_webhook_secret if connect else settings.stripe_webhook_secret
    try:
        # What Webhook.construct_event checks, without building SDK objects from a body that
        # may not even be an object (construct_event fails on a signed `[]` with an
        # AttributeError); we read the event as plain JSON.
        stripe.WebhookSignature.verify_header(
            payload, signature, secret, tolerance=TOLERANCE_SECONDS
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
    if not isinstance(obj.get("id"), str) or not obj["id"] or not _matches_shape(obj, OBJECT_SHAPE):
        raise BadRequest("the event's object is not shaped as Stripe's", code="malformed_event")
    if not _matches_shape(event.get("account"), str) or not _matches_shape(
        event.get("livemode"), bool
    ):
        raise BadRequest("the body is not a Stripe event", code="malformed_event")
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
    # An account (account.updated).
    "charges_enabled": bool,
    "payouts_enabled": bool,
    "details_submitted": bool,
    "requirements": {
        "currently_due": [str],
        "past_due": [str],
        "eventually_due": [str],
        "disabled_reason": str,
    },
}
ACCOUNT_SHAPE = {
    name: OBJECT_SHAPE[name]
    for name in ("id", "charges_enabled", "payouts_enabled", "details_submitted", "requirements")
}


def _matches_shape(value: Any, shape: Any) -> bool:
    if value is None:
        return True
    if isinstance(shape, tuple):
        return any(_matches_shape(value, choice) for choice in shape)
    if isinstance(shape, dict):
        if not isinstance(value, dict):
            return False
        if "*" in shape:
            return all(_matches_shape(v, shape["*"]) for v in value.values())
        return all(_matches_shape(value.get(name), inner) for name, inner in shape.items())
    if isinstance(shape, list):
        return isinstance(value, list) and all(_matches_shape(v, shape[0]) for v in value)
    if shape is int:  # a JSON true is no amount
        return isinstance(value, int) and not isinstance(value, bool)
    if shape is bool:  # nor is a 1 a yes
        return isinstance(value, bool)
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
