"""Outbound webhooks end to end: the table's stream → bus → the fan-out's queue → the
deliveries' FIFO queue → a receiver on 127.0.0.1 (an http.server in a thread), as the local
stage runs them. The local stage's clock scales the retry schedule (FIELDLINE_TIME_SCALE), so
a test's retries come within a second or two of real time."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from localstage import clock as stage_clock
from tests.integration.stripe_helpers import new_job

HOUR_A_SECOND = 3600.0  # the retry window (24 h) is then 24 s, the first retry 1/120 s away


class Receiver:
    """A subscriber's endpoint: records each request; answers from a script, then 200."""

    def __init__(self, answers: list[int] | None = None):
        self.answers = list(answers or [])
        self.requests: list[dict] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's name)
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests.append({"headers": dict(self.headers), "body": body})
                status = receiver.answers.pop(0) if receiver.answers else 200
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def accepted(self) -> list[dict]:
        """The JSON bodies of the requests, in the order they came."""
        return [json.loads(r["body"]) for r in self.requests]

    def close(self) -> None:
        self.server.shutdown()


@pytest.fixture
def receiver():
    made: list[Receiver] = []

    def make(answers: list[int] | None = None) -> Receiver:
        made.append(Receiver(answers))
        return made[-1]

    yield make
    for one in made:
        one.close()


@pytest.fixture
def fast_retries(stage, monkeypatch):
    """The local stage's settings, read outside any request (chalice.test's client sets the
    `dev` stage's environment during each one), with an hour of retries a second."""
    from chalicelib.config import get_settings

    get_settings.cache_clear()
    assert get_settings().is_local
    monkeypatch.setattr(get_settings(), "time_scale", HOUR_A_SECOND)


@pytest.fixture
def deliver(stage, fast_retries):
    """Run stream, bus and both outbound queues until `done()` holds (or fail after a while)."""
    import app as app_module

    pollers = stage_clock.outbound_pollers(stage.endpoint, app_module)

    def run(done) -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            stage.pump()
            for poller in pollers:
                poller.poll()
            if done():
                return
            time.sleep(0.1)  # a retried message is invisible until its retry's moment
        raise AssertionError("the deliveries never arrived")

    return run


def verified(request: dict, secret: str) -> bool:
    """What a subscriber does: HMAC-SHA256 of "<t>.<body>" against each v1 of the header."""
    parts = [p.split("=", 1) for p in request["headers"]["Fieldline-Signature"].split(",")]
    timestamp = next(v for k, v in parts if k == "t")
    signed = f"{timestamp}.".encode() + request["body"]
    expected = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return any(k == "v1" and hmac.compare_digest(v, expected) for k, v in parts)


def subscribe(owner, url: str, events: list[str]) -> dict:
    created = owner.post("/webhooks/subscriptions", {"url": url, "events": events})
    assert created.status_code == 201, created.body
    return created.data


def test_a_jobs_events_arrive_signed_in_order_and_a_failing_receiver_is_retried(
    deliver, receiver, owner
):
    # Given a receiver that fails twice before it answers 200
    hooks = receiver(answers=[500, 500])
    subscription = subscribe(owner, hooks.url, ["*"])
    # When a job is made and a note is added to it
    job = new_job(owner)
    assert owner.post(f"/jobs/{job['id']}/notes", {"text": "Gate code 4412"}).status_code == 201
    deliver(lambda: len(hooks.requests) >= 4)
    # Then the first event was tried three times, and the second waited behind it
    bodies = hooks.accepted()
    assert [b["type"] for b in bodies] == ["lead.created"] * 3 + ["note.added"]
    first, second = bodies[0], bodies[-1]
    assert second["sequence"] > first["sequence"] and first["job_id"] == job["id"]
    assert first["data"]["job"]["job_id"] == job["id"]
    # And every request is signed with the subscription's secret, with the event's id
    for request, body in zip(hooks.requests, bodies, strict=True):
        assert verified(request, subscription["secret"])
        assert request["headers"]["Fieldline-Event-Id"] == body["id"]
    # And the deliveries list says so
    listed = owner.get(f"/webhooks/subscriptions/{subscription['id']}/deliveries").data["items"]
    by_type = {d["type"]: d for d in listed}
    assert by_type["lead.created"]["attempts"] == 3
    assert by_type["lead.created"]["status"] == "delivered"
    assert by_type["lead.created"]["last_status_code"] == 200
    assert by_type["note.added"]["attempts"] == 1


