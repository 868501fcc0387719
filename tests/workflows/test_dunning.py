"""Invoice dunning: dunning.asl.json executed by moto, waits on a virtual clock."""

from __future__ import annotations

from datetime import UTC, datetime

from tests.integration.stripe_helpers import invoice, new_job, work
from tests.workflows.helpers import outbox_bodies, texts

# Monday 2 June 2025, 10:00 in Chicago: the invoice goes out, due in 14 days (Monday 16 June).
SENT = datetime(2025, 6, 2, 15, 0, tzinfo=UTC)


def _at_ten_chicago(day: int, month: int = 6) -> datetime:
    return datetime(2025, month, day, 15, 0, tzinfo=UTC)  # 10:00 CDT


def test_dunning_stops_when_a_payment_arrives_between_two_steps(stage, virtual_time, owner):
    # Given an invoice of $120 sent today, due in 14 days
    virtual_time.advance_to(SENT)
    job = new_job(owner)
    sent = invoice(owner, job["id"], line_items=work(12000))
    assert sent["due_date"] == "2025-06-16"
    # When its first reminder (3 days before it is due) has gone out
    stage.run_until_idle(until=_at_ten_chicago(14))
    [first] = texts(owner, job["id"], "dunning")
    reminder = [b for b in outbox_bodies("Acme Plumbing") if "is due Mon Jun 16" in b]
    assert reminder and sent["link"] in reminder[0]
    # And the customer pays in cash before the next one
    paid = owner.post(
        f"/jobs/{job['id']}/invoices/{sent['id']}/payments",
        {"method": "cash", "amount_cents": 12000},
    )
    assert paid.status_code == 201, paid.body
    stage.run_until_idle()
    # Then the next step found the invoice paid and ended the execution without a text
    [execution] = stage.executions("dunning", sent["id"])
    assert execution["status"] == "SUCCEEDED"
    assert stage.output(execution["executionArn"])["outcome"] == "paid"
    assert virtual_time.waits_of(execution["name"]) == [_at_ten_chicago(13), _at_ten_chicago(16)]
    assert texts(owner, job["id"], "dunning") == [first]


def test_a_promise_to_pay_skips_the_reminders_until_its_date(stage, virtual_time, owner):
    # Given an invoice sent today, due on 16 June, whose dunning is waiting for its first step
    virtual_time.advance_to(SENT)
    job = new_job(owner)
    sent = invoice(owner, job["id"], line_items=work(12000))
    stage.pump()
    stage.settle()
    # When the office records the customer's promise to pay by 24 June
    promised = owner.post(
        f"/jobs/{job['id']}/invoices/{sent['id']}/pause-reminders",
        {"until": "2025-06-24", "note": "pays after payday"},
    )
    assert promised.status_code == 200, promised.body
    assert promised.data["paused_until"] == "2025-06-24"
    # And the promise is not kept
    stage.run_until_idle()
    # Then the steps of 13, 16, 19 and 23 June were skipped; 30 June and 16 July texted
    [execution] = stage.executions("dunning", sent["id"])
    assert virtual_time.waits_of(execution["name"]) == [
        _at_ten_chicago(13),
        _at_ten_chicago(30),
        _at_ten_chicago(16, month=7),
    ]
    assert len(texts(owner, job["id"], "dunning")) == 2
    # And after the last step the invoice went to collections and the office was told
    shown = owner.get(f"/jobs/{job['id']}/invoices/{sent['id']}").data
    assert shown["status"] == "uncollectible"
    events = [e["type"] for e in owner.get(f"/jobs/{job['id']}/timeline?limit=200").data["items"]]
    assert "PaymentPromised" in events and "InvoiceSentToCollections" in events
    assert len(texts(owner, job["id"], "collections")) == 1
    assert stage.output(execution["executionArn"])["outcome"] == "collections"
