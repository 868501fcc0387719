"""Twilio failing: a 5xx is retried, then the text is recorded as failed and the office sees it;
the change that prompted the text stands. Twilio's HTTP API is intercepted at the boundary
(`responses`), with the real Twilio SDK in between."""

from __future__ import annotations

import dataclasses
import json
import re

import pytest
import responses

from tests.integration.helpers import CUSTOMER

MESSAGES = re.compile(r"https://api\.twilio\.com/2010-04-01/Accounts/\w+/Messages\.json")
OPTION = {"name": "Fix", "line_items": [{"description": "Fix", "unit_price_cents": 5000}]}


def _created(sid: str = "SM" + "1" * 32) -> responses.Response:
    body = {"sid": sid, "status": "queued", "to": "+13125550142", "from": "+15005550006"}
    return responses.Response(responses.POST, MESSAGES, json=body, status=201)


def _failing(status: int, code: int = 20500) -> responses.Response:
    body = {"code": code, "message": "Twilio is having a bad day", "status": status}
    return responses.Response(responses.POST, MESSAGES, json=body, status=status)


@pytest.fixture
def twilio(monkeypatch):
    """Texts go through the Twilio SDK to an intercepted api.twilio.com."""
    from chalicelib.config import get_settings
    from chalicelib.integrations import sms
    from chalicelib.services import messaging

    twilio_settings = dataclasses.replace(get_settings(), sms_provider="twilio")
    monkeypatch.setattr(sms, "get_settings", lambda: twilio_settings)
    monkeypatch.setattr(messaging, "BACKOFF_SECONDS", 0)
    sms.gateway.cache_clear()
    with responses.RequestsMock(assert_all_requests_are_fired=False) as intercepted:
        intercepted.add_passthru("http://127.0.0.1")  # localstripe, and anything local
        yield intercepted
    sms.gateway.cache_clear()


def _send_quote(owner) -> dict:
    customer = owner.post("/customers", {**CUSTOMER, "email": None}).data
    job = owner.post("/leads", {"customer_id": customer["id"], "title": "Dripping tap"}).data
    quote = owner.post(f"/jobs/{job['id']}/quotes", {"options": [OPTION]}).data
    return owner.post(f"/jobs/{job['id']}/quotes/{quote['id']}/send")


def _twilio_calls(intercepted) -> int:
    return sum(1 for call in intercepted.calls if MESSAGES.match(call.request.url))


def test_a_twilio_outage_is_retried_then_the_text_is_failed_and_shown_to_the_office(owner, twilio):
    # Given Twilio answering 503 to every text
    twilio.add(_failing(503))
    # When the office sends a quote
    sent = _send_quote(owner)
    # Then the quote is sent all the same (a carrier does not undo it)
    assert sent.status_code == 200, sent.body
    assert sent.data["status"] == "sent"
    # And the text was tried three times, then recorded as failed for the office
    assert _twilio_calls(twilio) == 3
    failed = owner.get("/messages?status=failed").data["items"]
    assert [(m["kind"], m["job_id"]) for m in failed] == [("quote_link", sent.data["job_id"])]
    assert "twilio 503" in failed[0]["error"]
    timeline = owner.get(f"/jobs/{sent.data['job_id']}/timeline").data["items"]
    assert "MessageFailed" in [e["type"] for e in timeline]


def test_a_twilio_hiccup_is_retried_and_the_text_goes_out_once(owner, twilio):
    # Given Twilio failing once with a 500, then accepting
    twilio.add(_failing(500))
    twilio.add(_created("SM" + "2" * 32))
    # When the office sends a quote
    sent = _send_quote(owner)
    # Then the text went out on the second try, and is recorded once, as sent
    assert sent.status_code == 200, sent.body
    assert _twilio_calls(twilio) == 2
    texts = [m for m in owner.get("/messages?status=sent").data["items"] if m["channel"] == "sms"]
    assert [m["kind"] for m in texts] == ["quote_link"]
    assert owner.get("/messages?status=failed").data["items"] == []


def test_a_text_twilio_refuses_is_not_retried(owner, twilio):
    # Given Twilio refusing the number (a 4xx is permanent: retrying cannot help)
    twilio.add(_failing(400, code=21211))
    sent = _send_quote(owner)
    assert sent.status_code == 200, sent.body
    assert _twilio_calls(twilio) == 1
    assert len(owner.get("/messages?status=failed").data["items"]) == 1


@pytest.mark.parametrize(
    "body",
    [b"<html>502 Bad Gateway</html>", b"{}", json.dumps({"sid": None}).encode()],
    ids=["not json", "no sid", "a null sid"],
)
def test_a_malformed_twilio_answer_is_a_failed_text_not_a_500(owner, twilio, body):
    # Given "Twilio" answering 201 with something that is not a message
    twilio.add(responses.Response(responses.POST, MESSAGES, body=body, status=201))
    # When the office sends a quote
    sent = _send_quote(owner)
    # Then the quote is sent, and the text recorded as failed, without another try (Twilio
    # may have taken it: a retry could text the customer twice)
    assert sent.status_code == 200, sent.body
    assert _twilio_calls(twilio) == 1
    failed = owner.get("/messages?status=failed").data["items"]
    assert [m["kind"] for m in failed] == ["quote_link"]
