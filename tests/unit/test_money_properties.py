"""Money never touches a float, and every cent is accounted for (hypothesis).

For any line items, tax rate, deposit percent and sequence of partial payments: totals are
subtotal + tax, the invoice's tax is the sum of its lines' taxes, the deposit plus the final
invoice is the whole job, and at every step what was paid plus what is owed is the total.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.domain import invoices as rules
from chalicelib.domain import ledger
from chalicelib.domain.jobs import Job
from chalicelib.domain.money import LineItem
from chalicelib.domain.quotes import price_option

JOB = Job(
    job_id="job1",
    customer_id="cust1",
    title="Roof",
    stage="completed",
    created_at=datetime(2026, 1, 1, tzinfo=UTC),
    updated_at=datetime(2026, 1, 1, tzinfo=UTC),
)

lines = st.lists(
    st.builds(
        LineItem,
        description=st.just("Work"),
        # 12 lines of at most 100 × 500.00, taxed 25 %, stay under what Stripe charges at once
        quantity=st.integers(1, 100),
        unit_price_cents=st.integers(0, 50_000),
        taxable=st.booleans(),
    ),
    min_size=1,
    max_size=12,
)
tax_rates = st.integers(0, 2_500)  # up to 25 %
deposit_percents = st.integers(1, 100)
# Each payment is a share (in thousandths) of what is still owed: always 1 ≤ amount ≤ balance.
payment_shares = st.lists(st.integers(1, 1_000), min_size=1, max_size=8)


def assert_no_float(value: Any, where: str = "invoice") -> None:
    assert not isinstance(value, float), f"{where} is a float"
    if isinstance(value, dict):
        for name, inner in value.items():
            assert_no_float(inner, f"{where}.{name}")
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            assert_no_float(inner, f"{where}[{index}]")
    if where.endswith("_cents") and value is not None:
        assert type(value) is int, f"{where} is {type(value).__name__}, not int"


def assert_adds_up(invoice: rules.Invoice) -> None:
    assert invoice.total_cents == invoice.subtotal_cents + invoice.tax_cents
    assert invoice.tax_cents == sum(line.tax_cents for line in invoice.line_items)
    assert invoice.subtotal_cents == sum(line.amount_cents for line in invoice.line_items)
    assert invoice.net_paid_cents + invoice.balance_cents == invoice.total_cents
    assert_no_float(invoice.model_dump(mode="python"))


def issue(kind: str, items: list[LineItem], rate: int) -> rules.Invoice:
    invoice, _ = rules.new_invoice(JOB, kind, items, rate, "America/Denver", "owner")
    rules.send(invoice, 1, "owner")
    return invoice


def pay_in_parts(invoice: rules.Invoice, shares: list[int]) -> None:
    for share in shares:
        if invoice.balance_cents == 0:
            break
        amount = max(1, invoice.balance_cents * share // 1_000)
        payment = rules.manual_payment(invoice, "check", amount, None, "office")
        rules.receive(invoice, payment, "office")
        assert_adds_up(invoice)
        assert type(payment.amount_cents) is int
        assert invoice.status in ("partially_paid", "paid")


@settings(max_examples=200, deadline=None)
@given(items=lines, rate=tax_rates, shares=payment_shares)
def test_partial_payments_and_balance_always_add_up_to_the_total(items, rate, shares):
    if sum(item.amount_cents for item in items) == 0:
        return  # nothing to bill is refused elsewhere
    invoice = issue("progress", items, rate)
    assert_adds_up(invoice)

    pay_in_parts(invoice, shares)

    assert invoice.status == ("paid" if invoice.balance_cents == 0 else "partially_paid")


@settings(max_examples=200, deadline=None)
@given(items=lines, rate=tax_rates, percent=deposit_percents, shares=payment_shares)
def test_the_deposit_and_the_final_invoice_together_bill_the_whole_job(
    items, rate, percent, shares
):
    # Given the approved option with the deposit it asks for
    scope = price_option("Best", items, rate, percent)
    if not scope.deposit_cents:
        return

    # When the deposit is paid in parts, and the final invoice is written after
    deposit = issue("deposit", ledger.deposit_lines(scope), rate)
    assert deposit.total_cents == scope.deposit_cents  # a deposit is not taxed twice
    pay_in_parts(deposit, shares + [1_000])
    final, _ = rules.new_invoice(
        JOB, "final", ledger.final_lines(scope, [], [deposit]), rate, "UTC", "owner"
    )

    # Then not a cent is lost or added
    assert_adds_up(final)
    assert deposit.total_cents + final.total_cents == scope.total_cents
    assert final.tax_cents == scope.tax_cents
