"""Stripe down, gone mid-payment, or answering nonsense: 503 with Retry-After, nothing written,
and the payment completes once Stripe is back (OWASP API10: what Stripe answers is checked
like any other input)."""

from __future__ import annotations

import dataclasses
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from localstage import emulators
from tests.integration import stripe_helpers as stripe
from tests.integration.stripe_helpers import invoice, new_job, pay_page, reload, work
from tests.invariants import assert_invariants


@pytest.fixture
def stripe_at(monkeypatch):
    """Point the Stripe adapter at another base URL (a private localstripe, a closed port, a
    server answering nonsense) for the rest of the test."""
    from chalicelib.config import get_settings
    from chalicelib.integrations import payments_stripe

    def point(base: str) -> None:
        moved = dataclasses.replace(get_settings(), stripe_api_base=base)
        monkeypatch.setattr(payments_stripe, "get_settings", lambda: moved)

    return point


@pytest.fixture
def private_localstripe():
    """A localstripe of this test's own, so stopping it disturbs no other test."""
    port = emulators.free_port()
    process = emulators.start_localstripe(port)
    handle = {"port": port, "process": process}
    yield handle
    emulators.stop(handle["process"])


def _pay_on(base: str, intent_id: str) -> dict:
    """What Stripe.js does in the customer's browser, against `base`."""
    import stripe as sdk

    client = sdk.StripeClient("sk_test_local", base_addresses={"api": base}, max_network_retries=0)
    card = client.v1.payment_methods.create(params={"type": "card", "card": stripe.TEST_CARD})
    client.v1.payment_intents.update(intent_id, params={"payment_method": card.id})
    return client.v1.payment_intents.confirm(intent_id).to_dict()


def _onboarded_on(owner) -> None:
    """The business onboards on the Stripe the app now talks to: a localstripe started from
    scratch knows no connected account (Stripe itself never forgets one)."""
    from chalicelib.domain.callers import Caller
    from chalicelib.services import tenants

    tenants.connect_test_account(Caller(owner.tenant_id, owner.owner_id, "owner"))


def _assert_stripe_unavailable(response) -> None:
    assert response.status_code == 503, response.body
    assert response.data["error"]["code"] == "stripe_unavailable"
    assert int(response.headers["Retry-After"]) > 0


def _untouched(owner, bill, before) -> None:
    shown = reload(owner, bill)
    assert (shown["version"], shown["payments"]) == (before["version"], before["payments"])


def test_the_pay_page_is_503_while_stripe_is_stopped_and_paying_works_once_it_is_back(
    owner, private_localstripe, stripe_at, reader
):
    # Given a sent $100.00 invoice, and Stripe's process stopped
    base = f"http://127.0.0.1:{private_localstripe['port']}"
    stripe_at(base)
    _onboarded_on(owner)
    bill = invoice(owner, new_job(owner)["id"], line_items=work(10000))
    before = reload(owner, bill)
    emulators.stop(private_localstripe["process"])

    # When the customer opens the pay page
    down = pay_page(owner, bill)

    # Then it is a 503 and nothing was written
    _assert_stripe_unavailable(down)
    _untouched(owner, bill, before)

    # When Stripe comes back, the customer pays and Stripe's event arrives
    private_localstripe["process"] = emulators.start_localstripe(private_localstripe["port"])
    _onboarded_on(owner)
    page = pay_page(owner, bill)
    assert page.status_code == 200, page.body
    paid = _pay_on(base, page.data["payment_intent_id"])
    delivered = stripe.deliver(owner, stripe.event("payment_intent.succeeded", paid))

    # Then the invoice is paid, once
    assert delivered.data["outcome"] == "applied"
    assert (reload(owner, bill)["status"], reload(owner, bill)["amount_paid_cents"]) == (
        "paid",
        10000,
    )
    assert_invariants(reader, owner.tenant_id)


