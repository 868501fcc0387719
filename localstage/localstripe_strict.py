"""localstripe, refusing the PaymentIntents real Stripe refuses and it would accept.

Run as `python -m localstage.localstripe_strict` with localstripe's own arguments. localstripe
ignores `payment_method_types` and any amount's size; Stripe answers 400 for both, so a local
stage that accepted them would hide the bug a EUR business meets on its first invoice:

- a payment method type that does not take the intent's currency fails the whole intent, cards
  included ("The currency provided (eur) is invalid for one or more payment method types on
  this PaymentIntent"); ACH Direct Debit (`us_bank_account`) takes USD only;
- an amount above 8 digits (999,999.99 USD, 99,999,999 JPY) is `amount_too_large`.

The intent also keeps its `payment_method_types`, as Stripe's does, for the tests to read.
"""

from __future__ import annotations

from localstripe import resources, server
from localstripe.errors import UserError

MAX_AMOUNT = 99_999_999
# The currencies of each type Fieldline may ask for (None: any currency).
CURRENCIES: dict[str, set[str] | None] = {"card": None, "us_bank_account": {"usd"}}

_create_intent = resources.PaymentIntent.__init__


def _strict_intent(self, amount=None, currency=None, payment_method_types=None, **kwargs):
    types = payment_method_types or ["card"]
    if not isinstance(types, list) or any(t not in CURRENCIES for t in types):
        raise UserError(400, f"The payment method type {types!r} is invalid.")
    for kind in types:
        allowed = CURRENCIES[kind]
        if allowed is not None and str(currency).lower() not in allowed:
            raise UserError(
                400,
                f"The currency provided ({currency}) is invalid for one or more payment method "
                f"types on this PaymentIntent. The payment method type {kind} only supports the "
                f"following currencies: {', '.join(sorted(allowed))}.",
                {"param": "currency"},
            )
    value = resources.try_convert_to_int(amount)
    if isinstance(value, int) and value > MAX_AMOUNT:
        raise UserError(
            400,
            "Amount must be no more than 99,999,999 in the currency's smallest unit.",
            {"code": "amount_too_large", "param": "amount"},
        )
    _create_intent(self, amount=amount, currency=currency, **kwargs)
    self.payment_method_types = types


resources.PaymentIntent.__init__ = _strict_intent

if __name__ == "__main__":
    server.start()
