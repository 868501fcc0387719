"""The currencies Fieldline bills in: their minor units, what Stripe can charge in each, how an
amount reads in the tenant's language, and which payment methods Stripe takes in each.

Amounts are integers in the currency's minor unit, the unit Stripe's API counts in: cents for
USD and EUR, whole yen for JPY. The exponent comes from ISO 4217 through Babel's CLDR data;
for every currency below it is also Stripe's (tests/unit/test_currencies.py holds the two
together). Babel loads on first use (~30 ms): a request that shows no money does not pay it.

Left out on purpose, though Stripe charges in them:
- three-decimal currencies (BHD, JOD, KWD, OMR, TND): Stripe wants the last digit 0 (5.124 KWD
  must be sent as 5120 or 5130), a rounding rule every total, deposit and refund would need;
- ISK and UGX: ISO says zero decimals, Stripe wants two with `00` at the end (5 ISK is `500`);
  storing one and sending the other would need a conversion at every Stripe call;
- HUF and TWD: charged with two decimals but paid out in whole units only, and HUF's cap
  (999,999.99 Ft, about 2,500 EUR) is below what a contractor's job may cost;
- INR: 9-digit amounts and card mandates of its own.
"""

from __future__ import annotations

from decimal import Decimal

from chalicelib.domain.errors import Invalid

DEFAULT_LOCALE = "en_US"

# Stripe's minimum charge in minor units (docs.stripe.com/currencies, "Minimum and maximum
# charge amounts"): it applies to the account's settlement currency, so these hold for a
# business paid out in the currency it bills in. Stripe lists no minimum for KRW (no Stripe
# account settles in it): a KRW charge converts and must clear $0.50 or its equivalent, which
# ₩1,000 does at any rate of the last decade.
MIN_CHARGE: dict[str, int] = {
    "USD": 50,
    "CAD": 50,
    "AUD": 50,
    "NZD": 50,
    "EUR": 50,
    "GBP": 30,
    "CHF": 50,
    "SEK": 300,
    "NOK": 300,
    "DKK": 250,
    "PLN": 200,
    "CZK": 1500,
    "RON": 200,
    "MXN": 1000,
    "SGD": 50,
    "HKD": 400,
    "JPY": 50,
    "KRW": 1000,
}
SUPPORTED = tuple(MIN_CHARGE)

# Stripe: "8 digits for all other currencies, for a maximum charge of 999,999.99". Cards allow
# 10 digits in JPY, but JCB, Diners Club and Discover cards on Japanese accounts stay at 8, and
# the intent is made before the customer picks a card: 8 digits for every currency here.
MAX_CHARGE = 99_999_999

# ACH Direct Debit is USD only, for businesses in the United States (Stripe).
BANK_DEBIT = {"us_bank_account": ("USD", "US")}

# What a phone's SMS alphabet (GSM-7) lacks and Babel writes: no-break spaces around the
# symbol or between thousands (de_DE, fr_FR) and the true minus sign (sv_SE, nb_NO). One of
# them makes the whole text UCS-2: 70 characters a segment instead of 160.
PLAIN = str.maketrans({"\u00a0": " ", "\u202f": " ", "\u2212": "-"})


def require_currency(code: str) -> str:
    """The ISO 4217 code, upper-cased, if Fieldline bills in it."""
    upper = code.upper() if isinstance(code, str) else ""
    if upper not in MIN_CHARGE:
        raise Invalid(
            f"Fieldline does not bill in '{code}'",
            code="unsupported_currency",
            details=[{"supported": list(SUPPORTED)}],
        )
    return upper


def minor_units(code: str) -> int:
    """How many decimals the currency has: 2 for USD, 0 for JPY."""
    from babel.numbers import get_currency_precision

    return get_currency_precision(require_currency(code))


def min_charge_cents(code: str) -> int:
    return MIN_CHARGE[require_currency(code)]


def max_charge_cents(code: str) -> int:
    require_currency(code)
    return MAX_CHARGE


def check_chargeable(amount_cents: int, code: str) -> None:
    """Refuse an amount Stripe could never charge in one payment."""
    cap = max_charge_cents(code)
    if amount_cents > cap:
        shown = format_money(cap, code, DEFAULT_LOCALE)
        raise Invalid(
            f"{shown} is the most one payment can collect; split the work into several invoices",
            code="amount_too_large",
            details=[{"max_cents": cap, "currency": require_currency(code)}],
        )


def format_money(cents: int, code: str, locale: str) -> str:
    """The amount as the tenant's customers read it: $1,234.56 (en_US), 1.234,56 € (de_DE),
    ¥15,000. Exact: the integer is scaled as a Decimal, never through a float."""
    from babel.numbers import format_currency

    amount = Decimal(cents).scaleb(-minor_units(code))
    return format_currency(amount, require_currency(code), locale=locale).translate(PLAIN)


def payment_method_types(currency: str, country: str) -> list[str]:
    """What the pay page offers: cards everywhere, a US bank account for a US business billing
    in USD. Stripe refuses the whole PaymentIntent when one type does not fit its currency."""
    code = require_currency(currency)
    banks = [kind for kind, fits in BANK_DEBIT.items() if fits == (code, country.upper())]
    return ["card", *banks]
