"""Invoice and payment rules: the money math, the states, and what may never happen."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from chalicelib.domain import clock
from chalicelib.domain import invoices as rules
from chalicelib.domain.errors import Conflict, Invalid
from chalicelib.domain.jobs import Job
from chalicelib.domain.money import LineItem

NOON_UTC = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def fixed_clock():
    clock.set_clock(lambda: NOON_UTC)
    yield
    clock.set_clock(None)


def a_job(stage: str = "completed") -> Job:
    return Job(
        job_id="job1",
        customer_id="cust1",
        title="Water heater",
        stage=stage,
        created_at=NOON_UTC,
        updated_at=NOON_UTC,
    )


def line(price: int, quantity: int = 1, taxable: bool = True, text: str = "Work") -> LineItem:
    return LineItem(description=text, quantity=quantity, unit_price_cents=price, taxable=taxable)


def sent_invoice(lines: list[LineItem], rate_bps: int = 0, kind: str = "progress"):
    invoice, _ = rules.new_invoice(a_job(), kind, lines, rate_bps, "America/Chicago", "owner")
    rules.send(invoice, 1, "owner")
    return invoice


def pay(invoice: rules.Invoice, amount: int, method: str = "cash"):
    payment = rules.manual_payment(invoice, method, amount, None, "office")
    return payment, rules.receive(invoice, payment, "office")


def test_each_line_is_taxed_on_its_own_half_even_and_the_invoice_adds_them_up():
    # Given 8.25 % tax on two taxable lines whose tax falls on half a cent
    lines = [line(1000, quantity=2), line(1, quantity=2), line(5000, taxable=False)]

    # When the invoice is written
    invoice, created = rules.new_invoice(a_job(), "progress", lines, 825, "UTC", "owner")

    # Then tax is 165 + round_half_even(0.165 → 0), the untaxed line carries none
    assert [li.tax_cents for li in invoice.line_items] == [165, 0, 0]
    assert invoice.subtotal_cents == 2000 + 2 + 5000
    assert invoice.tax_cents == 165
    assert invoice.total_cents == invoice.subtotal_cents + invoice.tax_cents
    assert invoice.balance_cents == invoice.total_cents
    assert created.type == "InvoiceCreated"


def test_an_invoice_with_nothing_on_it_is_refused():
    with pytest.raises(Invalid):
        rules.new_invoice(a_job(), "progress", [], 0, "UTC", "owner")


def test_sending_numbers_the_invoice_and_dates_it_in_the_tenants_zone():
    # Given 03:00 UTC, which is still the evening before in Chicago
    clock.set_clock(lambda: datetime(2026, 3, 10, 3, 0, tzinfo=UTC))
    invoice, _ = rules.new_invoice(
        a_job(), "progress", [line(100)], 0, "America/Chicago", "owner", due_days=14
    )

    events = rules.send(invoice, 42, "owner")

    assert invoice.number == 42
    assert invoice.status == "sent"
    assert invoice.due_date == date(2026, 3, 23)  # 9 March + 14 days
    assert [e.type for e in events] == ["InvoiceSent"]


def test_a_sent_invoice_cannot_be_sent_again():
    invoice = sent_invoice([line(100)])
    with pytest.raises(Conflict):
        rules.send(invoice, 2, "owner")


def test_partial_payments_walk_the_invoice_to_paid():
    invoice = sent_invoice([line(10_000)])

    _, first = pay(invoice, 4_000)
    assert (invoice.status, invoice.balance_cents) == ("partially_paid", 6_000)
    assert [e.type for e in first] == ["PaymentRecorded"]

    _, second = pay(invoice, 6_000)
    assert (invoice.status, invoice.balance_cents) == ("paid", 0)
    assert [e.type for e in second] == ["PaymentRecorded", "InvoicePaid"]


def test_paying_more_than_the_balance_is_refused():
    invoice = sent_invoice([line(1_000)])
    pay(invoice, 600)
    with pytest.raises(Invalid) as raised:
        pay(invoice, 401)
    assert raised.value.code == "overpayment"
    assert invoice.amount_paid_cents == 600


@pytest.mark.parametrize("status", ["draft", "void", "paid"])
def test_draft_void_and_paid_invoices_take_no_payment(status):
    invoice, _ = rules.new_invoice(a_job(), "progress", [line(1_000)], 0, "UTC", "owner")
    if status != "draft":
        rules.send(invoice, 1, "owner")
    if status == "void":
        rules.void(invoice, "mistake", "owner")
    if status == "paid":
        pay(invoice, 1_000)

    with pytest.raises(Invalid) as raised:
        pay(invoice, 1)
    assert raised.value.code == "invoice_not_payable"


def test_money_kept_on_an_invoice_must_be_refunded_before_voiding():
    invoice = sent_invoice([line(1_000)])
    payment, _ = pay(invoice, 1_000)
    with pytest.raises(Conflict):
        rules.void(invoice, "wrong customer", "owner")

    refund = rules.settle_refund(payment, 1_000, "wrong customer", "owner")
    rules.give_back(invoice, payment, refund, "owner")
    rules.void(invoice, "wrong customer", "owner")
    assert (invoice.status, invoice.balance_cents) == ("void", 0)


def test_a_refund_reopens_the_balance_of_a_paid_invoice():
    invoice = sent_invoice([line(1_000)])
    payment, _ = pay(invoice, 1_000)

    refund = rules.settle_refund(payment, 250, "scratched floor", "owner")
    events = rules.give_back(invoice, payment, refund, "owner")

    assert (invoice.status, invoice.balance_cents) == ("partially_paid", 250)
    assert payment.status == "partially_refunded"
    assert [e.type for e in events] == ["RefundIssued", "InvoiceReopened"]
    assert invoice.paid_at is None


def test_refunding_more_than_was_paid_is_refused():
    invoice = sent_invoice([line(1_000)])
    payment, _ = pay(invoice, 400)
    with pytest.raises(Invalid) as raised:
        rules.check_refund(payment, 401)
    assert raised.value.code == "refund_exceeds_payment"


def card_payment(invoice: rules.Invoice, amount: int = 1_000) -> rules.Payment:
    payment = rules.online_payment(invoice, "pi_1", amount, "customer")
    rules.succeed(payment, amount, "ch_1", "card")
    rules.receive(invoice, payment, "stripe")
    return payment


def test_a_refund_reported_by_both_the_route_and_stripe_counts_once():
    invoice = sent_invoice([line(1_000)])
    payment = card_payment(invoice)
    rules.reserve_refund(payment, "rf_1", 300, "too expensive", "owner")

    # Stripe's charge.refunded (naming our refund id in its metadata) beats the route
    first = rules.settle_refund(payment, 300, "refunded in Stripe", "stripe", "re_1", "rf_1")
    again = rules.settle_refund(payment, 300, "too expensive", "owner", "re_1", "rf_1")

    assert first is not None and again is None
    assert payment.refunded_cents == 300 and payment.pending_refunds == []


def test_refunds_on_their_way_hold_their_amount_so_racing_refunds_cannot_exceed_the_payment():
    invoice = sent_invoice([line(1_000)])
    payment = card_payment(invoice)

    rules.reserve_refund(payment, "rf_1", 600, "first", "owner")
    rules.reserve_refund(payment, "rf_1", 600, "first, retried", "owner")  # the same refund
    assert payment.refundable_cents == 400
    with pytest.raises(Invalid) as raised:
        rules.reserve_refund(payment, "rf_2", 401, "second", "office")
    assert raised.value.code == "refund_exceeds_payment"

    # Stripe refused the first: its hold goes, and the money can be refunded again
    assert rules.release_refund(payment, "rf_1")
    assert payment.refundable_cents == 1_000


def test_a_lost_dispute_takes_the_money_and_reopens_the_invoice():
    invoice = sent_invoice([line(1_000)])
    payment = card_payment(invoice)
    assert invoice.status == "paid"

    assert rules.dispute(payment, "dp_1", "fraudulent")
    rules.flag_dispute(invoice, payment, "stripe")
    assert rules.close_dispute(payment, "dp_1", "lost", 1_000)
    events = rules.lose_dispute(invoice, payment, "stripe")

    assert [e.type for e in events] == ["DisputeLost", "InvoiceReopened"]
    assert (invoice.status, invoice.balance_cents, invoice.dispute_lost_cents) == (
        "sent",
        1_000,
        1_000,
    )
    assert payment.kept_cents == 0 and payment.refundable_cents == 0
    assert not rules.close_dispute(payment, "dp_1", "lost", 1_000)  # told twice: once


def test_a_won_dispute_leaves_the_payment_as_it_was():
    invoice = sent_invoice([line(1_000)])
    payment = card_payment(invoice)
    rules.dispute(payment, "dp_1", "fraudulent")
    rules.flag_dispute(invoice, payment, "stripe")

    assert rules.close_dispute(payment, "dp_1", "won", 1_000)
    won = rules.win_dispute(invoice, payment, "stripe")

    assert won.type == "DisputeWon" and not invoice.disputed
    assert (payment.status, payment.kept_cents, invoice.status) == ("succeeded", 1_000, "paid")


def test_a_late_failure_never_undoes_a_success():
    invoice = sent_invoice([line(1_000)])
    payment = rules.online_payment(invoice, "pi_1", 1_000, "customer")
    assert rules.succeed(payment, 1_000, "ch_1", "card")

    assert rules.fail(payment, "card declined", "stripe") is None
    assert payment.status == "succeeded"
    assert not rules.succeed(payment, 1_000, "ch_1", "card")  # a replay changes nothing


def test_a_failed_attempt_can_still_succeed_on_the_same_intent():
    invoice = sent_invoice([line(1_000)])
    payment = rules.online_payment(invoice, "pi_1", 1_000, "customer")
    assert rules.fail(payment, "card declined", "stripe") is not None

    assert rules.succeed(payment, 1_000, "ch_2", "card")
    assert payment.status == "succeeded" and payment.failure_message is None


def test_overdue_is_derived_from_the_due_date_in_the_tenants_zone():
    invoice = sent_invoice([line(100)])  # due 14 days after 10 March, Chicago
    assert invoice.due_date == date(2026, 3, 24)
    on_due_date = datetime(2026, 3, 25, 3, 0, tzinfo=UTC)  # still the 24th in Chicago
    day_after = datetime(2026, 3, 25, 6, 0, tzinfo=UTC)

    assert not invoice.is_overdue(on_due_date)
    assert invoice.is_overdue(day_after)
    pay(invoice, 100)
    assert not invoice.is_overdue(day_after)


@pytest.mark.parametrize(
    ("days", "bucket"),
    [(-5, "current"), (0, "current"), (1, "1-30"), (30, "1-30"), (31, "31-60"), (90, "61-90")]
    + [(91, "90+")],
)
def test_aging_buckets(days, bucket):
    assert rules.aging_bucket(days) == bucket


def test_stripe_money_beyond_the_balance_is_recorded_and_flagged_for_the_office():
    # Given a page opened for $10, then $4 paid in cash
    invoice = sent_invoice([line(1_000)])
    pay(invoice, 400)
    payment = rules.online_payment(invoice, "pi_old", 1_000, "customer")

    # When the customer still pays the old $10 intent
    rules.succeed(payment, 1_000, "ch_1", "card")
    events = rules.receive(invoice, payment, "stripe")

    # Then the money is on the invoice, which is paid, and the overpayment is called out
    assert invoice.status == "paid" and invoice.balance_cents == -400
    assert [e.type for e in events] == ["PaymentSucceeded", "InvoicePaid", "InvoiceOverpaid"]
    assert events[-1].data["overpaid_cents"] == 400
