"""The job's money as a bookkeeper tries it (issue 14's cases), each on a fresh job.

The rules are chalicelib/domain/ledger.py; the stateful test (test_job_ledger_stateful.py)
drives random sequences through them. Races are barrier-released threads calling the
services, as the API's handlers do.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.integration import stripe_helpers as stripe
from tests.integration.stripe_helpers import (
    approve_quote,
    given_work_completed,
    invoice,
    new_job,
    pay_page,
    reload,
    work,
)

THOUSAND = [{"description": "Repipe bathroom", "quantity": 1, "unit_price_cents": 100000}]


def _job(owner) -> dict:
    return owner.get(f"/jobs/{new_job(owner)['id']}").data


def _shown(owner, job_id: str) -> dict:
    found = owner.get(f"/jobs/{job_id}")
    assert found.status_code == 200, found.body
    return found.data


def _cash(owner, bill: dict, amount: int):
    return owner.post(
        f"/jobs/{bill['job_id']}/invoices/{bill['id']}/payments",
        {"method": "cash", "amount_cents": amount},
    )


def _paid_by_card(owner, bill: dict) -> dict:
    """The customer pays the whole balance on the pay page; Stripe's webhook records it."""
    page = pay_page(owner, bill)
    assert page.status_code == 200, page.body
    paid = stripe.pay_with_test_card(page.data["payment_intent_id"])
    assert stripe.deliver(owner, stripe.event("payment_intent.succeeded", paid)).status_code == 200
    return paid


def _refund(owner, bill: dict, amount: int, key: str | None = None):
    headers = {"Idempotency-Key": key} if key else None
    return owner.post(
        f"/jobs/{bill['job_id']}/invoices/{bill['id']}/refunds",
        {"amount_cents": amount, "reason": "goodwill"},
        headers=headers,
    )


def _stage_changes(owner, job_id: str) -> list[dict]:
    timeline = owner.get(f"/jobs/{job_id}/timeline?limit=200").data["items"]
    return [e["data"] for e in timeline if e["type"] == "JobStageChanged"]


def _office(owner):
    from chalicelib.domain.callers import Caller

    return Caller(tenant_id=owner.tenant_id, user_id="office-user", role="office")


def _together(*calls):
    """Run the calls at the same moment; each answer is its result or its error code."""
    from chalicelib.domain.errors import FieldlineError

    start = threading.Barrier(len(calls))

    def run(call):
        start.wait()
        try:
            return call()
        except FieldlineError as refused:
            return refused.code

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(run, calls))


# --- 1 and 2: deposits are advances on the scope; paid means billed and settled --------------


def test_a_sent_unpaid_deposit_is_taken_off_the_final_so_the_customer_owes_the_quote(owner):
    # Given a 1,000.00 quote with a 25 % deposit, the deposit invoice sent but not paid
    job = _job(owner)
    approve_quote(owner, job["id"], THOUSAND, deposit_percent=25)
    deposit = invoice(owner, job["id"], kind="deposit")
    assert deposit["total_cents"] == 25000
    # When the work is done and the final invoice is written
    given_work_completed(owner, job["id"])
    final = invoice(owner, job["id"], kind="final")
    # Then it bills the other 750.00, and both together are the quote
    assert final["total_cents"] == 75000
    assert final["line_items"][-1]["credits_invoice_id"] == deposit["id"]
    # And when the customer pays both, the job is paid having collected 1,000.00
    assert _cash(owner, deposit, 25000).status_code == 201
    assert _cash(owner, final, 75000).status_code == 201
    shown = _shown(owner, job["id"])
    assert (shown["stage"], shown["balance_cents"]) == ("paid", 0)
    paid = sum(i["amount_paid_cents"] for i in shown["invoices"])
    assert paid == 100000


def test_a_deposit_paid_after_the_work_is_not_the_job_paid(owner):
    # Given the work done and the deposit then paid in cash
    job = _job(owner)
    approve_quote(owner, job["id"], THOUSAND, deposit_percent=25)
    deposit = invoice(owner, job["id"], kind="deposit")
    given_work_completed(owner, job["id"])
    assert _cash(owner, deposit, 25000).status_code == 201
    # Then the job is still completed: nothing has billed the rest yet
    assert _shown(owner, job["id"])["stage"] == "completed"
    # And the final invoice for the remaining 750.00 can be written, sent and paid
    final = invoice(owner, job["id"], kind="final")
    assert final["total_cents"] == 75000
    assert _shown(owner, job["id"])["stage"] == "invoiced"
    assert _cash(owner, final, 75000).status_code == 201
    assert _shown(owner, job["id"])["stage"] == "paid"


