"""Quotes in the domain: pricing, limits and the customer's answer. No I/O."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.domain import clock
from chalicelib.domain import quotes as rules
from chalicelib.domain.errors import Conflict, Invalid
from chalicelib.domain.invoices import Invoice
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
    option = rules.price_option("Tower", lines, 825, None)
    per_line = rules.MAX_UNIT_PRICE_CENTS * rules.MAX_QUANTITY
    assert option.subtotal_cents == 100 * per_line
    assert option.tax_cents == 100 * (per_line * 825 // 10_000)
    # but no processor charges that much in one payment: such a quote is refused
    with pytest.raises(Invalid) as raised:
        quote_with(lines, rate_bps=825)
    assert raised.value.code == "amount_too_large"


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


# --- one live quote per job ------------------------------------------------------------------


def later(hours: int) -> None:
    clock.set_clock(lambda: NOW + timedelta(hours=hours))


def send_replacing(quotes: list[rules.Quote], quote: rules.Quote) -> list[str]:
    """Send `quote` as the service does; the ids of the quotes it superseded."""
    rules.send(quote, "office-1")
    return [old.quote_id for old, _ in rules.supersede_unanswered(quotes, quote, "office-1")]


def approve_replacing(quotes: list[rules.Quote], quote: rules.Quote) -> list[str]:
    rules.approve(quote, quote.options[0].option_id, "Dana", "customer")
    return [old.quote_id for old, _ in rules.supersede_scope(quotes, quote, "customer")]


def test_sending_a_new_quote_supersedes_the_sent_one_and_older_drafts_but_not_newer_drafts():
    # Given quote A sent, a draft B, and (later) drafts C and D
    a = sent(quote_with([line(100_000)]))
    b = quote_with([line(120_000)])
    later(1)
    c, d = quote_with([line(150_000)]), quote_with([line(90_000)])

    # When C is sent
    replaced = send_replacing([a, b, c, d], c)

    # Then A and B are superseded by C, with a timeline event each; D stays a draft
    assert sorted(replaced) == sorted([a.quote_id, b.quote_id])
    assert (a.status, a.superseded_by, a.superseded_at) == (
        "superseded",
        c.quote_id,
        NOW + timedelta(hours=1),
    )
    assert (b.status, b.superseded_by) == ("superseded", c.quote_id)
    assert (c.status, d.status) == ("sent", "draft")


def test_the_supersession_is_on_the_timeline_saying_what_replaced_what():
    a = sent(quote_with([line(100)]))
    b = quote_with([line(200)])
    rules.send(b, "office-1")
    [(quote, why)] = rules.supersede_unanswered([a, b], b, "office-1")
    assert quote is a
    assert why.type == "QuoteSuperseded"
    assert why.data == {
        "quote_id": a.quote_id,
        "superseded_by": b.quote_id,
        "previous_status": "sent",
    }


def test_a_superseded_quote_can_no_longer_be_approved_declined_or_sent():
    a = sent(quote_with([line(100)]))
    b = quote_with([line(200)])
    send_replacing([a, b], b)
    for answer in (
        lambda: rules.approve(a, a.options[0].option_id, "Dana", "customer"),
        lambda: rules.decline(a, None, "customer"),
    ):
        with pytest.raises(Conflict) as refused:
            answer()
        assert refused.value.code == "quote_superseded"
    with pytest.raises(Conflict) as refused:
        rules.send(a, "office-1")
    assert refused.value.code == "illegal_transition"


def test_a_quote_sent_after_an_approval_is_a_revision_the_approval_stays_the_scope():
    # Given quote A approved
    a = sent(quote_with([line(100_000)]))
    approve_replacing([a], a)

    # When revision B is sent
    later(1)
    b = quote_with([line(150_000)])
    replaced = send_replacing([a, b], b)

    # Then A is still approved and still the scope
    assert replaced == []
    assert a.status == "approved"
    assert rules.scope([a, b]) == (a, a.options[0])


def test_approving_a_revision_supersedes_the_earlier_approval_and_becomes_the_scope():
    a = sent(quote_with([line(100_000)]))
    approve_replacing([a], a)
    later(1)
    b = quote_with([line(150_000)])
    send_replacing([a, b], b)

    replaced = approve_replacing([a, b], b)

    assert replaced == [a.quote_id]
    assert (a.status, a.superseded_by) == ("superseded", b.quote_id)
    quote, option = rules.scope([a, b])
    assert quote is b and option.total_cents == b.options[0].total_cents


def test_declining_a_revision_leaves_the_earlier_approval_in_force():
    a = sent(quote_with([line(100_000)]))
    approve_replacing([a], a)
    later(1)
    b = quote_with([line(150_000)])
    send_replacing([a, b], b)

    rules.decline(b, "too dear", "customer")

    assert a.status == "approved"
    assert rules.scope([a, b]) == (a, a.options[0])


def test_nothing_approved_is_no_scope():
    a = sent(quote_with([line(100)]))
    b = quote_with([line(100)])
    assert rules.scope([]) is None
    assert rules.scope([a, b]) is None
    rules.decline(a, None, "customer")
    assert rules.scope([a, b]) is None


def test_of_two_approvals_in_older_data_the_latest_is_the_scope():
    first, second = sent(quote_with([line(100)])), sent(quote_with([line(200)]))
    rules.approve(second, second.options[0].option_id, "Dana", "customer")
    later(1)
    rules.approve(first, first.options[0].option_id, "Dana", "customer")
    assert rules.scope([first, second])[0] is first


def an_invoice(kind: str, status: str) -> Invoice:
    # Only what the rule reads: an invoice's kind and status.
    return Invoice.model_construct(kind=kind, status=status)


@pytest.mark.parametrize("status", ["sent", "partially_paid", "paid", "uncollectible"])
def test_a_sent_final_invoice_fixes_the_scope(status):
    with pytest.raises(Conflict) as refused:
        rules.require_scope_can_change([an_invoice("deposit", "paid"), an_invoice("final", status)])
    assert refused.value.code == "illegal_transition"
    assert refused.value.message == "the job is invoiced: bill more work on a new invoice"


def test_a_draft_or_void_final_or_any_other_invoice_leaves_the_scope_open():
    rules.require_scope_can_change(
        [
            an_invoice("final", "draft"),
            an_invoice("final", "void"),
            an_invoice("deposit", "paid"),
            an_invoice("progress", "sent"),
        ]
    )


# --- reading ----------------------------------------------------------------------------------


def test_the_current_quote_is_the_last_one_sent_else_the_latest_draft():
    first, second, third = (quote_with([line(100)]) for _ in range(3))
    assert rules.current_quote([]) is None
    assert rules.current_quote([first, second]) is second
    clock.set_clock(lambda: NOW + timedelta(hours=1))
    sent(first)
    assert rules.current_quote([first, second, third]) is first


def test_the_current_quote_is_never_one_a_newer_quote_replaced():
    # Given A approved, then revision B sent and approved (A superseded), then a draft C
    a = sent(quote_with([line(100)]))
    approve_replacing([a], a)
    later(1)
    b = quote_with([line(200)])
    send_replacing([a, b], b)
    later(2)
    approve_replacing([a, b], b)
    c = quote_with([line(300)])

    # Then the job's quote is B: A was replaced, C is not sent
    assert rules.current_quote([a, b, c]) is b


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
