"""Stripe in tests: pay on the session's localstripe, and deliver events signed like Stripe's.

localstripe runs PaymentIntents for real but sends no `charge.refunded` or dispute events and
ignores idempotency keys (ARCHITECTURE.md: emulators), so tests build events from the real
objects and sign them with the endpoint's webhook secret: `t=<ts>,v1=hmac(secret, "ts.body")`.
The tenants' payments are on their connected accounts (the local Stripe double's), so their
events go to the Connect endpoint.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from pathlib import Path
from typing import Any

from tests.integration.helpers import Api

EVENTS = Path(__file__).resolve().parents[2] / "events" / "stripe"
TEST_CARD = {"number": "4242424242424242", "exp_month": 12, "exp_year": 2034, "cvc": "123"}


def stripe_client():
    import stripe

    from chalicelib.config import get_settings

    settings = get_settings()
    return stripe.StripeClient(
        settings.stripe_secret_key,
        base_addresses={"api": settings.stripe_api_base},
        max_network_retries=0,
    )


def pay_with_test_card(intent_id: str) -> dict[str, Any]:
    """What Stripe.js does in the customer's browser. localstripe's confirm refuses a
    `payment_method` argument, so the card is set on the intent first, then confirmed."""
    client = stripe_client()
    card = client.v1.payment_methods.create(params={"type": "card", "card": TEST_CARD})
    client.v1.payment_intents.update(intent_id, params={"payment_method": card.id})
    return client.v1.payment_intents.confirm(intent_id).to_dict()


def intent(intent_id: str) -> dict[str, Any]:
    return stripe_client().v1.payment_intents.retrieve(intent_id).to_dict()


def charge(charge_id: str) -> dict[str, Any]:
    return stripe_client().v1.charges.retrieve(charge_id).to_dict()


def sample(name: str) -> dict[str, Any]:
    """A sample event from events/stripe/, to be filled in with the test's own objects."""
    return json.loads((EVENTS / f"{name}.json").read_text())


def event(type_: str, obj: dict[str, Any], event_id: str | None = None, **extra) -> dict:
    return {
        "id": event_id or f"evt_{time.time_ns()}",
        "object": "event",
        "api_version": "2024-06-20",
        "created": int(time.time()),
        "livemode": False,
        "type": type_,
        "data": {"object": obj},
        **extra,
    }


def signature(payload: str, secret: str, timestamp: int | None = None) -> str:
    timestamp = int(time.time()) if timestamp is None else timestamp
    mac = hmac.new(secret.encode(), f"{timestamp}.{payload}".encode(), hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def deliver(
    api: Api,
    stripe_event: dict[str, Any] | str,
    secret: str | None = None,
    timestamp: int | None = None,
    header: str | None = None,
):
    """POST the event the way Stripe does (raw JSON, signed header) to the endpoint Stripe
    would: a connected account's event (the tenant's payments: direct charges) to the Connect
    endpoint with its secret, naming the tenant's account unless it names one already; any
    other (a raw body, a tenant without an account) to the platform's."""
    from chalicelib.config import get_settings

    settings = get_settings()
    if isinstance(stripe_event, dict) and "account" not in stripe_event:
        account = api.get("/settings").data["stripe_account_id"] if api.token else None
        if account:
            stripe_event = {**stripe_event, "account": account}
    connect = isinstance(stripe_event, dict) and bool(stripe_event.get("account"))
    payload = stripe_event if isinstance(stripe_event, str) else json.dumps(stripe_event)
    if header is None:
        default = (
            settings.stripe_connect_webhook_secret if connect else settings.stripe_webhook_secret
        )
        header = signature(payload, secret or default, timestamp)
    public = Api(api.client, "")
    return public.call(
        "POST",
        "/webhooks/stripe/connect" if connect else "/webhooks/stripe",
        payload,
        headers={"Stripe-Signature": header, "Content-Type": "application/json; charset=utf-8"},
    )


# --- the job's money, from lead to invoice -----------------------------------------------------


def new_job(api: Api, title: str = "Replace water heater") -> dict[str, Any]:
    from tests.integration.helpers import CUSTOMER

    customer = api.post("/customers", CUSTOMER)
    assert customer.status_code == 201, customer.body
    lead = api.post("/leads", {"customer_id": customer.data["id"], "title": title})
    assert lead.status_code == 201, lead.body
    return lead.data


def approve_quote(
    api: Api, job_id: str, line_items: list[dict], deposit_percent: int | None = None
) -> dict[str, Any]:
    """The customer approves the one option of a sent quote through its link."""
    body: dict[str, Any] = {"options": [{"name": "Standard", "line_items": line_items}]}
    if deposit_percent is not None:
        body["deposit_percent"] = deposit_percent
    quote = api.post(f"/jobs/{job_id}/quotes", body)
    assert quote.status_code == 201, quote.body
    sent = api.post(f"/jobs/{job_id}/quotes/{quote.data['id']}/send")
    assert sent.status_code == 200, sent.body
    token = sent.data["link"].rsplit("/", 1)[1]
    option = quote.data["options"][0]
    approved = Api(api.client, "").post(
        f"/public/quotes/{token}/approve", {"option_id": option["id"], "signed_by": "Dana"}
    )
    assert approved.status_code == 200, approved.body
    return option


def given_work_completed(api: Api, job_id: str) -> None:
    """The visits' part of the journey, taken as done: the job is `completed`."""
    from chalicelib.domain.callers import Caller
    from chalicelib.services import jobs
    from chalicelib.store.db import Transaction

    office = Caller(tenant_id=api.tenant_id, user_id="office-user", role="office")
    job = jobs.get(office, job_id)
    job.stage = "completed"
    jobs.save(Transaction(), office, job).commit()


def invoice(
    api: Api,
    job_id: str,
    kind: str = "progress",
    line_items: list[dict] | None = None,
    send: bool = True,
) -> dict[str, Any]:
    body: dict[str, Any] = {"kind": kind}
    if line_items is not None:
        body["line_items"] = line_items
    created = api.post(f"/jobs/{job_id}/invoices", body)
    assert created.status_code == 201, created.body
    if not send:
        return created.data
    sent = api.post(f"/jobs/{job_id}/invoices/{created.data['id']}/send")
    assert sent.status_code == 200, sent.body
    return sent.data


def work(price_cents: int, description: str = "Labour", taxable: bool = False) -> list[dict]:
    return [
        {
            "description": description,
            "quantity": 1,
            "unit_price_cents": price_cents,
            "taxable": taxable,
        }
    ]


def token_of(shown_invoice: dict[str, Any]) -> str:
    return shown_invoice["link"].rsplit("/", 1)[1]


def pay_page(api: Api, shown_invoice: dict[str, Any]):
    return Api(api.client, "").get(f"/public/invoices/{token_of(shown_invoice)}")


def reload(api: Api, shown_invoice: dict[str, Any]) -> dict[str, Any]:
    found = api.get(f"/jobs/{shown_invoice['job_id']}/invoices/{shown_invoice['id']}")
    assert found.status_code == 200, found.body
    return found.data