def test_a_final_waits_until_the_deposit_it_credits_is_sent(owner):
    # Given a deposit invoice written but still a draft, and the final that credits it
    job = _job(owner)
    approve_quote(owner, job["id"], THOUSAND, deposit_percent=25)
    deposit = invoice(owner, job["id"], kind="deposit", send=False)
    given_work_completed(owner, job["id"])
    final = invoice(owner, job["id"], kind="final", send=False)
    # When the office sends the final first, it is refused, naming the draft to send first
    path = f"/jobs/{job['id']}/invoices/{final['id']}/send"
    refused = owner.post(path)
    assert refused.status_code == 409, refused.body
    assert refused.data["error"]["code"] == "advance_unsent"
    assert refused.data["error"]["details"] == [{"invoice_id": deposit["id"], "kind": "deposit"}]
    # Then once the deposit is sent the final goes out, and the two bill the quote once
    sent = owner.post(f"/jobs/{job['id']}/invoices/{deposit['id']}/send")
    assert sent.status_code == 200, sent.body
    assert owner.post(path).status_code == 200
    shown = _shown(owner, job["id"])
    assert shown["stage"] == "invoiced"
    assert sum(i["total_cents"] for i in shown["invoices"]) == 100000


def test_a_follow_up_visit_can_be_booked_and_reported_on_a_paid_job(owner):
    # Given a paid job
    job = _job(owner)
    given_work_completed(owner, job["id"])
    final = invoice(owner, job["id"], kind="final", line_items=work(30000))
    assert _cash(owner, final, 30000).status_code == 201
    assert _shown(owner, job["id"])["stage"] == "paid"
    # When a warranty visit is booked and the technician reports it
    tech = owner.post(
        "/technicians", {"name": "Sam Ortiz", "phone": "(312) 555-0177", "skills": ["plumbing"]}
    ).data
    visit = owner.post(
        f"/jobs/{job['id']}/visits",
        {
            "window_start": "2030-06-03T09:00:00-05:00",
            "window_end": "2030-06-03T12:00:00-05:00",
            "duration_minutes": 60,
            "technician_ids": [tech["id"]],
        },
    )
    assert visit.status_code == 201, visit.body
    for status in ("en_route", "on_site", "completed"):
        reported = owner.post(
            f"/jobs/{job['id']}/visits/{visit.data['id']}/status", {"status": status}
        )
        assert reported.status_code == 200, reported.body
    # Then the job is still paid: the visit was work already billed
    assert _shown(owner, job["id"])["stage"] == "paid"


# --- 3: a refund reopens the job --------------------------------------------------------------


def test_a_refund_of_a_paid_job_reopens_it_and_more_can_be_billed(owner):
    # Given a paid 500.00 final invoice
    job = _job(owner)
    given_work_completed(owner, job["id"])
    final = invoice(owner, job["id"], kind="final", line_items=work(50000))
    assert _cash(owner, final, 50000).status_code == 201
    # When 100.00 is refunded
    refund = _refund(owner, final, 10000)
    assert refund.status_code == 201, refund.body
    assert refund.data["id"]
    # Then 100.00 is owed again, the job is invoiced and the timeline says why
    shown = _shown(owner, job["id"])
    assert (shown["stage"], shown["balance_cents"]) == ("invoiced", 10000)
    reopened = _stage_changes(owner, job["id"])[-1]
    assert (reopened["previous"], reopened["stage"], reopened["cause"]) == (
        "paid",
        "invoiced",
        "refund",
    )
    # And a new invoice can be written on it
    extra = owner.post(f"/jobs/{job['id']}/invoices", {"kind": "progress", "line_items": work(5)})
    assert extra.status_code == 201, extra.body


def test_a_new_invoice_on_a_paid_job_reopens_it_until_it_is_settled(owner):
    job = _job(owner)
    final = invoice(owner, job["id"], kind="final", line_items=work(20000))
    assert _cash(owner, final, 20000).status_code == 201
    assert _shown(owner, job["id"])["stage"] == "paid"
    extra = invoice(owner, job["id"], kind="progress", line_items=work(1500), send=False)
    assert _shown(owner, job["id"])["stage"] == "invoiced"
    voided = owner.post(f"/jobs/{job['id']}/invoices/{extra['id']}/void", {"reason": "typo"})
    assert voided.status_code == 200, voided.body
    assert _shown(owner, job["id"])["stage"] == "paid"


# --- 4: the final bills the scope the customer approved last ----------------------------------


def test_a_draft_final_bills_the_revision_once_the_customer_approves_it(owner):
    job = _job(owner)
    approve_quote(owner, job["id"], THOUSAND)
    draft = invoice(owner, job["id"], kind="final", send=False)
    assert draft["total_cents"] == 100000
    revision = [{"description": "Repipe and new fixtures", "unit_price_cents": 150000}]
    approve_quote(owner, job["id"], revision)
    repriced = owner.get(f"/jobs/{job['id']}/invoices/{draft['id']}").data
    assert repriced["total_cents"] == 150000
    assert [line["description"] for line in repriced["line_items"]] == ["Repipe and new fixtures"]


