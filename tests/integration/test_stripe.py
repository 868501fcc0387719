"""Paying an invoice through Stripe: the pay page's PaymentIntent on localstripe, and the
signed webhook applied once, in any order, never moving an invoice backwards."""

from __future__ import annotations

import dataclasses
import json
import time

import pytest

from tests.integration import stripe_helpers as stripe
from tests.integration.helpers import Api
from tests.integration.stripe_helpers import (
    given_work_completed,
    invoice,
    new_job,
    pay_page,
    reload,
    work,
)


@pytest.fixture
def sent_final(owner):
    """A completed job whose $180.00 final invoice has been sent."""
    job = new_job(owner)
    given_work_completed(owner, job["id"])
    return invoice(owner, job["id"], kind="final", line_items=work(18000))


def paid_on_localstripe(owner, bill) -> dict:
    """The customer opens the pay page and pays with a test card on localstripe."""
    page = pay_page(owner, bill)
    assert page.status_code == 200, page.body
    paid = stripe.pay_with_test_card(page.data["payment_intent_id"])
    assert paid["status"] == "succeeded"
    return paid


def payments_of(owner, bill) -> list[dict]:
    return reload(owner, bill)["payments"]


def test_the_pay_page_offers_one_payment_intent_and_the_same_one_on_every_visit(owner, sent_final):
    # When the customer opens the texted link, twice
    first = pay_page(owner, sent_final)
    second = pay_page(owner, sent_final)

    # Then the page shows the invoice and a client secret for the whole balance
    assert first.status_code == 200, first.body
    assert first.data["business_name"] == "Acme Plumbing"
    assert first.data["balance_cents"] == 18000
    assert first.data["client_secret"].startswith(first.data["payment_intent_id"])
    # And the second visit reuses the same intent
    assert second.data["client_secret"] == first.data["client_secret"]
    intent = stripe.intent(first.data["payment_intent_id"])
    assert intent["amount"] == 18000 and intent["currency"] == "usd"
    assert intent["metadata"] == {
        "tenant_id": owner.tenant_id,
        "job_id": sent_final["job_id"],
        "invoice_id": sent_final["id"],
        "invoice_number": str(sent_final["number"]),
    }


def test_an_altered_link_or_a_draft_shows_nothing(owner):
    job = new_job(owner)
    draft = invoice(owner, job["id"], line_items=work(100), send=False)
    sent = invoice(owner, job["id"], line_items=work(100))
    token = stripe.token_of(sent)
    public = Api(owner.client, "")

    assert public.get(f"/public/invoices/{token[:-1]}x").status_code == 404
    assert public.get("/public/invoices/nonsense").status_code == 404
    assert draft["link"] is None


def test_a_card_payment_on_localstripe_pays_the_invoice_and_the_job(owner, sent_final):
    # Given the customer paid with a test card on localstripe
    paid = paid_on_localstripe(owner, sent_final)

    # When Stripe's signed payment_intent.succeeded arrives
    delivered = stripe.deliver(owner, stripe.event("payment_intent.succeeded", paid))

    # Then the invoice and the job are paid, and the payment is on the invoice
    assert delivered.status_code == 200, delivered.body
    assert delivered.data["outcome"] == "applied"
    shown = reload(owner, sent_final)
    assert (shown["status"], shown["balance_cents"]) == ("paid", 0)
    [payment] = shown["payments"]
    assert payment["method"] == "card" and payment["status"] == "succeeded"
    assert payment["stripe_payment_intent_id"] == paid["id"]
    assert owner.get(f"/jobs/{sent_final['job_id']}").data["stage"] == "paid"
    timeline = [
        e["type"] for e in owner.get(f"/jobs/{sent_final['job_id']}/timeline").data["items"]
    ]
    assert timeline[-4:] == ["PaymentStarted", "PaymentSucceeded", "InvoicePaid", "JobStageChanged"]
    # And the pay page now has nothing to pay
    after = pay_page(owner, sent_final).data
    assert after["client_secret"] is None and after["balance_cents"] == 0
    assert [p["amount_cents"] for p in after["payments"]] == [18000]