def test_a_delivery_is_replayed_and_only_wanted_events_are_sent(deliver, receiver, owner):
    hooks = receiver()
    subscription = subscribe(owner, hooks.url, ["note.added"])
    job = new_job(owner)
    owner.post(f"/jobs/{job['id']}/notes", {"text": "Bring the long ladder"})
    deliver(lambda: len(hooks.requests) >= 1)
    path = f"/webhooks/subscriptions/{subscription['id']}/deliveries"
    (delivery,) = owner.get(path).data["items"]
    # When the owner replays the delivery
    replayed = owner.post(f"/webhooks/deliveries/{delivery['id']}/replay")
    assert replayed.status_code == 202, replayed.body
    deliver(lambda: len(hooks.requests) >= 2)
    # Then the same event arrives again, signed, and the lead's event never came
    bodies = hooks.accepted()
    assert [b["type"] for b in bodies] == ["note.added", "note.added"]
    assert bodies[0]["id"] == bodies[1]["id"]
    assert verified(hooks.requests[1], subscription["secret"])
    assert replayed.data["replay_of"] == delivery["id"]


def test_after_a_rotation_both_secrets_sign_during_the_grace(deliver, receiver, owner):
    hooks = receiver()
    subscription = subscribe(owner, hooks.url, ["*"])
    rotated = owner.post(f"/webhooks/subscriptions/{subscription['id']}/rotate-secret")
    assert rotated.status_code == 200, rotated.body
    assert rotated.data["secret"] != subscription["secret"]
    new_job(owner)
    deliver(lambda: len(hooks.requests) >= 1)
    assert verified(hooks.requests[0], rotated.data["secret"])
    assert verified(hooks.requests[0], subscription["secret"])
    # And the list never shows a secret
    (listed,) = owner.get("/webhooks/subscriptions").data["items"]
    assert "secret" not in listed and listed["previous_secret_expires_at"]


def test_a_receiver_that_never_answers_2xx_is_marked_failed_after_the_window(
    deliver, receiver, owner, monkeypatch
):
    from chalicelib.config import get_settings

    # 24 h in a tenth of a second: the second try already falls after the window
    monkeypatch.setattr(get_settings(), "time_scale", 86400 * 10.0)
    hooks = receiver(answers=[503] * 50)
    subscription = subscribe(owner, hooks.url, ["*"])
    new_job(owner)
    path = f"/webhooks/subscriptions/{subscription['id']}/deliveries"

    def failed() -> bool:
        items = owner.get(path).data["items"]
        return bool(items) and items[0]["status"] == "failed"

    deliver(failed)
    (delivery,) = owner.get(path).data["items"]
    assert delivery["last_status_code"] == 503 and delivery["attempts"] >= 2
    assert delivery["next_attempt_at"] is None


def test_a_customers_own_event_arrives_with_the_customer(deliver, receiver, owner):
    from chalicelib.domain.timeline import customer_event
    from chalicelib.store import cards
    from chalicelib.store.db import Transaction
    from tests.integration.helpers import CUSTOMER

    hooks = receiver()
    subscribe(owner, hooks.url, ["payment_method.saved"])
    customer = owner.post("/customers", CUSTOMER).data
    # A card saved on file is an event of the customer's, in no job (as services/cards writes it)
    saved = customer_event(customer["id"], "PaymentMethodSaved", "customer", last4="4242")
    tx = Transaction()
    tx.put(cards.event_item(owner.tenant_id, customer["id"], saved))
    tx.commit()
    deliver(lambda: len(hooks.requests) >= 1)
    (body,) = hooks.accepted()
    assert (body["type"], body["job_id"], body["sequence"]) == ("payment_method.saved", None, 1)
    assert body["data"]["customer"]["customer_id"] == customer["id"]
    assert body["data"]["event"]["data"]["last4"] == "4242"
