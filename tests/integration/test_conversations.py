"""Two-way texting: signed inbound texts, opt-out, confirmations, delivery status, templates."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.integrations.sms import OUTBOX
from tests.integration.helpers import CUSTOMER
from tests.integration.twilio_helpers import inbound, status

CUSTOMER_PHONE = "+13125550142"
_sids = itertools.count()


def _sid() -> str:
    return f"SM{next(_sids):032d}"


_numbers = itertools.count(1000)


@pytest.fixture
def shop(owner):
    """A business with its own texting number (a number belongs to one tenant only)."""
    global BUSINESS_NUMBER
    BUSINESS_NUMBER = f"+1773555{next(_numbers):04d}"
    patched = owner.patch(
        "/settings", {"twilio_from_number": BUSINESS_NUMBER, "phone": "312-555-0199"}
    )
    assert patched.status_code == 200, patched.body
    customer = owner.post("/customers", CUSTOMER).data
    job = owner.post("/leads", {"customer_id": customer["id"], "title": "Furnace tune-up"}).data
    return owner, customer, job


def _schedule_visit(owner, job_id: str, days_ahead: int = 2) -> dict:
    tech = owner.post(
        "/technicians",
        {
            "name": "Sam Rivera",
            "phone": "312-555-0111",
            "skills": ["hvac"],
            "shift": {
                "days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
                "start": "00:00",
                "end": "23:59",
            },
        },
    ).data
    start = (datetime.now(UTC) + timedelta(days=days_ahead)).replace(
        hour=15, minute=0, second=0, microsecond=0
    )
    visit = owner.post(
        f"/jobs/{job_id}/visits",
        {
            "window_start": start.isoformat(),
            "window_end": (start + timedelta(hours=2)).isoformat(),
            "duration_minutes": 60,
            "technician_ids": [tech["id"]],
        },
    )
    assert visit.status_code == 201, visit.body
    return visit.data


def _timeline(owner, job_id):
    return [e["type"] for e in owner.get(f"/jobs/{job_id}/timeline?limit=200").data["items"]]


def test_a_forged_or_missing_signature_is_403_and_nothing_is_stored(client, shop):
    owner, _, job = shop
    forged = inbound(client, BUSINESS_NUMBER, CUSTOMER_PHONE, "hello", _sid(), forged=True)
    assert forged.status_code == 403
    unsigned = client.http.post(
        "/webhooks/twilio/sms",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        body="To=%2B13125550100&From=%2B13125550142&Body=hi&MessageSid=SM1",
    )
    assert unsigned.status_code == 403
    assert "MessageReceived" not in _timeline(owner, job["id"])


def test_one_texting_number_belongs_to_one_business(shop, other_owner):
    taken = other_owner.patch("/settings", {"twilio_from_number": BUSINESS_NUMBER})
    assert taken.status_code == 409 and taken.data["error"]["code"] == "number_taken"


def test_a_text_from_an_unknown_number_is_a_200_no_op(client, shop):
    response = inbound(client, BUSINESS_NUMBER, "+13125559999", "who is this", _sid())
    assert response.status_code == 200
    assert b"<Response" in response.body


def test_a_customer_message_lands_on_their_open_job_for_the_office(client, shop):
    owner, _, job = shop
    response = inbound(client, BUSINESS_NUMBER, CUSTOMER_PHONE, "Is 3pm ok?", _sid())
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/xml"
    assert _timeline(owner, job["id"])[-1] == "MessageReceived"


def test_a_redelivered_webhook_is_handled_once(client, shop):
    owner, _, job = shop
    sid = _sid()
    inbound(client, BUSINESS_NUMBER, CUSTOMER_PHONE, "Hello", sid)
    inbound(client, BUSINESS_NUMBER, CUSTOMER_PHONE, "Hello", sid)
    assert _timeline(owner, job["id"]).count("MessageReceived") == 1


def test_help_answers_with_the_business_name_and_phone(client, shop):
    response = inbound(client, BUSINESS_NUMBER, CUSTOMER_PHONE, "help", _sid())
    assert b"Acme Plumbing" in response.body and b"+13125550199" in response.body


def test_c_confirms_the_next_visit_and_the_office_sees_it(client, shop):
    owner, _, job = shop
    _schedule_visit(owner, job["id"])
    response = inbound(client, BUSINESS_NUMBER, CUSTOMER_PHONE, " c ", _sid())
    assert b"confirmed" in response.body
    assert "VisitConfirmed" in _timeline(owner, job["id"])


def test_stop_suppresses_every_text_until_start(client, shop):
    owner, customer, job = shop
    visit = _schedule_visit(owner, job["id"])
    # When the customer opts out
    inbound(client, BUSINESS_NUMBER, CUSTOMER_PHONE, "STOP", _sid())
    assert owner.get(f"/customers/{customer['id']}").data["sms_opted_out"] is True
    before = len(OUTBOX.read(CUSTOMER_PHONE))
    # Then the on-my-way text is recorded as suppressed, not sent
    tech = visit["technician_ids"][0]
    technician = owner.as_role("technician", tech)
    technician.post(f"/jobs/{job['id']}/visits/{visit['id']}/status", {"status": "en_route"})
    assert len(OUTBOX.read(CUSTOMER_PHONE)) == before
    assert "MessageSuppressed" in _timeline(owner, job["id"])
    assert owner.get("/messages?status=suppressed").data["items"][0]["kind"] == "on_my_way"
    # And START opts them back in
    inbound(client, BUSINESS_NUMBER, CUSTOMER_PHONE, "start", _sid())
    assert owner.get(f"/customers/{customer['id']}").data["sms_opted_out"] is False


def test_delivery_status_moves_forward_only_and_failures_reach_the_office(client, shop):
    owner, _, job = shop
    _schedule_visit(owner, job["id"])
    quote = owner.post(
        f"/jobs/{job['id']}/quotes",
        {
            "options": [
                {
                    "name": "Tune-up",
                    "line_items": [
                        {
                            "description": "Tune-up",
                            "quantity": 1,
                            "unit_price_cents": 12900,
                            "taxable": True,
                        }
                    ],
                }
            ]
        },
    ).data
    owner.post(f"/jobs/{job['id']}/quotes/{quote['id']}/send")
    sent = OUTBOX.read(CUSTOMER_PHONE)[0]
    # delivered arrives before sent: the late 'sent' does not undo 'delivered'
    assert status(client, sent["id"], "delivered").status_code == 204
    assert status(client, sent["id"], "sent").status_code == 204
    delivered = owner.get("/messages?status=delivered").data["items"]
    assert [m["kind"] for m in delivered] == ["quote_link"]
    still_sent = owner.get("/messages?status=sent").data["items"]
    assert [m for m in still_sent if m["channel"] == "sms"] == []  # the quote's email stays sent


def test_a_failed_text_is_on_the_timeline_and_in_the_failed_list(client, shop):
    owner, _, job = shop
    quote = owner.post(
        f"/jobs/{job['id']}/quotes",
        {
            "options": [
                {
                    "name": "Fix",
                    "line_items": [
                        {
                            "description": "Fix",
                            "quantity": 1,
                            "unit_price_cents": 5000,
                            "taxable": False,
                        }
                    ],
                }
            ]
        },
    ).data
    owner.post(f"/jobs/{job['id']}/quotes/{quote['id']}/send")
    sent = OUTBOX.read(CUSTOMER_PHONE)[0]
    status(client, sent["id"], "undelivered", error_code="30003")
    failed = owner.get("/messages?status=undelivered").data["items"]
    assert failed[0]["error"] == "twilio error 30003"
    assert "MessageFailed" in _timeline(owner, job["id"])


def test_a_template_with_an_unknown_placeholder_is_refused_when_saved(shop):
    owner, _, _ = shop
    bad = owner.call("PUT", "/settings/templates/reminder", {"text": "Hi {firstname}!"})
    assert bad.status_code == 422 and bad.data["error"]["code"] == "unknown_placeholder"
    good = owner.call(
        "PUT", "/settings/templates/reminder", {"text": "Hi {first_name}, see you {visit_window}"}
    )
    assert good.status_code == 200


def test_a_preview_counts_gsm_and_ucs2_segments(shop):
    owner, _, _ = shop
    plain = owner.post("/settings/templates/reminder/preview", {"text": "Hi {first_name}"}).data
    assert plain["encoding"] == "GSM-7" and plain["segments"] == 1
    emoji = owner.post(
        "/settings/templates/reminder/preview", {"text": "Hi {first_name} 👋 " + "x" * 70}
    ).data
    assert emoji["encoding"] == "UCS-2" and emoji["segments"] == 2


def test_a_customer_with_an_address_gets_the_quote_by_email_too(shop):
    owner, customer, job = shop
    quote = owner.post(
        f"/jobs/{job['id']}/quotes",
        {
            "options": [
                {
                    "name": "Fix",
                    "line_items": [{"description": "Fix", "quantity": 1, "unit_price_cents": 5000}],
                }
            ]
        },
    ).data
    # An address of this test's own: the outbox is the whole session's
    address = f"dana+{job['id']}@example.com"
    patched = owner.patch(f"/customers/{customer['id']}", {"email": address})
    assert patched.status_code == 200, patched.body
    sent = owner.post(f"/jobs/{job['id']}/quotes/{quote['id']}/send")
    assert sent.status_code == 200, sent.body
    emails = [e for e in OUTBOX.read(address) if e["channel"] == "email"]
    assert emails[0]["subject"] == "Your quote from Acme Plumbing"
    assert "/p/quotes/" in emails[0]["body"]
