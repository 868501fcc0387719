"""The job's ledger: the final invoice bills the scope once, and the stage follows the money."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from chalicelib.domain import clock, ledger
from chalicelib.domain import invoices as rules
from chalicelib.domain.errors import Conflict, Invalid
from chalicelib.domain.jobs import Job
from chalicelib.domain.money import LineItem
from chalicelib.domain.quotes import price_option

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


def scope(total: int = 100_000, deposit_percent: int | None = 25):
    line = LineItem(description="Install", unit_price_cents=total, taxable=False)
    return price_option("Better", [line], 0, deposit_percent)


def invoice(kind: str, lines: list[rules.BillLine], job: Job | None = None) -> rules.Invoice:
    made, _ = rules.new_invoice(job or a_job(), kind, lines, 0, "UTC", "owner")
    return made


def work(amount: int) -> list[rules.BillLine]:
    return rules.work_lines([LineItem(description="Extra", unit_price_cents=amount)])


def final(invoices: list[rules.Invoice], added: int = 0) -> rules.Invoice:
    return invoice("final", ledger.final_lines(scope(), work(added) if added else [], invoices))


def test_the_final_invoice_credits_a_deposit_that_is_sent_but_not_yet_paid():
    # Quote 1,000.00 with a 25 % deposit; the deposit invoice is sent, not paid
    deposit = invoice("deposit", ledger.deposit_lines(scope()))
    rules.send(deposit, 1, "owner")

    bill = final([deposit])

    # The final bills the other 750.00: 1,000.00 in all, never 1,250.00
    assert bill.total_cents == 75_000
    credit = bill.line_items[-1]
    assert (credit.kind, credit.credits_invoice_id, credit.unit_price_cents) == (
        "credit",
        deposit.invoice_id,
        -25_000,
    )


def test_progress_invoices_are_advances_on_the_scope_and_void_ones_are_not_credited():
    progress = invoice("progress", work(30_000))
    voided = invoice("progress", work(10_000))
    rules.void(voided, "typo", "owner")

    bill = final([progress, voided], added=5_000)

    assert bill.total_cents == 100_000 + 5_000 - 30_000
    assert [line.kind for line in bill.line_items] == ["scope", "work", "credit"]


def test_a_draft_final_follows_a_new_deposit_and_a_sent_one_never_changes():
    bill = final([])
    deposit = invoice("deposit", ledger.deposit_lines(scope()))
    invoices = [bill, deposit]

    repriced = ledger.reprice_final(invoices, scope(), "owner")

    assert repriced.type == "InvoiceRepriced" and bill.total_cents == 75_000
    assert ledger.reprice_final(invoices, scope(), "owner") is None  # nothing new
    rules.send(bill, 2, "owner")
    later = invoice("progress", work(1_000))  # extra work billed after the final: not credited
    assert ledger.reprice_final([*invoices, later], scope(), "owner") is None
    assert bill.total_cents == 75_000


def test_advances_beyond_the_scope_cannot_make_a_negative_final():
    advance = invoice("progress", work(150_000))
    with pytest.raises(Invalid) as raised:
        final([advance])
    assert raised.value.code == "nothing_to_bill"


def test_an_invoice_the_sent_final_credits_cannot_be_voided():
    deposit = invoice("deposit", ledger.deposit_lines(scope()))
    bill = final([deposit])
    ledger.check_voidable(deposit, [deposit, bill])  # a draft final follows instead
    rules.send(bill, 1, "owner")
    with pytest.raises(Conflict):
        ledger.check_voidable(deposit, [deposit, bill])


def paid(inv: rules.Invoice) -> rules.Invoice:
    rules.send(inv, 1, "owner")
    if inv.balance_cents > 0:
        payment = rules.manual_payment(inv, "cash", inv.balance_cents, None, "office")
        rules.receive(inv, payment, "office")
    return inv


@pytest.mark.parametrize(
    ("stage", "invoices", "expected"),
    [
        # A deposit paid after the work is done is not the job paid: no final yet
        ("completed", lambda: [paid(invoice("deposit", work(25_000)))], None),
        ("completed", lambda: [paid(invoice("final", work(100)))], "paid"),
        ("scheduled", lambda: [paid(invoice("final", work(100)))], "paid"),
        (
            "paid",
            lambda: [paid(invoice("final", work(100))), invoice("progress", work(5))],
            "invoiced",
        ),
        ("paid", lambda: [_voided(paid(invoice("final", work(0))))], "completed"),
        ("cancelled", lambda: [paid(invoice("final", work(100)))], None),
    ],
)
def test_the_stage_follows_the_money(stage, invoices, expected):
    assert ledger.money_stage(a_job(stage), invoices()) == expected


def _voided(inv: rules.Invoice) -> rules.Invoice:
    rules.void(inv, "wrong job", "owner")
    return inv


def test_a_refund_reopens_a_paid_job_and_the_timeline_says_why():
    job = a_job("invoiced")
    bill = invoice("final", work(50_000), job)
    rules.send(bill, 1, "owner")
    payment = rules.manual_payment(bill, "cash", 50_000, None, "office")
    rules.receive(bill, payment, "office")
    assert ledger.follow_money(job, [bill], "office", "payment").data["stage"] == "paid"

    refund = rules.settle_refund(payment, 10_000, "goodwill", "owner")
    rules.give_back(bill, payment, refund, "owner")
    moved = ledger.follow_money(job, [bill], "owner", "refund")

    assert (job.stage, moved.data["previous"], moved.data["cause"]) == (
        "invoiced",
        "paid",
        "refund",
    )


def test_the_final_bills_a_price_book_line_with_its_item_and_cost_for_job_costing():
    line = LineItem(
        description="Tune-up", unit_price_cents=12_000, item_id="item1", unit_cost_cents=4_000
    )
    billed = ledger.scope_lines(price_option("Good", [line], 0, None))
    assert [(b.item_id, b.unit_cost_cents, b.kind) for b in billed] == [("item1", 4_000, "scope")]
