"""Hostile webhook bodies: whatever Stripe or Twilio (or someone holding the secret) posts, the
answer is a 2xx or a 4xx, never a 500 (OWASP API10, unsafe consumption of APIs).

The signature is checked first, so these bodies are signed with the app's secret: they reach
the parsing and the handling behind it. Hypothesis draws them with a fixed budget and seed.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.integration import stripe_helpers as stripe
from tests.integration.helpers import Api, new_tenant
from tests.integration.twilio_helpers import FORM, post_signed
from tests.integration.twilio_helpers import signature as twilio_signature
from tests.invariants import assert_invariants

BUDGET = settings(
    max_examples=40,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=8,
)


@pytest.fixture(scope="module")
def shop(app):
    """A business with a sent invoice that signed events can name (by metadata)."""
    from chalice.test import Client

    with Client(app) as client:
        owner = new_tenant(client, name="Webhook Fuzz Co")
        job = stripe.new_job(owner)
        bill = stripe.invoice(owner, job["id"], line_items=stripe.work(10000))
        yield owner, bill


def _signed_bytes(owner, payload: bytes):
    from chalicelib.config import get_settings

    timestamp = int(time.time())
    secret = get_settings().stripe_webhook_secret.encode()
    mac = hmac.new(secret, str(timestamp).encode() + b"." + payload, hashlib.sha256).hexdigest()
    return Api(owner.client, "").call(
        "POST",
        "/webhooks/stripe",
        payload,
        headers={"Stripe-Signature": f"t={timestamp},v1={mac}", "Content-Type": "application/json"},
    )


MALFORMED = {
    "empty": b"",
    "not utf-8": b'{"id": "evt_\xff\xfe"}',
    "a json array": b"[]",
    "null": b"null",
    "a string": b'"evt_1"',
    "an empty object": b"{}",
    "no data": json.dumps({"id": "evt_1", "type": "payment_intent.succeeded"}).encode(),
    "an object that is a list": json.dumps(
        {"id": "evt_1", "type": "payment_intent.succeeded", "data": {"object": []}}
    ).encode(),
    "deeply nested": b"[" * 5000 + b"]" * 5000,
}


@pytest.mark.parametrize("body", MALFORMED.values(), ids=MALFORMED.keys())
def test_a_signed_stripe_body_that_is_not_an_event_is_400(shop, body):
    owner, _ = shop
    response = _signed_bytes(owner, body)
    assert response.status_code == 400, response.body
    assert response.data["error"]["code"] == "malformed_event"


@pytest.mark.parametrize(
    "event_type",
    [
        "payment_intent.succeeded",
        "payment_intent.payment_failed",
        "charge.refunded",
        "charge.dispute.created",
    ],
)
def test_a_signed_stripe_event_with_odd_fields_is_never_a_500(shop, event_type):
    owner, bill = shop
    ours = {"tenant_id": owner.tenant_id, "job_id": bill["job_id"], "invoice_id": bill["id"]}
    # Fields our handlers read, each either plausible or any JSON value at all.
    plausible = {
        "id": st.just("pi_fuzz") | st.text(max_size=10),
        "object": st.sampled_from(["payment_intent", "charge", "dispute"]),
        "amount": st.integers(-(10**20), 10**20),
        "amount_received": st.integers(0, 20000),
        "amount_refunded": st.integers(0, 20000),
        "currency": st.sampled_from(["usd", "eur", ""]),
        "payment_intent": st.just("pi_fuzz") | st.fixed_dictionaries({"id": st.just("pi_fuzz")}),
        "metadata": st.just(ours),
        "latest_charge": st.just("ch_1") | st.fixed_dictionaries({"id": st.text(max_size=5)}),
        "refunds": st.fixed_dictionaries({"data": st.lists(JSON_VALUES, max_size=2)}),
        "last_payment_error": st.fixed_dictionaries({"message": st.text(max_size=10)}),
        "reason": st.text(max_size=10),
        "charge": st.text(max_size=5),
    }
    field_values = {name: strategy | JSON_VALUES for name, strategy in plausible.items()}

    @given(obj=st.fixed_dictionaries({}, optional=field_values), event_id=st.integers(0, 10**9))
    @BUDGET
    def deliver(obj, event_id):
        body = stripe.event(event_type, obj, event_id=f"evt_fuzz_{event_type}_{event_id}")
        response = _signed_bytes(owner, json.dumps(body).encode())
        assert response.status_code < 500, (obj, response.body)

    deliver()


TWILIO_FIELDS = ("To", "From", "Body", "MessageSid", "AccountSid", "MessageStatus", "ErrorCode")


@pytest.mark.parametrize("path", ["/webhooks/twilio/sms", "/webhooks/twilio/status"])
def test_a_signed_twilio_form_with_missing_or_odd_fields_is_never_a_500(shop, path):
    owner, _ = shop
    values = st.text(max_size=30) | st.sampled_from(["+13125550142", "SM" + "0" * 32, "failed"])

    @given(form=st.dictionaries(st.sampled_from(TWILIO_FIELDS) | st.text(max_size=8), values))
    @BUDGET
    def deliver(form):
        response = post_signed(owner.client, path, form)
        assert response.status_code < 500, (form, response.body)

    deliver()


def test_a_signed_twilio_form_without_its_fields_is_400(shop):
    owner, _ = shop
    missing_sid = {"To": "+13125550100", "From": "+13125550142", "Body": "hi"}
    assert post_signed(owner.client, "/webhooks/twilio/sms", missing_sid).status_code == 400
    no_status = {"MessageSid": "SM" + "9" * 32}
    assert post_signed(owner.client, "/webhooks/twilio/status", no_status).status_code == 400


def test_a_twilio_body_that_is_not_a_form_is_refused(shop):
    from chalicelib.config import get_settings

    owner, _ = shop
    url = get_settings().public_base_url + "/webhooks/twilio/sms"
    body = b"\xff\xfe not a form"
    headers = {"Content-Type": FORM, "X-Twilio-Signature": twilio_signature(url, {}, "x")}
    response = owner.client.http.post("/webhooks/twilio/sms", headers=headers, body=body)
    assert 400 <= response.status_code < 500


def test_after_the_hostile_webhooks_the_money_and_the_state_still_add_up(shop, reader):
    owner, _ = shop
    assert_invariants(reader, owner.tenant_id)