# --- 6: amounts a processor can charge --------------------------------------------------------


def test_an_invoice_above_what_stripe_can_charge_is_refused(owner):
    job = _job(owner)
    lines = [{"description": "Tower", "quantity": 10000, "unit_price_cents": 100_000_000}]
    refused = owner.post(f"/jobs/{job['id']}/invoices", {"kind": "progress", "line_items": lines})
    assert refused.status_code == 422, refused.body
    assert refused.data["error"]["code"] == "amount_too_large"
    assert _shown(owner, job["id"])["invoices"] == []


# --- 8: refunds, voids, disputes --------------------------------------------------------------


def test_a_refund_retried_with_its_idempotency_key_is_one_refund_even_after_it_was_recorded(
    owner,
):
    from chalicelib.services import payments

    # Given a 100.00 card payment
    job = _job(owner)
    bill = invoice(owner, job["id"], line_items=work(10000))
    paid = _paid_by_card(owner, bill)
    # When the refund is asked, recorded, and asked again with the same key (the answer lost)
    first = payments.refund(_office(owner), job["id"], bill["id"], 3000, "dent", None, "key-1")
    again = payments.refund(_office(owner), job["id"], bill["id"], 3000, "dent", None, "key-1")
    # Then it is one refund, here and at Stripe
    assert again["id"] == first["id"] and again["stripe_refund_id"] == first["stripe_refund_id"]
    assert stripe.charge(paid["latest_charge"]["id"])["amount_refunded"] == 3000
    assert reload(owner, bill)["refunded_cents"] == 3000


def test_voiding_an_invoice_closes_its_pay_page(owner):
    job = _job(owner)
    bill = invoice(owner, job["id"], line_items=work(10000))
    intent_id = pay_page(owner, bill).data["payment_intent_id"]
    voided = owner.post(f"/jobs/{job['id']}/invoices/{bill['id']}/void", {"reason": "duplicate"})
    assert voided.status_code == 200, voided.body
    assert stripe.intent(intent_id)["status"] == "canceled"


def test_a_lost_dispute_takes_the_money_back_and_reopens_the_job(owner):
    # Given a paid job, paid by card
    job = _job(owner)
    final = invoice(owner, job["id"], kind="final", line_items=work(18000))
    paid = _paid_by_card(owner, final)
    assert _shown(owner, job["id"])["stage"] == "paid"
    dispute = stripe.sample("charge.dispute.created")["data"]["object"]
    dispute |= {"payment_intent": paid["id"], "charge": paid["latest_charge"]["id"]}
    dispute |= {"amount": 18000, "currency": "usd", "status": "needs_response"}
    # When the customer's bank opens a dispute, then the business loses it
    assert stripe.deliver(owner, stripe.event("charge.dispute.created", dispute)).status_code == 200
    assert reload(owner, final)["disputed"] is True
    closed = stripe.event("charge.dispute.closed", {**dispute, "status": "lost"})
    assert stripe.deliver(owner, closed).data["outcome"] == "applied"
    assert stripe.deliver(owner, closed).data["outcome"] == "duplicate"
    # Then the money is no longer counted as paid, and the job is invoiced again
    shown = reload(owner, final)
    assert (shown["dispute_lost_cents"], shown["balance_cents"]) == (18000, 18000)
    assert shown["payments"][0]["kept_cents"] == 0
    assert _shown(owner, job["id"])["stage"] == "invoiced"
    timeline = owner.get(f"/jobs/{job['id']}/timeline?limit=200").data["items"]
    assert [e["type"] for e in timeline].count("DisputeLost") == 1


# --- 9: races on money ------------------------------------------------------------------------


def test_three_card_refunds_at_once_are_all_recorded_as_stripe_made_them(owner):
    from chalicelib.services import payments

    # Given one 100.00 card payment
    job = _job(owner)
    bill = invoice(owner, job["id"], line_items=work(10000))
    paid = _paid_by_card(owner, bill)
    office = _office(owner)

    def refund(amount):
        return lambda: payments.refund(office, job["id"], bill["id"], amount, "racing")

    # When refunds of 30, 40 and 20 are asked at the same moment
    answers = _together(refund(3000), refund(4000), refund(2000))

    # Then each succeeded with its own id, and what is recorded is what Stripe refunded
    assert all(isinstance(a, dict) and a["id"] for a in answers), answers
    assert len({a["id"] for a in answers}) == 3
    assert stripe.charge(paid["latest_charge"]["id"])["amount_refunded"] == 9000
    shown = reload(owner, bill)
    assert (shown["refunded_cents"], shown["balance_cents"]) == (9000, 9000)
    assert shown["payments"][0]["refunds"] and len(shown["payments"][0]["refunds"]) == 3


