"""Quotes in the domain: pricing, limits and the customer's answer. No I/O."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.domain import clock
from chalicelib.domain import quotes as rules
from chalicelib.domain.errors import Conflict, Invalid
from chalicelib.domain.money import LineItem

NOW = datetime(2025, 3, 10, 15, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def frozen_clock():
    clock.set_clock(lambda: NOW)
    yield
    clock.set_clock(None)


def line(price: int, quantity: int = 1, taxable: bool = True) -> LineItem:
    return LineItem(description="work", quantity=quantity, unit_price_cents=price, taxable=taxable)


def quote_with(*options: list[LineItem], rate_bps: int = 825, deposit: int | None = None):
    named = [(f"option {i}", lines) for i, lines in enumerate(options)]
    quote, _ = rules.new_quote("job-1", "USD", rate_bps, named, "office-1", deposit_percent=deposit)
    return quote


def sent(quote: rules.Quote) -> rules.Quote:
    rules.send(quote, "office-1")
    return quote


# --- pricing ----------------------------------------------------------------------------------


def test_an_option_totals_its_lines_and_taxes_only_the_taxable_ones():
    # Given two taxable faucets and an untaxed labour line at 8.25 %
    quote = quote_with([line(1999, quantity=2), line(5000, taxable=False)])

    # Then
    option = quote.options[0]
    assert option.subtotal_cents == 2 * 1999 + 5000
    assert option.tax_cents == 330  # 3998 * 0.0825 = 329.835
    assert option.total_cents == 8998 + 330
    assert [li.amount_cents for li in option.line_items] == [3998, 5000]
    assert [li.tax_cents for li in option.line_items] == [330, 0]


def test_tax_is_rounded_half_even_on_each_line_not_on_the_sum():
    # Given ten one-cent lines taxed at 50 %: half a cent each, which rounds to even (0)
    quote = quote_with([line(1) for _ in range(10)], rate_bps=5000)

    # Then no tax at all, although 10 cents at 50 % would be 5 cents on the sum
    assert quote.options[0].tax_cents == 0
    assert quote.options[0].total_cents == 10


@pytest.mark.parametrize(
    ("price", "expected_tax"),
    [(1, 0), (3, 2), (5, 2), (7, 4)],  # 0.5 → 0, 1.5 → 2, 2.5 → 2, 3.5 → 4
)
def test_a_half_cent_of_tax_goes_to_the_even_cent(price, expected_tax):
    quote = quote_with([line(price)], rate_bps=5000)
    assert quote.options[0].tax_cents == expected_tax


@pytest.mark.parametrize(
    ("total", "percent", "deposit"),
    [(1001, 25, 250), (1002, 25, 250), (1006, 25, 252), (999, 0, 0), (999, 100, 999)],
)
def test_the_deposit_is_a_percent_of_the_option_total_rounded_half_even(total, percent, deposit):
    quote = quote_with([line(total, taxable=False)], deposit=percent)
    assert quote.options[0].deposit_cents == deposit


def test_without_a_deposit_percent_no_option_asks_for_a_deposit():
    quote = quote_with([line(1000)], [line(2000)])
    assert [o.deposit_cents for o in quote.options] == [None, None]


def test_a_new_quote_is_a_draft_that_expires_in_thirty_days_with_its_own_option_ids():
    quote = quote_with([line(100)], [line(200)], [line(300)])
    assert quote.status == "draft"
    assert quote.expires_at == NOW + timedelta(days=30)
    assert len({o.option_id for o in quote.options}) == 3
    assert all(o.status == "pending" for o in quote.options)


# --- limits -----------------------------------------------------------------------------------


@pytest.mark.parametrize("count", [0, 4])
def test_a_quote_has_one_to_three_options(count):
    with pytest.raises(Invalid):
        quote_with(*[[line(100)] for _ in range(count)])


@pytest.mark.parametrize("count", [0, 101])
def test_an_option_has_one_to_a_hundred_line_items(count):
    with pytest.raises(Invalid):
        quote_with([line(100) for _ in range(count)])


def test_a_hundred_line_items_and_the_largest_amounts_are_still_exact():
    lines = [line(rules.MAX_UNIT_PRICE_CENTS, quantity=rules.MAX_QUANTITY) for _ in range(100)]
    quote = quote_with(lines, rate_bps=825)
    per_line = rules.MAX_UNIT_PRICE_CENTS * rules.MAX_QUANTITY
    assert quote.options[0].subtotal_cents == 100 * per_line
    assert quote.options[0].tax_cents == 100 * (per_line * 825 // 10_000)


@pytest.mark.parametrize(
    "bad_line",
    [
        line(100, quantity=0),
        line(100, quantity=rules.MAX_QUANTITY + 1),
        line(-1),
        line(rules.MAX_UNIT_PRICE_CENTS + 1),
    ],
)
def test_quantities_and_prices_stay_within_bounds(bad_line):
    with pytest.raises(Invalid):
        quote_with([bad_line])


@pytest.mark.parametrize("percent", [-1, 101])
def test_a_deposit_is_zero_to_a_hundred_percent(percent):
    with pytest.raises(Invalid):
        quote_with([line(100)], deposit=percent)


@pytest.mark.parametrize("expires_at", [NOW, NOW - timedelta(days=1), datetime(2030, 1, 1)])
def test_a_quote_expires_in_the_future_at_a_moment_with_an_offset(expires_at):
    with pytest.raises(Invalid):
        rules.new_quote("job-1", "USD", 0, [("a", [line(1)])], "office-1", expires_at=expires_at)


# --- the customer's answer --------------------------------------------------------------------


def test_approving_an_option_declines_the_others_and_records_the_signature():
    quote = sent(quote_with([line(100)], [line(200)], [line(300)], deposit=10))
    better = quote.options[1]

    approved = rules.approve(quote, better.option_id, "Dana Whitfield", "customer", "10.0.0.1")

    assert quote.status == "approved"
    assert [o.status for o in quote.options] == ["declined", "approved", "declined"]
    assert approved.type == "QuoteApproved"
    assert approved.data["option_id"] == better.option_id
    assert approved.data["signed_by"] == "Dana Whitfield"
    assert approved.data["ip"] == "10.0.0.1"
    assert approved.data["total_cents"] == better.total_cents


def test_approving_the_same_option_twice_changes_nothing_the_second_time():
    quote = sent(quote_with([line(100)], [line(200)]))
    rules.approve(quote, quote.options[0].option_id, "Dana", "customer")
    before = quote.model_copy(deep=True)

    again = rules.approve(quote, quote.options[0].option_id, "Someone else", "customer")

    assert again is None
    assert quote == before


def test_approving_another_option_after_approval_is_a_conflict():
    quote = sent(quote_with([line(100)], [line(200)]))
    rules.approve(quote, quote.options[0].option_id, "Dana", "customer")
    with pytest.raises(Conflict):
        rules.approve(quote, quote.options[1].option_id, "Dana", "customer")


def test_an_unknown_option_cannot_be_approved():
    quote = sent(quote_with([line(100)]))
    with pytest.raises(Invalid):
        rules.approve(quote, "not-an-option", "Dana", "customer")


def test_a_draft_cannot_be_approved_or_declined():
    quote = quote_with([line(100)])
    with pytest.raises(Conflict):
        rules.approve(quote, quote.options[0].option_id, "Dana", "customer")
    with pytest.raises(Conflict):
        rules.decline(quote, None, "customer")


def test_declining_declines_every_option_once():
    quote = sent(quote_with([line(100)], [line(200)]))
    declined = rules.decline(quote, "too expensive", "customer")
    assert declined.type == "QuoteDeclined"
    assert quote.status == "declined"
    assert {o.status for o in quote.options} == {"declined"}
    assert rules.decline(quote, "again", "customer") is None
    with pytest.raises(Conflict):
        rules.approve(quote, quote.options[0].option_id, "Dana", "customer")


def test_an_answered_quote_cannot_be_sent_but_a_sent_one_may_be_sent_again():
    quote = quote_with([line(100)])
    assert rules.send(quote, "office-1").type == "QuoteSent"
    assert rules.send(quote, "office-1") is None
    rules.approve(quote, quote.options[0].option_id, "Dana", "customer")
    with pytest.raises(Conflict) as refused:
        rules.send(quote, "office-1")
    assert refused.value.code == "illegal_transition"


def test_an_expired_quote_cannot_be_sent():
    quote = quote_with([line(100)])
    clock.set_clock(lambda: NOW + timedelta(days=31))
    with pytest.raises(Conflict):
        rules.send(quote, "office-1")


# --- reading ----------------------------------------------------------------------------------


def test_the_current_quote_is_the_last_one_sent_else_the_latest_draft():
    first, second, third = (quote_with([line(100)]) for _ in range(3))
    assert rules.current_quote([]) is None
    assert rules.current_quote([first, second]) is second
    clock.set_clock(lambda: NOW + timedelta(hours=1))
    sent(first)
    assert rules.current_quote([first, second, third]) is first


def test_technicians_see_the_work_without_the_prices():
    quote = quote_with([line(100)], deposit=50)
    view = rules.office_view(quote, with_prices=False)
    text = repr(view)
    assert "_cents" not in text and "deposit_percent" not in text
    assert view["options"][0]["line_items"][0]["description"] == "work"


def test_the_customer_sees_option_ids_but_no_other_ids():
    quote = quote_with([line(100)])
    view = rules.customer_view(quote, "Acme Plumbing", "Leaky faucet")
    text = repr(view)
    assert quote.quote_id not in text and quote.job_id not in text
    assert "office-1" not in text
    assert view["options"][0]["id"] == quote.options[0].option_id
