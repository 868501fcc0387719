"""Cards on file: the customer's link to save a card, the saved methods, and the page's JSON."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from chalicelib.api.http import Api, caller
from chalicelib.api.schemas import Out, Strict
from chalicelib.domain.callers import STAFF
from chalicelib.services import cards

api = Api(__name__, "cards on file")

METHOD_ID = r"^pm_[A-Za-z0-9_]{1,200}$"


class SetupIn(Strict):
    send: Literal["sms"] | None = Field(
        None, description="`sms`: text the link to the customer (unless they opted out)"
    )


class SetupOut(Out):
    url: str = Field(description="The customer's /p/cards page (expires in 30 days)")
    message_status: str | None = Field(
        description="The text's status when sent (`sent`, `suppressed`, `failed`), else null"
    )


class MethodOut(Out):
    id: str = Field(description="Stripe's PaymentMethod id (pm_…)")
    type: Literal["card", "us_bank_account"]
    brand: str | None = Field(description="The card's brand, or the bank's name")
    last4: str
    exp_month: int | None
    exp_year: int | None
    default: bool = Field(description="The method the plans' autopay charges")


class MethodsOut(Out):
    items: list[MethodOut]


class PublicSetupOut(Out):
    client_secret: str = Field(description="The SetupIntent's client secret for Stripe.js")
    setup_intent_id: str
    stripe_account: str | None = Field(description="The connected account to give Stripe.js")
    business_name: str
    customer_name: str
    payment_method_types: list[str]
    authorization_text: dict[str, str] = Field(
        description="What the customer agrees to, per payment method type"
    )
    saved: list[MethodOut]


@api.route(
    "/customers/{customer_id}/payment-methods/setup",
    "POST",
    roles=STAFF,
    body=SetupIn,
    response=SetupOut,
)
def setup_payment_method(customer_id: str, body: SetupIn):
    """A link where the customer saves a card (or US bank account) on file; texted on request."""
    return cards.setup_link(caller(), customer_id, body.send)


@api.route("/customers/{customer_id}/payment-methods", "GET", roles=STAFF, response=MethodsOut)
def list_payment_methods(customer_id: str):
    """The customer's saved payment methods, newest first, the default marked."""
    return {"items": cards.listed(caller(), customer_id)}


@api.route(
    "/customers/{customer_id}/payment-methods/{method_id}/default",
    "POST",
    roles=STAFF,
    response=MethodOut,
)
def default_payment_method(customer_id: str, method_id: str):
    """Make this saved method the one autopay charges."""
    return cards.make_default(caller(), customer_id, method_id)


@api.route(
    "/customers/{customer_id}/payment-methods/{method_id}",
    "DELETE",
    roles=STAFF,
    status=204,
)
def remove_payment_method(customer_id: str, method_id: str):
    """Detach the method at Stripe and forget it; the newest left becomes the default."""
    cards.remove(caller(), customer_id, method_id)


@api.route("/public/cards/{token}", "GET", roles=None, response=PublicSetupOut)
def public_card_setup(token: str):
    """A SetupIntent on the business's Stripe account for the customer behind a card link
    (404 for an expired or altered link; 409 `cards_not_accepted` while the business's Stripe
    account takes no cards)."""
    return cards.public_setup(token)
