"""Cards on file: the payment methods a customer saved for later charges (plans' autopay).

A method is saved through a SetupIntent on the tenant's connected Stripe account (`usage:
off_session`), so it belongs to that account's Stripe Customer for our customer. The customer
agrees to a written authorization before saving; its text and the moment are kept with the
method (the proof a card network or NACHA asks for when an off-session charge is disputed).
One method is the customer's default: the first saved, until another is chosen.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal

from pydantic import BaseModel

MethodType = Literal["card", "us_bank_account"]

# How long a card link works: long enough for a customer to act on a text asking for a new card.
LINK_LIFETIME = timedelta(days=30)
LINK_KIND = "card"
SAVED_EVENT = "PaymentMethodSaved"
SETUP_TEXT = "card_setup"  # the text template of the link (domain/templates.py)
LISTED = {"id", "type", "brand", "last4", "exp_month", "exp_year", "default"}


class SavedMethod(BaseModel):
    id: str  # Stripe's pm_…
    stripe_customer_id: str  # cus_… on the tenant's connected account
    stripe_account: str | None = None  # the connected account the method lives on
    type: MethodType
    brand: str | None = None  # "visa", …; a bank account's bank name
    last4: str
    exp_month: int | None = None  # cards only
    exp_year: int | None = None
    default: bool = False  # derived from the customer's default choice when read
    authorization_text: str
    authorized_at: datetime
    mandate_id: str | None = None  # a bank debit's Stripe mandate
    saved_at: datetime
    version: int | None = None

    def listed(self) -> dict:
        """What the office sees of a saved method."""
        return self.model_dump(mode="json", include=LISTED)


class DefaultChoice(BaseModel):
    """Which saved method is the customer's default: one item, so racing saves agree."""

    method_id: str | None = None
    version: int | None = None


def authorization_text(business_name: str, method_type: MethodType) -> str:
    """The words the customer agrees to before saving (shown on the page, stored with it)."""
    if method_type == "us_bank_account":
        return (
            f"I authorize {business_name} to debit the bank account I provide for amounts I owe "
            f"under my agreements with {business_name}, now and in the future, until I remove "
            "this account or revoke this authorization by contacting them."
        )
    return (
        f"I authorize {business_name} to save this card and charge it for amounts I owe under "
        f"my agreements with {business_name}, including recurring service plans, until I "
        "remove the card or revoke this authorization by contacting them."
    )


def marked(methods: list[SavedMethod], default_id: str | None) -> list[SavedMethod]:
    """The methods, newest first, each marked default or not by the customer's choice."""
    ordered = sorted(methods, key=lambda m: m.saved_at, reverse=True)
    return [m.model_copy(update={"default": m.id == default_id}) for m in ordered]


def next_default(methods: list[SavedMethod], removed_id: str) -> str | None:
    """The default after the default is removed: the newest method left, if any."""
    left = sorted((m for m in methods if m.id != removed_id), key=lambda m: m.saved_at)
    return left[-1].id if left else None