def test_the_same_event_delivered_ten_times_records_one_payment(owner, sent_final):
    paid = paid_on_localstripe(owner, sent_final)
    succeeded = stripe.event("payment_intent.succeeded", paid)

    outcomes = [stripe.deliver(owner, succeeded) for _ in range(10)]

    assert [o.status_code for o in outcomes] == [200] * 10
    assert [o.data["outcome"] for o in outcomes] == ["applied"] + ["duplicate"] * 9
    assert len(payments_of(owner, sent_final)) == 1
    assert reload(owner, sent_final)["amount_paid_cents"] == 18000


def test_a_forged_missing_or_malformed_signature_is_refused(owner, sent_final):
    paid = paid_on_localstripe(owner, sent_final)
    succeeded = json.dumps(stripe.event("payment_intent.succeeded", paid))

    forged = stripe.deliver(owner, succeeded, secret="whsec_someone_else")
    garbled = stripe.deliver(owner, succeeded, header="t=abc,v1=zzz")
    missing = Api(owner.client, "").call("POST", "/webhooks/stripe", succeeded)
    tampered_body = succeeded.replace('"amount": 18000', '"amount": 1')
    header = stripe.signature(succeeded, "whsec_local")
    tampered = stripe.deliver(owner, tampered_body, header=header)

    for response in (forged, garbled, missing, tampered):
        assert response.status_code == 400, response.body
        assert response.data["error"]["code"] == "invalid_signature"
    assert payments_of(owner, sent_final) == []
    assert reload(owner, sent_final)["status"] == "sent"


def test_a_body_that_is_not_an_event_is_refused_even_when_signed(owner):
    for body in ("not json", "[]", json.dumps({"id": "evt_1", "type": "x", "data": 3})):
        response = stripe.deliver(owner, body)
        assert response.status_code == 400, body
        assert response.data["error"]["code"] == "malformed_event"


def test_a_stale_signature_is_refused(owner, sent_final):
    paid = paid_on_localstripe(owner, sent_final)
    succeeded = stripe.event("payment_intent.succeeded", paid)

    stale = stripe.deliver(owner, succeeded, timestamp=int(time.time()) - 301)

    assert stale.status_code == 400
    assert stale.data["error"]["code"] == "invalid_signature"
    assert reload(owner, sent_final)["status"] == "sent"


def test_success_arriving_before_the_pay_page_was_ever_opened_applies_once(owner, sent_final):
    # Given a succeeded intent we never created nor indexed (its metadata names the invoice)
    sample = stripe.sample("payment_intent.succeeded")
    obj = sample["data"]["object"]
    obj.update({"id": "pi_early_bird_1", "amount": 18000, "amount_received": 18000})
    obj["metadata"] = {
        "tenant_id": owner.tenant_id,
        "job_id": sent_final["job_id"],
        "invoice_id": sent_final["id"],
    }
    early = stripe.event("payment_intent.succeeded", obj)

    # When it is delivered, then delivered again under a new event id (a replay by reconcile)
    first = stripe.deliver(owner, early)
    again = stripe.deliver(owner, {**early, "id": early["id"] + "_again"})

    # Then the payment counts once and the invoice is paid
    assert first.data["outcome"] == "applied"
    assert again.data["outcome"] == "unchanged"
    shown = reload(owner, sent_final)
    assert (shown["status"], shown["amount_paid_cents"]) == ("paid", 18000)
    assert [p["stripe_payment_intent_id"] for p in shown["payments"]] == ["pi_early_bird_1"]


def test_a_failure_is_recorded_and_leaves_the_balance_owed(owner, sent_final):
    page = pay_page(owner, sent_final).data
    sample = stripe.sample("payment_intent.payment_failed")
    failed_intent = {**sample["data"]["object"], **stripe.intent(page["payment_intent_id"])}
    failed_intent["last_payment_error"] = sample["data"]["object"]["last_payment_error"]

    delivered = stripe.deliver(owner, stripe.event("payment_intent.payment_failed", failed_intent))

    assert delivered.data["outcome"] == "applied"
    shown = reload(owner, sent_final)
    assert (shown["status"], shown["balance_cents"]) == ("sent", 18000)
    [payment] = shown["payments"]
    assert payment["status"] == "failed"
    assert payment["failure_message"] == "Your card has insufficient funds."
    # And the customer can try again with the same intent
    assert pay_page(owner, sent_final).data["client_secret"] == page["client_secret"]


