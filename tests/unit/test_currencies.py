"""Money in every currency Fieldline bills in: minor units that agree with Stripe's, Stripe's
limits, amounts written the way the business's customers read them, and payment methods that
Stripe takes in the currency."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from chalicelib.domain import currencies
from chalicelib.domain import templates as texts
from chalicelib.domain.errors import Invalid
from chalicelib.domain.tenants import Tenant

# docs.stripe.com/currencies#zero-decimal: amounts in whole units. (ISK and UGX are zero-decimal
# for ISO but sent to Stripe with two decimals: they are not billed in, see the module.)
STRIPE_ZERO_DECIMAL = {
    *("BIF", "CLP", "DJF", "GNF", "JPY", "KMF", "KRW", "MGA"),
    *("PYG", "RWF", "VND", "VUV", "XAF", "XOF", "XPF"),
}


@pytest.mark.parametrize("code", currencies.SUPPORTED)
def test_every_currency_has_the_minor_units_stripe_counts_in(code):
    assert currencies.minor_units(code) == (0 if code in STRIPE_ZERO_DECIMAL else 2)


def test_three_decimal_and_special_case_currencies_are_not_billed_in():
    for code in ("KWD", "BHD", "JOD", "OMR", "TND", "ISK", "UGX", "HUF", "TWD"):
        with pytest.raises(Invalid) as refused:
            currencies.require_currency(code)
        assert refused.value.code == "unsupported_currency"


def test_a_currency_is_named_by_its_iso_code_in_any_case():
    assert currencies.require_currency("eur") == "EUR"
    for bad in ("XXX", "EURO", "", None, 978):
        with pytest.raises(Invalid) as refused:
            currencies.require_currency(bad)
        assert refused.value.code == "unsupported_currency"
        assert "USD" in refused.value.details[0]["supported"]


def test_stripe_charges_at_most_eight_digits_whatever_the_currency():
    assert currencies.max_charge_cents("USD") == 99_999_999  # $999,999.99
    assert currencies.max_charge_cents("JPY") == 99_999_999  # ¥99,999,999
    currencies.check_chargeable(99_999_999, "usd")

    with pytest.raises(Invalid) as refused:
        currencies.check_chargeable(1_000_000_000_000, "USD")  # $10,000,000,000.00
    assert refused.value.code == "amount_too_large"
    assert refused.value.details == [{"max_cents": 99_999_999, "currency": "USD"}]
    assert "$999,999.99" in refused.value.message


def test_the_smallest_charge_is_stripes_minimum_for_the_currency():
    assert currencies.min_charge_cents("USD") == 50  # $0.50
    assert currencies.min_charge_cents("GBP") == 30  # £0.30
    assert currencies.min_charge_cents("JPY") == 50  # ¥50, whole yen
    assert currencies.min_charge_cents("MXN") == 1000  # $10.00


@pytest.mark.parametrize(
    ("cents", "code", "locale", "shown"),
    [
        (123456, "USD", "en_US", "$1,234.56"),
        (-123456, "USD", "en_US", "-$1,234.56"),
        (5, "USD", "en_US", "$0.05"),
        (15000, "JPY", "en_US", "¥15,000"),
        (15000, "JPY", "ja_JP", "\uffe515,000"),  # Japanese writes the full-width yen sign
        (1_500_000, "KRW", "ko_KR", "₩1,500,000"),
        (123456, "EUR", "de_DE", "1.234,56 €"),
        (-123456, "EUR", "de_DE", "-1.234,56 €"),
        (123456, "EUR", "fr_FR", "1 234,56 €"),
        (123456, "CAD", "fr_CA", "1 234,56 $"),
        (123456, "CAD", "en_CA", "$1,234.56"),
        (123456, "GBP", "en_GB", "£1,234.56"),
        (-123456, "SEK", "sv_SE", "-1 234,56 kr"),
    ],
)
def test_amounts_read_as_the_businesss_customers_write_them(cents, code, locale, shown):
    assert currencies.format_money(cents, code, locale) == shown


def test_an_amount_is_exact_at_every_size():
    # A float would write 99999999.99 as 100,000,000.00 somewhere along the way.
    assert currencies.format_money(9_999_999_999, "USD", "en_US") == "$99,999,999.99"
    assert currencies.format_money(1, "EUR", "de_DE") == "0,01 €"


def test_a_text_with_an_amount_stays_in_the_sms_alphabet():
    # Babel's no-break spaces and minus sign are not GSM-7: one would make the whole text
    # UCS-2, 70 characters a segment instead of 160.
    for cents, code, locale in [(-123456, "EUR", "de_DE"), (123456, "EUR", "fr_FR")]:
        body = f"Your invoice: {currencies.format_money(cents, code, locale)} due Mon Mar 9"
        assert texts.segments(body)[0] == "GSM-7", body


def test_cards_everywhere_and_a_us_bank_account_only_for_usd_in_the_us():
    assert currencies.payment_method_types("USD", "US") == ["card", "us_bank_account"]
    assert currencies.payment_method_types("usd", "us") == ["card", "us_bank_account"]
    assert currencies.payment_method_types("USD", "CA") == ["card"]
    assert currencies.payment_method_types("CAD", "CA") == ["card"]
    assert currencies.payment_method_types("EUR", "US") == ["card"]


def _tenant(**fields) -> Tenant:
    return Tenant(tenant_id="t1", name="Acme", created_at=datetime.now(UTC), **fields)


def test_a_tenant_bills_in_a_supported_currency_and_writes_in_a_known_locale():
    tenant = _tenant(currency="jpy", locale="ja-jp")
    assert (tenant.currency, tenant.locale) == ("JPY", "ja_JP")
    assert _tenant().locale == "en_US"

    with pytest.raises(Invalid) as currency:
        _tenant(currency="XXX")
    assert currency.value.code == "unsupported_currency"
    # Babel would take en_ZZ for en_US: only a locale it has data for is accepted.
    for bad in ("en_ZZ", "klingon", "", None, "de_DE.UTF-8"):
        with pytest.raises(Invalid) as locale:
            _tenant(locale=bad)
        assert locale.value.code == "invalid_locale"
