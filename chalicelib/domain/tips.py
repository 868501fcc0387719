"""Tips: what a customer adds on top of an invoice when paying it online.

A tip is the technician's and the business's thanks, not part of what was billed: the charge
is the balance plus the tip, the payment keeps `tip_cents` apart from its `amount_cents` (the
part that pays the invoice), and the job's ledger (collected - refunded <= billed, the invoice's
balance, overpayment) counts only `amount_cents`. Reports show tips in a total of their own.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from chalicelib.domain.currencies import MAX_CHARGE, minor_units
from chalicelib.domain.errors import Invalid
from chalicelib.domain.money import percent_of

PRESET_PERCENTS = (10, 15, 20)
MAX_PERCENT = 100  # a tip larger than the bill is a typo, not a thank-you


def presets(balance_cents: int) -> list[dict[str, int]]:
    """The preset tips on a balance: [{percent, tip_cents}]."""
    return [{"percent": p, "tip_cents": percent_of(balance_cents, p)} for p in PRESET_PERCENTS]


def choose(
    balance_cents: int, currency: str, percent: int | None = None, amount: str | None = None
) -> int:
    """The tip the customer chose: a preset percent of the balance, or an amount typed in the
    currency's major unit ("5", "7.50"); none is 0. Refused (422 `invalid_tip`): a percent that
    is no preset, an amount that is not money in the currency, more than the balance, or a
    charge (balance + tip) Stripe could not take."""
    if percent is not None and amount:
        raise Invalid("choose a tip percent or an amount, not both", code="invalid_tip")
    if percent is not None:
        if percent != 0 and percent not in PRESET_PERCENTS:
            raise Invalid(f"a tip is one of {PRESET_PERCENTS} percent", code="invalid_tip")
        tip = percent_of(balance_cents, percent)
    else:
        tip = _amount_cents(amount, currency) if amount else 0
    if tip > balance_cents * MAX_PERCENT // 100 or balance_cents + tip > MAX_CHARGE:
        raise Invalid("the tip is larger than the bill", code="invalid_tip")
    return tip


def _amount_cents(text: str, currency: str) -> int:
    digits = minor_units(currency)
    try:
        value = Decimal(text.strip().lstrip("$"))
    except (InvalidOperation, ValueError):
        raise Invalid("the tip is not an amount", code="invalid_tip") from None
    cents = value.scaleb(digits)
    if not value.is_finite() or value < 0 or cents != cents.to_integral_value():
        raise Invalid("the tip is not an amount in the currency", code="invalid_tip")
    return int(cents)