def test_a_late_failure_after_success_never_moves_the_invoice_back(owner, sent_final):
    paid = paid_on_localstripe(owner, sent_final)
    stripe.deliver(owner, stripe.event("payment_intent.succeeded", paid))

    late = {**paid, "status": "requires_payment_method", "last_payment_error": {"code": "x"}}
    delivered = stripe.deliver(owner, stripe.event("payment_intent.payment_failed", late))

    assert delivered.status_code == 200
    assert delivered.data["outcome"] == "unchanged"
    shown = reload(owner, sent_final)
    assert shown["status"] == "paid"
    assert [p["status"] for p in shown["payments"]] == ["succeeded"]


def test_a_refund_through_localstripe_reopens_the_balance_and_counts_once(owner, sent_final):
    # Given a card payment, settled by its webhook
    paid = paid_on_localstripe(owner, sent_final)
    stripe.deliver(owner, stripe.event("payment_intent.succeeded", paid))

    # When the office refunds $30 of it
    refund = owner.post(
        f"/jobs/{sent_final['job_id']}/invoices/{sent_final['id']}/refunds",
        {"amount_cents": 3000, "reason": "scratched countertop"},
    )

    # Then Stripe refunded it, and the balance is owed again
    assert refund.status_code == 201, refund.body
    assert refund.data["stripe_refund_id"].startswith("re_")
    assert refund.data["invoice"]["status"] == "partially_paid"
    assert refund.data["invoice"]["balance_cents"] == 3000
    charge = stripe.charge(paid["latest_charge"]["id"])
    assert charge["amount_refunded"] == 3000
    # And Stripe's own charge.refunded afterwards changes nothing
    echoed = stripe.deliver(owner, stripe.event("charge.refunded", charge))
    assert echoed.data["outcome"] == "unchanged"
    [payment] = payments_of(owner, sent_final)
    assert (payment["status"], payment["refunded_cents"]) == ("partially_refunded", 3000)
    # And more than what is left to refund is refused
    over = owner.post(
        f"/jobs/{sent_final['job_id']}/invoices/{sent_final['id']}/refunds",
        {"amount_cents": 15001, "reason": "too much"},
    )
    assert over.status_code == 422
    assert over.data["error"]["code"] == "refund_exceeds_payment"


def test_a_refund_made_in_stripe_is_recorded_from_its_webhook(owner, sent_final):
    # Given a paid invoice, refunded in Stripe's dashboard (not through Fieldline)
    paid = paid_on_localstripe(owner, sent_final)
    stripe.deliver(owner, stripe.event("payment_intent.succeeded", paid))
    stripe.stripe_client().v1.refunds.create(params={"payment_intent": paid["id"]})
    charge = stripe.charge(paid["latest_charge"]["id"])

    # When charge.refunded arrives (twice)
    refunded = stripe.event("charge.refunded", charge)
    outcomes = [stripe.deliver(owner, refunded).data["outcome"] for _ in range(2)]

    # Then the whole amount is owed again, once
    assert outcomes == ["applied", "duplicate"]
    shown = reload(owner, sent_final)
    assert (shown["status"], shown["balance_cents"]) == ("sent", 18000)
    assert shown["payments"][0]["status"] == "refunded"
    # And the job, paid before, is invoiced again, and the timeline says why
    shown_job = owner.get(f"/jobs/{sent_final['job_id']}").data
    assert (shown_job["stage"], shown_job["balance_cents"]) == ("invoiced", 18000)
    timeline = owner.get(f"/jobs/{sent_final['job_id']}/timeline").data["items"]
    reopened = [e for e in timeline if e["type"] == "JobStageChanged"][-1]["data"]
    assert (reopened["previous"], reopened["stage"]) == ("paid", "invoiced")
    assert reopened["cause"] == "charge.refunded"


