"""Local stage only: the card confirmation localstripe's Stripe.js stand-in cannot do itself.
Registered only locally; the pay page's bridge script calls it (see stripe_js_bridge)."""

from __future__ import annotations

from pydantic import BaseModel, Field

from chalicelib.api.http import Api
from chalicelib.api.schemas import Strict
from chalicelib.integrations import stripe_js_bridge

api = Api(__name__, "local stage")


class CardIn(Strict):
    number: str = Field(pattern=r"^[\d ]{12,23}$")
    exp_month: str = Field(pattern=r"^\d{1,2}$")
    exp_year: str = Field(pattern=r"^\d{2,4}$")
    cvc: str = Field(pattern=r"^\d{3,4}$")


class ConfirmCardIn(Strict):
    client_secret: str = Field(min_length=1, max_length=200)
    card: CardIn


class ConfirmedOut(BaseModel):
    id: str
    status: str
    last_payment_error: str | None = None


@api.route(
    "/dev/stripe/confirm-card", "POST", roles=None, body=ConfirmCardIn, response=ConfirmedOut
)
def confirm_card(body: ConfirmCardIn):
    """Attach a card to a PaymentIntent on localstripe and confirm it (local stage only)."""
    return stripe_js_bridge.confirm_card(body.client_secret, body.card.model_dump())
