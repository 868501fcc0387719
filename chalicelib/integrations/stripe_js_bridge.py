"""Local stage only: what Stripe's servers do when Stripe.js confirms a card payment (or saves
a card: a SetupIntent's secret, from the card-on-file page).

localstripe's Stripe.js stand-in never sends the card typed into its Element, and localstripe
attaches a card to a PaymentIntent only for a secret key (its confirm endpoint also refuses a
`payment_method` argument: set it on the intent first, then confirm). The pay page's bridge
script (chalicelib/pages/static/localstripe-bridge.js) posts the card here, and this does those
steps against the emulator. It refuses to run against anything but an emulator.
"""

from __future__ import annotations

from typing import Any

from chalicelib.config import get_settings
from chalicelib.domain.errors import Invalid, NotFound, Unavailable


def confirm_card(client_secret: str, card: dict[str, str]) -> dict[str, Any]:
    import stripe

    settings = get_settings()
    if not settings.stripe_api_base:
        raise NotFound("only the local stage confirms cards itself")
    client = stripe.StripeClient(
        settings.stripe_secret_key,
        base_addresses={"api": settings.stripe_api_base},
        max_network_retries=0,
    )
    intent_id = client_secret.partition("_secret_")[0]
    # A SetupIntent's secret (seti_…) comes from the card-on-file page: the same steps, saving.
    saving = intent_id.startswith("seti_")
    intents = client.v1.setup_intents if saving else client.v1.payment_intents
    try:
        intent = intents.retrieve(intent_id)
        if intent.client_secret != client_secret:
            raise NotFound("payment not found")
        method = client.v1.payment_methods.create(
            params={
                "type": "card",
                "card": {
                    "number": "".join(ch for ch in card["number"] if ch.isdigit()),
                    "exp_month": int(card["exp_month"]),
                    "exp_year": int(card["exp_year"]),
                    "cvc": card["cvc"],
                },
            }
        )
        if saving:  # localstripe's SetupIntent confirm takes the card itself
            intent = intents.confirm(intent_id, params={"payment_method": method.id})
        else:
            intents.update(intent_id, params={"payment_method": method.id})
            intent = intents.confirm(intent_id)
    except stripe.CardError as exc:
        raise Invalid(exc.user_message or "The card was declined.", code="card_declined") from exc
    except stripe.InvalidRequestError as exc:
        if exc.http_status == 404:
            raise NotFound("payment not found") from exc
        raise Invalid("Check the card number, expiry and CVC.", code="invalid_card") from exc
    except stripe.StripeError as exc:
        raise Unavailable("the local Stripe emulator failed", code="stripe_unavailable") from exc
    shown = intent.to_dict()
    error = shown.get("last_payment_error") or shown.get("last_setup_error") or {}
    return {
        "id": shown["id"],
        "status": shown["status"],
        "last_payment_error": error.get("message"),
    }