def test_stripe_going_away_mid_payment_leaves_nothing_half_done(owner, stripe_at, reader):
    from chalicelib.config import get_settings

    # Given a sent $100.00 invoice whose pay page the customer opened (an intent for $100)
    home = get_settings().stripe_api_base
    bill = invoice(owner, new_job(owner)["id"], line_items=work(10000))
    first = pay_page(owner, bill).data
    # And $40.00 then paid in cash: the open intent is cancelled first, so the card can't
    # pay the $100.00 too
    cash = owner.post(
        f"/jobs/{bill['job_id']}/invoices/{bill['id']}/payments",
        {"method": "cash", "amount_cents": 4000},
    )
    assert cash.status_code == 201, cash.body
    before = reload(owner, bill)

    # When Stripe goes away and the customer opens the page again (replace the intent)
    stripe_at(f"http://127.0.0.1:{emulators.free_port()}")
    away = pay_page(owner, bill)

    # Then it is a 503, and the old intent and the invoice are as they were
    _assert_stripe_unavailable(away)
    _untouched(owner, bill, before)
    assert stripe.intent(first["payment_intent_id"])["status"] == "canceled"

    # When Stripe is back: the page offers one intent for the $60.00 left; the customer pays it
    stripe_at(home)
    page = pay_page(owner, bill).data
    assert page["payment_intent_id"] != first["payment_intent_id"]
    assert page["balance_cents"] == 6000
    paid = stripe.pay_with_test_card(page["payment_intent_id"])
    stripe.deliver(owner, stripe.event("payment_intent.succeeded", paid))

    # Then the invoice is paid in full, by cash and card, and nothing counted twice
    shown = reload(owner, bill)
    assert (shown["status"], shown["amount_paid_cents"], shown["balance_cents"]) == (
        "paid",
        10000,
        0,
    )
    assert_invariants(reader, owner.tenant_id)


class Nonsense(BaseHTTPRequestHandler):
    """Answers every request with the status and body the test chose."""

    answer: tuple[int, bytes, str] = (200, b"{}", "application/json")

    def _answer(self):
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        status, body, content_type = self.answer
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_DELETE = _answer

    def log_message(self, *args):
        pass


@pytest.fixture
def nonsense():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Nonsense)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


def _intent(**fields) -> bytes:
    return json.dumps({"id": "pi_123", "object": "payment_intent", **fields}).encode()


NONSENSE = {
    "not json": (200, b"<html>Service Unavailable</html>", "text/html"),
    "an empty object": (200, b"{}", "application/json"),
    "a list": (200, b"[]", "application/json"),
    "a string": (200, b'"ok"', "application/json"),
    "no client secret": (200, _intent(amount=10000, currency="usd"), "application/json"),
    "a non-numeric amount": (
        200,
        _intent(amount="lots", currency="usd", client_secret="pi_123_secret", status="x"),
        "application/json",
    ),
    "a 500 with html": (500, b"<html>oops</html>", "text/html"),
    "a 402 that is not json": (402, b"payment required", "text/plain"),
}


@pytest.mark.parametrize("answer", sorted(NONSENSE))
def test_a_malformed_stripe_answer_is_503_and_nothing_is_written(
    owner, nonsense, stripe_at, answer
):
    # Given a sent invoice, and "Stripe" answering nonsense
    bill = invoice(owner, new_job(owner)["id"], line_items=work(10000))
    before = reload(owner, bill)
    Nonsense.answer = NONSENSE[answer]
    stripe_at(f"http://127.0.0.1:{nonsense.server_port}")
    # When the customer opens the pay page: 503, never a 500 or a made-up intent
    _assert_stripe_unavailable(pay_page(owner, bill))
    _untouched(owner, bill, before)


def test_a_refund_stripe_answers_with_nonsense_for_is_503_and_records_nothing(
    owner, nonsense, stripe_at, reader
):
    # Given an invoice paid by card
    bill = invoice(owner, new_job(owner)["id"], line_items=work(10000))
    paid = stripe.pay_with_test_card(pay_page(owner, bill).data["payment_intent_id"])
    stripe.deliver(owner, stripe.event("payment_intent.succeeded", paid))
    before = reload(owner, bill)
    # When the office refunds while "Stripe" answers with an empty object
    Nonsense.answer = (200, b"{}", "application/json")
    stripe_at(f"http://127.0.0.1:{nonsense.server_port}")
    refund = owner.post(
        f"/jobs/{bill['job_id']}/invoices/{bill['id']}/refunds",
        {"amount_cents": 1000, "reason": "goodwill"},
    )
    # Then it is a 503 and no refund is recorded
    _assert_stripe_unavailable(refund)
    _untouched(owner, bill, before)
    assert_invariants(reader, owner.tenant_id)
