"""Opting out of texts as the carrier enforces it: per sender number and phone. A STOP to the
shared sender stops every business that texts from it; a refusal from Twilio (21610) is an
opt-out we had not heard of; the opt-out and the inbound text's receipt commit together."""

from __future__ import annotations

import dataclasses
import itertools
import re
import uuid

import pytest
import responses

from chalicelib.integrations.sms import OUTBOX
from tests.integration.helpers import CUSTOMER
from tests.integration.twilio_helpers import inbound

_phones = itertools.count(3000)
_numbers = itertools.count(5000)
OPTION = {"name": "Fix", "line_items": [{"description": "Fix", "unit_price_cents": 5000}]}


def _sid() -> str:
    return "SM" + uuid.uuid4().hex


@pytest.fixture
def phone():
    """A customer's phone no other test texts (opt-outs outlive a test in the session's table),
    and the carrier's side of it cleaned up after."""
    number = f"+1312555{next(_phones):04d}"
    yield number
    for sender in {pair[0] for pair in OUTBOX._opted_out if pair[1] == number}:
        OUTBOX.opt_out(sender, number, opted_out=False)


@pytest.fixture
def shared():
    from chalicelib.config import get_settings

    return get_settings().twilio_default_from


def _customer(owner, phone: str) -> dict:
    created = owner.post("/customers", {**CUSTOMER, "phone": phone, "email": None})
    assert created.status_code == 201, created.body
    return created.data


def _own_number(owner) -> str:
    number = f"+1630555{next(_numbers):04d}"
    assert owner.patch("/settings", {"twilio_from_number": number}).status_code == 200
    return number


def _send_quote(owner, customer: dict) -> dict:
    """Text the customer a quote; returns the text as recorded."""
    job = owner.post("/leads", {"customer_id": customer["id"], "title": "Dripping tap"}).data
    quote = owner.post(f"/jobs/{job['id']}/quotes", {"options": [OPTION]}).data
    sent = owner.post(f"/jobs/{job['id']}/quotes/{quote['id']}/send")
    assert sent.status_code == 200, sent.body
    texts = [
        m
        for status in ("sent", "suppressed", "failed")
        for m in owner.get(f"/messages?status={status}").data["items"]
        if m["job_id"] == job["id"] and m["channel"] == "sms"
    ]
    assert len(texts) == 1, texts
    return texts[0]


def _received(phone: str) -> int:
    return len(OUTBOX.read(phone))


# --- a STOP to the shared sender ----------------------------------------------------------------


def test_a_stop_to_the_shared_number_stops_every_business_that_texts_from_it(
    client, owner, other_owner, phone, shared
):
    # Given two businesses without their own number, both with this customer
    mine, theirs = _customer(owner, phone), _customer(other_owner, phone)
    # When the customer replies STOP to a text from the shared number
    assert inbound(client, shared, phone, "Stop", _sid()).status_code == 200
    # Then neither business texts them from it: both texts are recorded as suppressed, with why
    for business, customer in ((owner, mine), (other_owner, theirs)):
        text = _send_quote(business, customer)
        assert text["status"] == "suppressed"
        assert shared in text["error"]
    assert _received(phone) == 0
    # And START lets texts through again, for both
    assert inbound(client, shared, phone, "START", _sid()).status_code == 200
    assert _send_quote(owner, mine)["status"] == "sent"
    assert _send_quote(other_owner, theirs)["status"] == "sent"
    assert _received(phone) == 2


def test_a_stop_to_the_shared_number_leaves_a_business_with_its_own_number_texting(
    client, owner, phone, shared
):
    # Given a business texting from its own number (the carrier blocks per sender)
    _own_number(owner)
    customer = _customer(owner, phone)
    # When the customer opts out of the shared number only
    inbound(client, shared, phone, "STOP", _sid())
    # Then the business's own texts still reach them
    assert _send_quote(owner, customer)["status"] == "sent"


def test_a_redelivered_stop_to_the_shared_number_is_handled_once(client, owner, phone, shared):
    customer = _customer(owner, phone)
    sid = _sid()
    assert inbound(client, shared, phone, "STOP", sid).status_code == 200
    inbound(client, shared, phone, "START", _sid())
    # A late redelivery of the STOP does not undo the START that came after it
    assert inbound(client, shared, phone, "STOP", sid).status_code == 200
    assert _send_quote(owner, customer)["status"] == "sent"


