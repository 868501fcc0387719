"""A job's quote, visits, invoices and notes, as the job shows them and as lists of their own."""

from __future__ import annotations

from tests.integration.stripe_helpers import invoice, work
from tests.integration.test_quotes import a_sent_quote

WINDOW = {"window_start": "2030-06-03T09:00:00-05:00", "window_end": "2030-06-03T12:00:00-05:00"}
INTERNAL = {"payment_intent_id", "payment_intent_amount_cents", "net_paid_cents", "created_by"}


def _job_with_children(owner):
    job_id, quote, _ = a_sent_quote(owner)
    tech = owner.post("/technicians", {"name": "Sam Ortiz", "phone": "312-555-0111"}).data
    visit = owner.post(
        f"/jobs/{job_id}/visits", {**WINDOW, "duration_minutes": 60, "technician_ids": [tech["id"]]}
    ).data
    note = owner.post(f"/jobs/{job_id}/notes", {"text": "Gate code 4411"}).data
    bill = invoice(owner, job_id, line_items=work(5000), send=False)
    return job_id, quote, visit, note, bill, tech


def test_the_job_shows_its_children_typed_each_with_its_id(owner):
    job_id, quote, visit, note, bill, _ = _job_with_children(owner)

    shown = owner.get(f"/jobs/{job_id}").data

    assert shown["quote"]["id"] == quote["id"] and shown["quote"]["status"] == "sent"
    assert [v["id"] for v in shown["visits"]] == [visit["id"]]
    assert [n["id"] for n in shown["notes"]] == [note["id"]]
    [listed] = shown["invoices"]
    assert listed["id"] == bill["id"] and listed["status"] == "draft"
    assert not INTERNAL & set(listed)
    # The names clients read before `id` are still there, the same
    assert shown["quote"]["quote_id"] == quote["id"] and listed["invoice_id"] == bill["id"]
    assert shown["visits"][0]["visit_id"] == visit["id"]
    assert shown["visit_count"] == shown["open_visit_count"] == 1


def test_a_technician_sees_the_quotes_work_without_its_prices(owner):
    job_id, quote, _, _, _, tech = _job_with_children(owner)
    technician = owner.as_role("technician", tech["id"])

    shown = technician.get(f"/jobs/{job_id}").data["quote"]

    assert [o["id"] for o in shown["options"]] == [o["id"] for o in quote["options"]]
    option = shown["options"][0]
    assert option["line_items"][0]["description"] == "Cartridge"
    assert option["total_cents"] is None and option["line_items"][0]["unit_price_cents"] is None


def test_each_kind_of_child_is_listed_on_its_own(owner):
    job_id, quote, visit, note, bill, _ = _job_with_children(owner)
    for path, child in (
        ("quotes", quote),
        ("visits", visit),
        ("notes", note),
        ("invoices", bill),
    ):
        page = owner.get(f"/jobs/{job_id}/{path}").data
        assert [item["id"] for item in page["items"]] == [child["id"]], path
        assert page["next_cursor"] is None
    across = owner.get(f"/invoices?job_id={job_id}").data
    assert [i["id"] for i in across["items"]] == [bill["id"]]


def test_a_jobs_invoices_are_every_status_so_a_status_filter_with_it_is_refused(owner):
    job_id, *_ = _job_with_children(owner)
    refused = owner.get(f"/invoices?job_id={job_id}&status=paid")
    assert refused.status_code == 422
    assert refused.data["error"]["code"] == "validation_error"
