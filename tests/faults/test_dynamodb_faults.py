"""DynamoDB throttled or failing: retried by botocore, then 503 with Retry-After; never half a
write (every change is one transaction), and the money and state still add up afterwards."""

from __future__ import annotations

import itertools

from chalicelib.domain.tenants import Tenant
from chalicelib.services import tenants
from chalicelib.store import keys
from chalicelib.store.records import get
from tests.faults.conftest import BROKEN, OVER_CAPACITY, THROTTLED
from tests.integration import stripe_helpers as stripe
from tests.integration.helpers import CUSTOMER
from tests.integration.stripe_helpers import invoice, new_job, work
from tests.integration.twilio_helpers import inbound
from tests.invariants import assert_invariants

# PynamoDB's connections retry 3 times (models.py, and the default for transactions).
ATTEMPTS = 1 + 3
ALWAYS = 100
_numbers = itertools.count(2000)


def _assert_unavailable(response) -> None:
    assert response.status_code == 503, response.body
    assert response.data["error"]["code"] == "storage_unavailable"
    assert int(response.headers["Retry-After"]) > 0


def _money(owner, bill) -> tuple:
    shown = owner.get(f"/jobs/{bill['job_id']}/invoices/{bill['id']}").data
    return shown["version"], shown["amount_paid_cents"], len(shown["payments"])


def _events(owner, job_id) -> list[str]:
    return [e["id"] for e in owner.get(f"/jobs/{job_id}/timeline?limit=200").data["items"]]


def test_a_briefly_throttled_payment_is_retried_and_recorded_once(owner, dynamodb_faults, reader):
    # Given a sent $100.00 invoice, and DynamoDB throttling the next two writes
    bill = invoice(owner, new_job(owner)["id"], line_items=work(10000))
    dynamodb_faults.fail("TransactWriteItems", 2, THROTTLED)
    dynamodb_faults.attempts.clear()

    # When the office records $40.00 in cash
    paid = owner.post(
        f"/jobs/{bill['job_id']}/invoices/{bill['id']}/payments",
        {"method": "cash", "amount_cents": 4000},
    )

    # Then botocore retried the write until it went through, and it counted once
    assert paid.status_code == 201, paid.body
    assert dynamodb_faults.failed["TransactWriteItems"] == 2
    assert dynamodb_faults.attempts["TransactWriteItems"] == 3
    assert len(dynamodb_faults.backoffs) >= 2  # each retry waited its (here zero) backoff
    assert _money(owner, bill)[1:] == (4000, 1)
    assert_invariants(reader, owner.tenant_id)


def test_internal_errors_on_reads_are_retried_too(owner, dynamodb_faults):
    # Given a job, and DynamoDB failing the next two queries with a 500
    job = new_job(owner)
    dynamodb_faults.fail("Query", 2, BROKEN)
    # When the office opens it, it opens
    assert owner.get(f"/jobs/{job['id']}").status_code == 200
    assert dynamodb_faults.failed["Query"] == 2


def test_persistent_throttling_is_503_with_retry_after_and_writes_nothing(
    owner, dynamodb_faults, reader
):
    # Given a sent invoice, and DynamoDB throttling every write
    bill = invoice(owner, new_job(owner)["id"], line_items=work(10000))
    before, timeline = _money(owner, bill), _events(owner, bill["job_id"])
    dynamodb_faults.fail("TransactWriteItems", ALWAYS, THROTTLED)
    dynamodb_faults.attempts.clear()

    # When the office records a cash payment
    paid = owner.post(
        f"/jobs/{bill['job_id']}/invoices/{bill['id']}/payments",
        {"method": "cash", "amount_cents": 4000},
    )

    # Then, its retries spent, the API says 503 and when to come back
    _assert_unavailable(paid)
    assert dynamodb_faults.attempts["TransactWriteItems"] == ATTEMPTS
    # And nothing of it was written: no payment, same invoice, same timeline
    dynamodb_faults.heal()
    assert _money(owner, bill) == before
    assert _events(owner, bill["job_id"]) == timeline
    assert_invariants(reader, owner.tenant_id)
    # And once DynamoDB recovers, the same request goes through
    again = owner.post(
        f"/jobs/{bill['job_id']}/invoices/{bill['id']}/payments",
        {"method": "cash", "amount_cents": 4000},
    )
    assert again.status_code == 201, again.body
    assert_invariants(reader, owner.tenant_id)


def test_reads_over_capacity_are_503_on_every_kind_of_read(owner, dynamodb_faults):
    # Given a customer and a job, and DynamoDB out of read capacity
    job = new_job(owner)
    for operation in ("GetItem", "Query", "BatchGetItem"):
        dynamodb_faults.fail(operation, ALWAYS, OVER_CAPACITY)
    # When the office reads a job, a customer, or a list: each is a 503, none a 500
    for path in (f"/jobs/{job['id']}", f"/customers/{job['customer_id']}", "/jobs", "/invoices"):
        _assert_unavailable(owner.get(path))


def test_a_webhook_during_throttling_is_503_and_its_redelivery_applies_once(
    owner, dynamodb_faults, reader
):
    # Given a customer who paid a sent invoice by card on localstripe
    bill = invoice(owner, new_job(owner)["id"], line_items=work(10000))
    page = stripe.pay_page(owner, bill)
    paid = stripe.pay_with_test_card(page.data["payment_intent_id"])
    succeeded = stripe.event("payment_intent.succeeded", paid)

    # When Stripe's event arrives while DynamoDB throttles every write
    dynamodb_faults.fail("TransactWriteItems", ALWAYS, THROTTLED)
    first = stripe.deliver(owner, succeeded)
    dynamodb_faults.heal()

    # Then Stripe is told to retry (503), and its retries apply the event once
    _assert_unavailable(first)
    assert stripe.deliver(owner, succeeded).data["outcome"] == "applied"
    assert stripe.deliver(owner, succeeded).data["outcome"] == "duplicate"
    shown = owner.get(f"/jobs/{bill['job_id']}/invoices/{bill['id']}").data
    assert (shown["status"], shown["amount_paid_cents"]) == ("paid", 10000)
    assert_invariants(reader, owner.tenant_id)


def test_an_inbound_text_during_throttling_is_503_so_twilio_retries(client, owner, dynamodb_faults):
    # Given a business with its texting number and a customer
    number = f"+1773555{next(_numbers):04d}"
    assert owner.patch("/settings", {"twilio_from_number": number}).status_code == 200
    owner.post("/customers", CUSTOMER)
    # When the customer texts while DynamoDB is out of read capacity
    dynamodb_faults.fail("Query", ALWAYS, OVER_CAPACITY)
    response = inbound(client, number, "+13125550142", "Running late?", "SM" + "7" * 32)
    # Then Twilio gets a 503 (it retries), not a 500
    assert response.status_code == 503, response.body
    assert response.headers["Retry-After"]


def test_the_fault_hook_reaches_every_client_the_app_uses(dynamodb_faults):
    # The model's connection and the transactions' one are the two the app uses (store/db.py).
    dynamodb_faults.fail("GetItem", 1, BROKEN)
    dynamodb_faults.fail("TransactWriteItems", 1, BROKEN)
    assert get(keys.tenant("nobody"), Tenant) is None  # retried past the injected 500
    tenants.create_tenant("Faulty Co", "UTC", "USD")  # one transaction, retried past its 500
    assert dynamodb_faults.failed == {"GetItem": 1, "TransactWriteItems": 1}
