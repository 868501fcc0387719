"""Every outbound client waits a bounded time (issue 17): a Twilio that takes the request and
never answers ends the request's wait, and the text is recorded as failed, sent once at most;
the boto3 and Stripe clients carry their connect and read timeouts and their retries."""

from __future__ import annotations

import dataclasses
import socket
import threading

import pytest

from tests.integration.helpers import CUSTOMER

OPTION = {"name": "Fix", "line_items": [{"description": "Fix", "unit_price_cents": 5000}]}


@pytest.fixture
def hung_server():
    """A server that takes every connection and never answers."""
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.2)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                accepted.append(server.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield {"url": f"http://127.0.0.1:{server.getsockname()[1]}", "accepted": accepted}
    stop.set()
    thread.join()
    for connection in [*accepted, server]:
        connection.close()


@pytest.fixture
def twilio_at(monkeypatch):
    """Texts go through the real Twilio SDK, to `base` instead of api.twilio.com."""
    from chalicelib.config import get_settings
    from chalicelib.integrations import sms
    from chalicelib.services import messaging

    twilio_settings = dataclasses.replace(get_settings(), sms_provider="twilio")
    monkeypatch.setattr(sms, "get_settings", lambda: twilio_settings)
    monkeypatch.setattr(messaging, "BACKOFF_SECONDS", 0)

    def point(base: str) -> None:
        sms.gateway.cache_clear()
        sms.gateway()._client.api.base_url = base

    yield point
    sms.gateway.cache_clear()


def test_the_twilio_client_is_built_with_its_timeouts(monkeypatch):
    from chalicelib.integrations import sms

    gateway = sms.TwilioGateway("AC" + "0" * 32, "token")
    assert gateway._client.http_client.timeout == sms.TIMEOUT_SECONDS
    # Three connection attempts (messaging retries those) stay inside a request
    assert 3 * sms.TIMEOUT_SECONDS < 29


def test_a_twilio_that_never_answers_fails_the_text_once_and_the_request_goes_on(
    owner, twilio_at, hung_server, monkeypatch
):
    from chalicelib.integrations import sms

    # Given Twilio taking the request and never answering (short timeouts keep the test quick)
    monkeypatch.setattr(sms, "TIMEOUT_SECONDS", 1)
    twilio_at(hung_server["url"])
    customer = owner.post("/customers", {**CUSTOMER, "email": None}).data
    job = owner.post("/leads", {"customer_id": customer["id"], "title": "Dripping tap"}).data
    quote = owner.post(f"/jobs/{job['id']}/quotes", {"options": [OPTION]}).data
    # When the office sends the quote
    answered = []
    request = threading.Thread(
        target=lambda: answered.append(owner.post(f"/jobs/{job['id']}/quotes/{quote['id']}/send"))
    )
    request.start()
    request.join(timeout=60)
    # Then the request ended (it would wait forever without a read timeout), the quote is sent
    assert not request.is_alive(), "the send waited on Twilio with no timeout"
    [sent] = answered
    assert sent.status_code == 200, sent.body
    # And the text is recorded as failed for the office, tried once: Twilio may have taken it,
    # and a second try could text the customer twice
    failed = owner.get("/messages?status=failed").data["items"]
    assert [(m["kind"], m["job_id"]) for m in failed] == [("quote_link", job["id"])]
    assert "did not answer in time" in failed[0]["error"]
    assert len(hung_server["accepted"]) == 1


@pytest.mark.parametrize(
    ("service", "connect", "read"),
    [("events", 2, 5), ("ses", 2, 5), ("s3", 2, 5), ("scheduler", 2, 5), ("location", 2, 10)],
)
def test_boto3_clients_have_timeouts_and_standard_retries(service, connect, read):
    from chalicelib.config import AWS_MAX_ATTEMPTS, AWS_TIMEOUTS
    from chalicelib.integrations import aws

    config = aws.client(service).meta.config
    assert (config.connect_timeout, config.read_timeout) == (connect, read)
    assert config.retries == {"mode": "standard", "total_max_attempts": AWS_MAX_ATTEMPTS}
    # Every try timing out still answers a request in time
    assert AWS_MAX_ATTEMPTS * sum(AWS_TIMEOUTS) + 3 < 29


def test_stripe_clients_bound_each_call_and_their_retries():
    from chalicelib.integrations import payments_stripe, reconciliation_stripe

    # Payments (on requests): worst case (1 + retries) x (connect + read) within 29 s
    requestor = payments_stripe._client_for("sk_live_example", None)._requestor
    assert requestor._client._timeout == payments_stripe.TIMEOUT_SECONDS
    assert requestor._options.max_network_retries == payments_stripe.NETWORK_RETRIES
    connect, read = payments_stripe.TIMEOUT_SECONDS
    assert (1 + payments_stripe.NETWORK_RETRIES) * (connect + read) + 1 < 29
    # Reconciliation (in a task): no SDK retries, the state machine retries the task
    requestor = reconciliation_stripe._client_for("sk_live_example", None)._requestor
    assert requestor._client._timeout == reconciliation_stripe.TIMEOUT_SECONDS
    assert requestor._options.max_network_retries == 0