def test_refunds_racing_past_what_was_paid_let_only_what_fits_through(owner):
    from chalicelib.services import payments

    job = _job(owner)
    bill = invoice(owner, job["id"], line_items=work(10000))
    paid = _paid_by_card(owner, bill)
    office = _office(owner)
    answers = _together(
        *(lambda: payments.refund(office, job["id"], bill["id"], 4000, "racing") for _ in range(3))
    )
    assert sorted(a if isinstance(a, str) else "ok" for a in answers) == [
        "ok",
        "ok",
        "refund_exceeds_payment",
    ]
    assert stripe.charge(paid["latest_charge"]["id"])["amount_refunded"] == 8000
    assert reload(owner, bill)["refunded_cents"] == 8000


def test_a_refund_and_a_payment_at_once_both_count(owner):
    from chalicelib.services import payments

    # Given a 100.00 invoice half paid in cash
    job = _job(owner)
    bill = invoice(owner, job["id"], line_items=work(10000))
    assert _cash(owner, bill, 5000).status_code == 201
    office = _office(owner)
    # When 20.00 is refunded while the other 50.00 is recorded
    answers = _together(
        lambda: payments.refund(office, job["id"], bill["id"], 2000, "overcharged"),
        lambda: payments.record_payment(office, job["id"], bill["id"], "check", 5000, "#1042"),
    )
    # Then both are on the invoice
    assert all(isinstance(a, dict) for a in answers), answers
    shown = reload(owner, bill)
    assert (shown["amount_paid_cents"], shown["refunded_cents"]) == (10000, 2000)
    assert shown["balance_cents"] == 2000


def test_cash_recorded_while_the_pay_page_is_open_stops_the_card_paying_again(owner):
    # Given the customer's pay page open for 100.00
    job = _job(owner)
    bill = invoice(owner, job["id"], kind="final", line_items=work(10000))
    intent_id = pay_page(owner, bill).data["payment_intent_id"]
    # When the technician takes 100.00 in cash
    assert _cash(owner, bill, 10000).status_code == 201
    # Then the open intent is cancelled: the card can't pay it as well
    assert stripe.intent(intent_id)["status"] == "canceled"
    import stripe as stripe_sdk

    with pytest.raises(stripe_sdk.InvalidRequestError):
        stripe.pay_with_test_card(intent_id)
    shown = reload(owner, bill)
    assert (shown["amount_paid_cents"], shown["owed_back_cents"]) == (10000, 0)


def test_cash_racing_a_card_payment_in_flight_is_refused_not_doubled(owner):
    # Given a card payment Stripe has taken but whose webhook has not arrived
    job = _job(owner)
    bill = invoice(owner, job["id"], line_items=work(10000))
    paid = stripe.pay_with_test_card(pay_page(owner, bill).data["payment_intent_id"])
    # When cash is recorded for the same money
    refused = _cash(owner, bill, 10000)
    # Then it is refused until Stripe's word arrives, and then the invoice is paid once
    assert refused.status_code == 409, refused.body
    assert refused.data["error"]["code"] == "payment_processing"
    stripe.deliver(owner, stripe.event("payment_intent.succeeded", paid))
    shown = reload(owner, bill)
    assert (shown["status"], shown["amount_paid_cents"]) == ("paid", 10000)


def test_money_owed_back_is_shown_when_the_customer_paid_twice(owner):
    """Only a payment Stripe took around our checks can overpay; it is shown as owed back."""
    job = _job(owner)
    bill = invoice(owner, job["id"], line_items=work(10000))
    assert _cash(owner, bill, 10000).status_code == 201
    # Stripe reports a card payment for this invoice from an intent we never offered
    metadata = {"tenant_id": owner.tenant_id, "job_id": job["id"], "invoice_id": bill["id"]}
    intent = stripe.stripe_client().v1.payment_intents.create(
        params={"amount": 10000, "currency": "usd", "metadata": metadata}
    )
    paid = stripe.pay_with_test_card(intent.id)
    assert stripe.deliver(owner, stripe.event("payment_intent.succeeded", paid)).status_code == 200
    # Then the money is recorded, and shown as owed back to the customer
    shown = reload(owner, bill)
    assert (shown["status"], shown["owed_back_cents"]) == ("paid", 10000)
    assert _shown(owner, job["id"])["owed_back_cents"] == 10000


def test_a_quote_that_could_never_be_invoiced_is_refused(owner):
    job = _job(owner)
    lines = [{"description": "Tower", "quantity": 2, "unit_price_cents": 60_000_000}]
    refused = owner.post(
        f"/jobs/{job['id']}/quotes", {"options": [{"name": "Big", "line_items": lines}]}
    )
    assert refused.status_code == 422, refused.body
    assert refused.data["error"]["code"] == "amount_too_large"
