"""Idempotency-Key: a replay returns the first response; another body with the key is 422."""

from tests.integration.helpers import CUSTOMER


def test_a_replayed_post_takes_effect_once_and_returns_the_first_response(owner):
    headers = {"Idempotency-Key": "offline-action-1"}
    first = owner.post("/customers", CUSTOMER, headers=headers)
    replay = owner.post("/customers", CUSTOMER, headers=headers)
    assert first.status_code == replay.status_code == 201
    assert replay.data == first.data
    assert len(owner.get("/customers").data["items"]) == 1


def test_the_same_key_with_another_body_is_422_and_writes_nothing(owner):
    headers = {"Idempotency-Key": "offline-action-2"}
    owner.post("/customers", CUSTOMER, headers=headers)
    other = owner.post("/customers", {**CUSTOMER, "name": "Someone Else"}, headers=headers)
    assert other.status_code == 422
    assert other.data["error"]["code"] == "idempotency_key_reused"
    assert len(owner.get("/customers").data["items"]) == 1


def test_keys_are_per_tenant(owner, other_owner):
    headers = {"Idempotency-Key": "shared-key"}
    mine = owner.post("/customers", CUSTOMER, headers=headers)
    theirs = other_owner.post("/customers", CUSTOMER, headers=headers)
    assert mine.data["id"] != theirs.data["id"]


def test_a_failed_request_can_be_retried_with_the_same_key(owner):
    headers = {"Idempotency-Key": "retry-after-fix"}
    assert (
        owner.post("/leads", {"customer_id": "nope", "title": "x"}, headers=headers).status_code
        == 404
    )
    customer = owner.post("/customers", CUSTOMER).data
    retried = owner.post("/leads", {"customer_id": customer["id"], "title": "x"}, headers=headers)
    # a different body is a different request; the failed one left no record behind
    assert retried.status_code == 201
