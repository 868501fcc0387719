"""Invoices over HTTP: deposit to final, numbering, manual payments, refunds, receivables."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

from tests.integration.stripe_helpers import (
    approve_quote,
    given_work_completed,
    invoice,
    new_job,
    reload,
    work,
)

# chalicelib.services is imported inside tests: the store reads the settings on import,
# which must come after the session's moto server is up.

WATER_HEATER = [
    {"description": "50 gal water heater", "quantity": 1, "unit_price_cents": 90000},
    {"description": "Labour", "quantity": 4, "unit_price_cents": 12500, "taxable": False},
]


def test_a_deposit_from_the_quote_then_a_final_invoice_less_the_deposit_paid(owner):
    # Given 10 % tax and a quote approved with a 25 % deposit
    assert owner.patch("/settings", {"tax_rate_bps": 1000}).status_code == 200
    job = new_job(owner)
    option = approve_quote(owner, job["id"], WATER_HEATER, deposit_percent=25)
    assert option["total_cents"] == 90000 + 9000 + 50000

    # When the office bills the deposit and the customer pays it in cash
    deposit = invoice(owner, job["id"], kind="deposit")
    assert deposit["total_cents"] == option["deposit_cents"] == 37250
    assert deposit["tax_cents"] == 0
    paid = owner.post(
        f"/jobs/{job['id']}/invoices/{deposit['id']}/payments",
        {"method": "cash", "amount_cents": 37250},
    )
    assert paid.status_code == 201, paid.body
    assert paid.data["invoice"]["status"] == "paid"

    # And, the work done with a valve added on site, writes the final invoice
    extra = [{"description": "Shut-off valve", "quantity": 1, "unit_price_cents": 2000}]
    final = owner.post(f"/jobs/{job['id']}/invoices", {"kind": "final", "line_items": extra})

    # Then it bills the approved work plus the valve, taxed, less the deposit invoice
    assert final.status_code == 201, final.body
    lines = final.data["line_items"]
    assert [(line["description"], line["kind"]) for line in lines] == [
        ("50 gal water heater", "scope"),
        ("Labour", "scope"),
        ("Shut-off valve", "work"),
        ("Less deposit invoice #1", "credit"),
    ]
    assert lines[-1]["amount_cents"] == -37250 and lines[-1]["tax_cents"] == 0
    assert lines[-1]["credits_invoice_id"] == deposit["id"]
    assert final.data["subtotal_cents"] == 90000 + 50000 + 2000 - 37250
    assert final.data["tax_cents"] == 9000 + 200
    assert final.data["total_cents"] == 149000 + 2200 - 37250
    assert final.data["status"] == "draft"
    # And a second final invoice is refused
    again = owner.post(f"/jobs/{job['id']}/invoices", {"kind": "final"})
    assert again.status_code == 409
    assert again.data["error"]["code"] == "already_invoiced"


def test_an_invoice_with_nothing_to_bill_is_refused(owner):
    job = new_job(owner)
    for body in ({"kind": "deposit"}, {"kind": "final"}, {"kind": "progress"}):
        refused = owner.post(f"/jobs/{job['id']}/invoices", body)
        assert refused.status_code == 422, body
        assert refused.data["error"]["code"] == "nothing_to_bill"
    fractional = owner.post(
        f"/jobs/{job['id']}/invoices",
        {"kind": "progress", "line_items": [{"description": "x", "unit_price_cents": 12.5}]},
    )
    assert fractional.status_code == 422


def test_fifty_sends_at_once_all_get_gap_free_numbers(owner):
    from chalicelib.domain.callers import Caller
    from chalicelib.services import invoicing

    # Given a first invoice sent, and fifty drafts on fifty jobs
    first = invoice(owner, new_job(owner)["id"], line_items=work(1000))
    assert first["number"] == 1
    drafts = []
    for _ in range(50):
        job = owner.post("/leads", {"customer_id": first["customer_id"], "title": "Tune-up"}).data
        drafts.append(invoice(owner, job["id"], line_items=work(1000), send=False))
    office = Caller(tenant_id=owner.tenant_id, user_id="office-user", role="office")
    start_together = threading.Barrier(len(drafts))

    def send(draft):
        start_together.wait()
        return invoicing.send(office, draft["job_id"], draft["id"])["number"]

    # When the fifty are sent at the same moment
    with ThreadPoolExecutor(max_workers=len(drafts)) as pool:
        numbers = list(pool.map(send, drafts))

    # Then every send succeeds, they take 2..51, each once, and the next one is 52
    assert sorted(numbers) == list(range(2, 52))
    last = invoice(owner, new_job(owner)["id"], line_items=work(1000))
    assert last["number"] == 52


def test_a_number_a_send_could_not_use_goes_to_the_next_send(owner):
    # Given invoice #1 sent
    first = invoice(owner, new_job(owner)["id"], line_items=work(1000))
    # When it is sent again (refused: the number it took is given back)
    again = owner.post(f"/jobs/{first['job_id']}/invoices/{first['id']}/send")
    assert again.status_code == 409
    # Then the next invoice is #2: no gap
    assert invoice(owner, new_job(owner)["id"], line_items=work(1000))["number"] == 2


def test_a_number_given_back_is_the_next_one_taken_once(owner):
    from chalicelib.store import counters

    taken = counters.take(owner.tenant_id, "invoice")
    counters.give_back(owner.tenant_id, "invoice", taken)
    assert counters.take(owner.tenant_id, "invoice") == taken
    assert counters.take(owner.tenant_id, "invoice") == taken + 1


def test_sending_texts_the_customer_the_pay_link_and_tells_the_timeline(owner):
    # Given a completed job with a final invoice
    job = new_job(owner)
    given_work_completed(owner, job["id"])
    draft = invoice(owner, job["id"], kind="final", line_items=work(25000), send=False)
    assert draft["link"] is None

    # When it is sent
    sent = owner.post(f"/jobs/{job['id']}/invoices/{draft['id']}/send")

    # Then it is numbered and due in 14 days, the customer has the link, the job is invoiced
    assert sent.status_code == 200, sent.body
    assert sent.data["status"] == "sent" and sent.data["number"] == 1
    assert sent.data["due_date"] is not None
    outbox = owner.get("/dev/outbox?to=%2B13125550142").data["items"]
    assert sent.data["link"] in outbox[0]["body"]
    assert "$250.00" in outbox[0]["body"]
    assert "/p/invoices/" in sent.data["link"]
    assert owner.get(f"/jobs/{job['id']}").data["stage"] == "invoiced"
    timeline = [e["type"] for e in owner.get(f"/jobs/{job['id']}/timeline").data["items"]]
    # the pay link goes by text and, since the customer has an address, by email
    assert timeline[-4:] == ["InvoiceSent", "JobStageChanged", "MessageSent", "MessageSent"]
    # And sending it again is an illegal transition
    again = owner.post(f"/jobs/{job['id']}/invoices/{draft['id']}/send")
    assert again.status_code == 409
    assert again.data["error"]["code"] == "illegal_transition"


def test_cash_in_two_parts_pays_the_invoice_and_then_the_completed_job(owner):
    # Given a completed job with a final invoice of $300 sent
    job = new_job(owner)
    given_work_completed(owner, job["id"])
    bill = invoice(owner, job["id"], kind="final", line_items=work(30000))

    # When the technician collects $100 cash, and the office later takes a $200 check
    first = owner.post(
        f"/jobs/{job['id']}/invoices/{bill['id']}/payments",
        {"method": "cash", "amount_cents": 10000},
    )
    second = owner.post(
        f"/jobs/{job['id']}/invoices/{bill['id']}/payments",
        {"method": "check", "amount_cents": 20000, "reference": "check #1042"},
    )

    # Then the invoice goes partially paid → paid, and the job is paid
    assert first.status_code == 201, first.body
    assert first.data["invoice"]["status"] == "partially_paid"
    assert first.data["invoice"]["balance_cents"] == 20000
    assert second.data["invoice"]["status"] == "paid"
    assert second.data["reference"] == "check #1042"
    shown = owner.get(f"/jobs/{job['id']}").data
    assert shown["stage"] == "paid"
    assert shown["balance_cents"] == 0
    assert [i["status"] for i in shown["invoices"]] == ["paid"]
    assert len(reload(owner, bill)["payments"]) == 2
    timeline = [e["type"] for e in owner.get(f"/jobs/{job['id']}/timeline").data["items"]]
    assert timeline[-3:] == ["PaymentRecorded", "InvoicePaid", "JobStageChanged"]


def test_paying_more_than_the_balance_is_refused(owner):
    job = new_job(owner)
    bill = invoice(owner, job["id"], line_items=work(5000))
    owner.post(
        f"/jobs/{job['id']}/invoices/{bill['id']}/payments",
        {"method": "cash", "amount_cents": 3000},
    )

    over = owner.post(
        f"/jobs/{job['id']}/invoices/{bill['id']}/payments",
        {"method": "cash", "amount_cents": 2001},
    )

    assert over.status_code == 422
    assert over.data["error"]["code"] == "overpayment"
    assert reload(owner, bill)["balance_cents"] == 2000


def test_paying_a_void_or_draft_invoice_is_refused(owner):
    job = new_job(owner)
    bill = invoice(owner, job["id"], line_items=work(5000))
    draft = invoice(owner, job["id"], line_items=work(700), send=False)
    voided = owner.post(f"/jobs/{job['id']}/invoices/{bill['id']}/void", {"reason": "duplicate"})
    assert voided.status_code == 200, voided.body
    assert voided.data["status"] == "void" and voided.data["balance_cents"] == 0

    for target in (bill, draft):
        refused = owner.post(
            f"/jobs/{job['id']}/invoices/{target['id']}/payments",
            {"method": "cash", "amount_cents": 100},
        )
        assert refused.status_code == 422
        assert refused.data["error"]["code"] == "invoice_not_payable"


def test_an_invoice_with_money_on_it_cannot_be_voided_until_refunded(owner):
    # Given an invoice paid $50 in cash
    job = new_job(owner)
    bill = invoice(owner, job["id"], line_items=work(5000))
    owner.post(
        f"/jobs/{job['id']}/invoices/{bill['id']}/payments",
        {"method": "cash", "amount_cents": 5000},
    )
    refused = owner.post(f"/jobs/{job['id']}/invoices/{bill['id']}/void", {"reason": "oops"})
    assert refused.status_code == 409

    # When the cash is handed back (recorded only: no Stripe for cash)
    refund = owner.post(
        f"/jobs/{job['id']}/invoices/{bill['id']}/refunds",
        {"amount_cents": 5000, "reason": "billed the wrong job"},
    )

    # Then the balance reopens, and the invoice may be voided
    assert refund.status_code == 201, refund.body
    assert refund.data["stripe_refund_id"] is None
    assert refund.data["invoice"]["status"] == "sent"
    assert refund.data["invoice"]["balance_cents"] == 5000
    voided = owner.post(f"/jobs/{job['id']}/invoices/{bill['id']}/void", {"reason": "oops"})
    assert voided.status_code == 200
    too_much = owner.post(
        f"/jobs/{job['id']}/invoices/{bill['id']}/refunds", {"amount_cents": 1, "reason": "x"}
    )
    assert too_much.status_code == 422


def test_a_technician_on_the_job_records_cash_but_cannot_refund_or_bill(owner):
    # Given a technician with a visit on the job
    tech = owner.post("/technicians", {"name": "Sam Ortiz", "phone": "(312) 555-0177"}).data
    job = new_job(owner)
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
    bill = invoice(owner, job["id"], line_items=work(8000))
    technician = owner.as_role("technician", tech["id"])

    # When they collect cash on site
    cash = technician.post(
        f"/jobs/{job['id']}/invoices/{bill['id']}/payments",
        {"method": "cash", "amount_cents": 8000},
    )

    # Then it is recorded, but refunds and new invoices are for the office
    assert cash.status_code == 201, cash.body
    assert cash.data["recorded_by"] == tech["id"]
    refund = technician.post(
        f"/jobs/{job['id']}/invoices/{bill['id']}/refunds",
        {"amount_cents": 100, "reason": "x"},
    )
    assert refund.status_code == 403
    assert technician.post(f"/jobs/{job['id']}/invoices", {"kind": "final"}).status_code == 403
    # And a technician without a visit on another job cannot even see it
    other_job = new_job(owner, "Other")
    other_bill = invoice(owner, other_job["id"], line_items=work(100))
    unseen = technician.post(
        f"/jobs/{other_job['id']}/invoices/{other_bill['id']}/payments",
        {"method": "cash", "amount_cents": 100},
    )
    assert unseen.status_code == 404


def test_another_tenants_invoice_is_not_found(owner, other_owner):
    job = new_job(owner)
    bill = invoice(owner, job["id"], line_items=work(1000))
    path = f"/jobs/{job['id']}/invoices/{bill['id']}"

    assert other_owner.get(path).status_code == 404
    assert other_owner.post(f"{path}/send").status_code == 404
    paid = other_owner.post(f"{path}/payments", {"method": "cash", "amount_cents": 1})
    assert paid.status_code == 404
    assert other_owner.get("/invoices").data["items"] == []


def test_invoices_across_jobs_by_status_and_due_date_and_their_aging(owner):
    from chalicelib.domain import clock

    # Given three sent invoices (due in 14 days), one partly paid, one draft
    bills = [invoice(owner, new_job(owner)["id"], line_items=work(1000 * n)) for n in (1, 2, 3)]
    owner.post(
        f"/jobs/{bills[1]['job_id']}/invoices/{bills[1]['id']}/payments",
        {"method": "cash", "amount_cents": 500},
    )
    invoice(owner, new_job(owner)["id"], line_items=work(999), send=False)

    # Then the sent ones list by due date; status and due_before narrow it
    sent = owner.get("/invoices").data["items"]
    assert sorted(i["id"] for i in sent) == sorted([bills[0]["id"], bills[2]["id"]])
    partial = owner.get("/invoices?status=partially_paid").data["items"]
    assert [i["id"] for i in partial] == [bills[1]["id"]]
    due = sent[0]["due_date"]
    assert owner.get(f"/invoices?due_before={due}").data["items"] == []
    assert len(owner.get("/invoices?status=draft").data["items"]) == 1
    aging = owner.get("/reports/ar-aging").data
    buckets = {b["name"]: b for b in aging["buckets"]}
    assert buckets["current"]["invoice_count"] == 3
    assert aging["total_cents"] == 1000 + 1500 + 3000

    # When they are 45 days past due
    later = datetime.fromisoformat(f"{due}T18:00:00+00:00") + timedelta(days=45)
    clock.set_clock(lambda: later)
    try:
        aged = owner.get("/reports/ar-aging").data
        listed = owner.get("/invoices").data["items"]
    finally:
        clock.set_clock(None)

    # Then they are 31-60 days late, and overdue
    assert {b["name"]: b["invoice_count"] for b in aged["buckets"]}["31-60"] == 3
    assert all(i["overdue"] for i in listed)