def test_a_dispute_flags_the_invoice(owner, sent_final):
    paid = paid_on_localstripe(owner, sent_final)
    stripe.deliver(owner, stripe.event("payment_intent.succeeded", paid))
    dispute = stripe.sample("charge.dispute.created")["data"]["object"]
    dispute.update({"payment_intent": paid["id"], "charge": paid["latest_charge"]["id"]})

    delivered = stripe.deliver(owner, stripe.event("charge.dispute.created", dispute))

    assert delivered.data["outcome"] == "applied"
    shown = reload(owner, sent_final)
    assert shown["disputed"] is True
    assert shown["payments"][0]["status"] == "disputed"
    timeline = owner.get(f"/jobs/{sent_final['job_id']}/timeline").data["items"]
    assert timeline[-1]["type"] == "PaymentDisputed"
    assert timeline[-1]["data"]["reason"] == "product_not_received"


def test_a_partial_cash_payment_replaces_the_intent_with_one_for_the_new_balance(owner, sent_final):
    first = pay_page(owner, sent_final).data
    owner.post(
        f"/jobs/{sent_final['job_id']}/invoices/{sent_final['id']}/payments",
        {"method": "cash", "amount_cents": 8000},
    )

    second = pay_page(owner, sent_final).data

    assert second["payment_intent_id"] != first["payment_intent_id"]
    assert stripe.intent(second["payment_intent_id"])["amount"] == 10000
    assert stripe.intent(first["payment_intent_id"])["status"] == "canceled"
    assert second["balance_cents"] == 10000


def test_events_for_nothing_of_ours_are_acknowledged_and_ignored(owner, sent_final):
    stranger = stripe.sample("payment_intent.succeeded")
    stranger["id"] = "evt_stranger_1"
    stranger["data"]["object"]["id"] = "pi_stranger_1"
    payout = stripe.sample("payout.paid")
    # An intent from another connected account naming our invoice is not believed
    other_account = stripe.sample("payment_intent.succeeded")
    other_account.update({"id": "evt_other_account_1", "account": "acct_someone_else"})
    other_account["data"]["object"].update({"id": "pi_other_account_1", "amount_received": 1})
    other_account["data"]["object"]["metadata"] = {
        "tenant_id": owner.tenant_id,
        "job_id": sent_final["job_id"],
        "invoice_id": sent_final["id"],
    }

    for stripe_event in (stranger, payout, other_account):
        delivered = stripe.deliver(owner, stripe_event)
        assert delivered.status_code == 200, delivered.body
        assert delivered.data["outcome"] == "ignored"
    assert reload(owner, sent_final)["status"] == "sent"


def test_stripe_unreachable_is_503_and_nothing_is_written(owner, sent_final, monkeypatch):
    from chalicelib.config import get_settings
    from chalicelib.integrations import payments_stripe
    from localstage.emulators import free_port

    # Given a card payment to refund later, then Stripe goes away
    paid = paid_on_localstripe(owner, sent_final)
    stripe.deliver(owner, stripe.event("payment_intent.succeeded", paid))
    other = invoice(owner, new_job(owner, "Gutter")["id"], line_items=work(500))
    before = owner.get(f"/jobs/{other['job_id']}/timeline?limit=200").data["items"]
    nowhere = dataclasses.replace(get_settings(), stripe_api_base=f"http://127.0.0.1:{free_port()}")
    monkeypatch.setattr(payments_stripe, "get_settings", lambda: nowhere)

    # When the customer opens a pay page and the office refunds
    page = pay_page(owner, other)
    refund = owner.post(
        f"/jobs/{sent_final['job_id']}/invoices/{sent_final['id']}/refunds",
        {"amount_cents": 1000, "reason": "goodwill"},
    )

    # Then both are 503 with a clear error, and nothing changed on our side
    for response in (page, refund):
        assert response.status_code == 503, response.body
        assert response.data["error"]["code"] == "stripe_unavailable"
        assert "Stripe" in response.data["error"]["message"]
        assert response.headers.get("Retry-After")
    assert reload(owner, other)["version"] == other["version"]
    after = owner.get(f"/jobs/{other['job_id']}/timeline?limit=200").data["items"]
    assert after == before
    shown = reload(owner, sent_final)
    assert (shown["status"], shown["refunded_cents"]) == ("paid", 0)
    # And once Stripe is back, the same page works
    monkeypatch.undo()
    assert pay_page(owner, other).data["client_secret"]
