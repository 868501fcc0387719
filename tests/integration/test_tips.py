"""Tips (issue 20): the customer adds a tip on the pay page; the charge includes it, the payment
keeps it apart, and the invoice and the job's ledger count only what pays the invoice."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from chalicelib.domain import reconciliation
from tests.integration import stripe_helpers as stripe
from tests.integration.helpers import Api
from tests.integration.stripe_helpers import given_work_completed, invoice, new_job, reload, work


@pytest.fixture
def sent_final(owner):
    """A completed job whose $180.00 final invoice has been sent."""
    job = new_job(owner)
    given_work_completed(owner, job["id"])
    return invoice(owner, job["id"], kind="final", line_items=work(18000))


def open_page(owner, bill, query: str = ""):
    return Api(owner.client, "").get(f"/public/invoices/{stripe.token_of(bill)}{query}")


def test_a_tip_is_charged_on_top_and_kept_apart_from_what_pays_the_invoice(owner, sent_final):
    # When the customer picks the 15 % tip on the pay page
    page = open_page(owner, sent_final, "?tip_percent=15")
    assert page.status_code == 200, page.body
    view = page.data
    # Then the intent charges the balance and the tip, and the presets are offered
    assert (view["balance_cents"], view["tip_cents"], view["charge_cents"]) == (18000, 2700, 20700)
    assert [p["percent"] for p in view["tip_presets"]] == [10, 15, 20]
    assert stripe.intent(view["payment_intent_id"])["amount"] == 20700

    # When they pay it with a card and Stripe's webhook arrives
    paid = stripe.pay_with_test_card(view["payment_intent_id"])
    delivered = stripe.deliver(owner, stripe.event("payment_intent.succeeded", paid))
    assert delivered.status_code == 200, delivered.body

    # Then the invoice is paid, not overpaid: the tip is on the payment, apart
    shown = reload(owner, sent_final)
    assert (shown["status"], shown["balance_cents"], shown["amount_paid_cents"]) == (
        "paid",
        0,
        18000,
    )
    [payment] = shown["payments"]
    assert (payment["amount_cents"], payment["tip_cents"], payment["kept_cents"]) == (
        18000,
        2700,
        18000,
    )
    assert owner.get(f"/jobs/{sent_final['job_id']}").data["stage"] == "paid"
    events = owner.get(f"/jobs/{sent_final['job_id']}/timeline").data["items"]
    assert "InvoiceOverpaid" not in [e["type"] for e in events]
    # And the customer's page shows the tip apart in the payments
    receipt = open_page(owner, sent_final).data
    assert [(p["amount_cents"], p["tip_cents"]) for p in receipt["payments"]] == [(18000, 2700)]


def test_an_amount_typed_in_and_changing_the_tip_replace_the_intent(owner, sent_final):
    first = open_page(owner, sent_final, "?tip=7.50").data
    assert (first["tip_cents"], first["charge_cents"]) == (750, 18750)
    # Changing the tip cancels the intent with the old amount and offers a new one
    second = open_page(owner, sent_final, "?tip_percent=20").data
    assert second["payment_intent_id"] != first["payment_intent_id"]
    assert stripe.intent(first["payment_intent_id"])["status"] == "canceled"
    assert second["charge_cents"] == 21600
    # The same tip again is the same intent
    again = open_page(owner, sent_final, "?tip_percent=20").data
    assert again["payment_intent_id"] == second["payment_intent_id"]


@pytest.mark.parametrize(
    "query",
    ["?tip_percent=12", "?tip=abc", "?tip=-5", "?tip=0.001", "?tip=180.01", "?tip=NaN", "?tip=1e9"],
)
def test_a_tip_the_rules_refuse_is_a_422(owner, sent_final, query):
    refused = open_page(owner, sent_final, query)
    assert refused.status_code == 422, refused.body
    assert refused.data["error"]["code"] in ("invalid_tip", "validation_error")


def test_the_pay_page_offers_the_tips_and_shows_a_paid_tip_apart(owner, sent_final):
    path = f"/p/invoices/{stripe.token_of(sent_final)}"
    html = owner.client.http.get(path).body.decode()
    assert 'id="tip-form"' in html and "15% ($27.00)" in html and "Pay $180.00" in html
    tipped = owner.client.http.get(path + "?tip_percent=10").body.decode()
    assert "Pay $198.00" in tipped and "$180.00 balance + $18.00 tip" in tipped
    refused = owner.client.http.get(path + "?tip=lots").body.decode()
    assert 'id="tip-error"' in refused and "Pay $180.00" in refused
    # Paid with a tip: the receipt shows the tip apart
    view = open_page(owner, sent_final, "?tip_percent=10").data
    paid = stripe.pay_with_test_card(view["payment_intent_id"])
    stripe.deliver(owner, stripe.event("payment_intent.succeeded", paid))
    receipt = owner.client.http.get(path).body.decode()
    assert "Paid — thank you" in receipt and "$18.00 tip" in receipt


def test_the_reconciliation_report_totals_tips_apart_from_the_charges():
    day = date(2030, 6, 3)
    moment = datetime(2030, 6, 3, 15, tzinfo=UTC)

    def charge(txn: str, cents: int, tip: int, currency: str = "USD"):
        return reconciliation.Entry(
            transaction_id=txn,
            type="charge",
            status=reconciliation.MATCHED,
            day=day,
            created_at=moment,
            amount_cents=cents,
            currency=currency,
            tip_cents=tip,
        )

    entries = [charge("txn_1", 20700, 2700), charge("txn_2", 5000, 0), charge("txn_3", 1100, 100)]
    report = reconciliation.report(day, entries)
    assert report["matched_amounts"] == [{"currency": "USD", "amount_cents": 26800}]
    assert report["tips"] == [{"currency": "USD", "amount_cents": 2800}]