def test_someone_who_texted_stop_before_becoming_a_customer_is_not_texted(client, owner, phone):
    # Given a business number a stranger texted STOP to
    number = _own_number(owner)
    inbound(client, number, phone, "STOP", _sid())
    # When they later become a customer and are sent a quote
    text = _send_quote(owner, _customer(owner, phone))
    # Then the carrier's block is honoured: nothing is tried
    assert text["status"] == "suppressed"


# --- Twilio refusing with 21610 -----------------------------------------------------------------


def test_a_text_refused_as_unsubscribed_is_an_opt_out_for_every_business_on_that_sender(
    owner, other_owner, phone, shared
):
    # Given a customer who opted out of the shared number in a way we never saw
    OUTBOX.opt_out(shared, phone)
    # When a business texts them
    refused = _send_quote(owner, _customer(owner, phone))
    # Then the text is suppressed with the carrier's reason, not failed for the office to chase
    assert refused["status"] == "suppressed"
    assert "unsubscribed recipient" in refused["error"]
    # And the next business's text is not even tried: the opt-out was recorded
    skipped = _send_quote(other_owner, _customer(other_owner, phone))
    assert skipped["status"] == "suppressed"
    assert skipped["error"] == f"the customer opted out of texts from {shared}"


def test_a_text_refused_as_unsubscribed_from_a_business_number_shows_on_the_customer(
    client, owner, phone
):
    # Given a business with its own number, whose customer opted out without our knowing
    number = _own_number(owner)
    customer = _customer(owner, phone)
    OUTBOX.opt_out(number, phone)
    # When it texts them, the customer is marked opted out, for the office to see
    assert _send_quote(owner, customer)["status"] == "suppressed"
    assert owner.get(f"/customers/{customer['id']}").data["sms_opted_out"] is True
    # And when the customer texts START (the carrier lifts its block), texts go out again
    OUTBOX.opt_out(number, phone, opted_out=False)
    inbound(client, number, phone, "START", _sid())
    assert owner.get(f"/customers/{customer['id']}").data["sms_opted_out"] is False
    assert _send_quote(owner, customer)["status"] == "sent"


MESSAGES = re.compile(r"https://api\.twilio\.com/2010-04-01/Accounts/\w+/Messages\.json")


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
        intercepted.add_passthru("http://127.0.0.1")
        yield intercepted
    sms.gateway.cache_clear()


def test_twilio_answering_21610_is_read_as_an_opt_out_and_not_retried(owner, phone, twilio):
    # Given Twilio refusing the recipient as unsubscribed (HTTP 400, error 21610)
    body = {"code": 21610, "message": "Attempt to send to unsubscribed recipient", "status": 400}
    twilio.add(responses.Response(responses.POST, MESSAGES, json=body, status=400))
    # When the business texts them
    text = _send_quote(owner, _customer(owner, phone))
    # Then it was tried once, and recorded as suppressed with Twilio's words
    assert sum(1 for call in twilio.calls if MESSAGES.match(call.request.url)) == 1
    assert text["status"] == "suppressed"
    assert "twilio 400" in text["error"]


# --- the opt-out and the inbound receipt commit together ----------------------------------------


def test_a_stop_whose_write_fails_is_applied_when_twilio_delivers_it_again(
    client, owner, phone, monkeypatch
):
    from chalicelib.domain.errors import Unavailable
    from chalicelib.store.db import Transaction

    number = _own_number(owner)
    customer = _customer(owner, phone)
    # Given storage failing the first time the customer's opt-out is written
    commit, failures = Transaction.commit, []

    def failing_once(tx):
        if "customer" in tx._labels() and not failures:
            failures.append(tx)
            raise Unavailable("storage is busy", code="storage_unavailable")
        return commit(tx)

    monkeypatch.setattr(Transaction, "commit", failing_once)
    # When the customer texts STOP, Twilio is told to retry, and does with the same message
    sid = _sid()
    assert inbound(client, number, phone, "STOP", sid).status_code == 503
    assert inbound(client, number, phone, "STOP", sid).status_code == 200
    # Then the opt-out holds
    assert failures
    assert owner.get(f"/customers/{customer['id']}").data["sms_opted_out"] is True
