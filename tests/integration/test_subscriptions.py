"""Outbound webhook subscriptions through the API: who may make them, what URLs they take, what
the list shows. (Deliveries end to end: tests/workflows/test_deliveries.py.)"""

from __future__ import annotations

import pytest

from tests.integration.helpers import new_tenant

RECEIVER = "http://127.0.0.1:9/hooks"  # the local stage's own receivers; nothing is sent here


def subscribe(api, url: str = RECEIVER, events: list[str] | None = None):
    return api.post("/webhooks/subscriptions", {"url": url, "events": ["*"] if events is None else events})


@pytest.mark.parametrize(
    "url",
    [
        "https://169.254.169.254/latest/meta-data/",  # the instance metadata service
        "http://169.254.169.254/latest/meta-data/",
        "https://10.0.0.7/hooks",
        "https://192.168.1.20/hooks",
        "https://[::1]/hooks",
        "https://[fd00:ec2::254]/hooks",
        "https://[::ffff:169.254.169.254]/hooks",
        "https://localtest.invalid/hooks",  # resolves to nothing
        "http://10.0.0.7:8080/hooks",
        "file:///etc/passwd",
        "https://user:secret@example.com/hooks",
    ],
)
def test_a_receiver_inside_a_network_is_refused(owner, url):
    refused = subscribe(owner, url)
    assert refused.status_code == 422, refused.body
    assert refused.data["error"]["code"] == "unsafe_webhook_url"
    assert owner.get("/webhooks/subscriptions").data["items"] == []


def test_the_secret_is_shown_once_and_the_list_never_shows_it(owner):
    created = subscribe(owner, events=["invoice.paid", "visit.scheduled"])
    assert created.status_code == 201, created.body
    assert created.data["secret"].startswith("whsec_")
    (listed,) = owner.get("/webhooks/subscriptions").data["items"]
    assert listed["id"] == created.data["id"]
    assert listed["events"] == ["invoice.paid", "visit.scheduled"]
    assert "secret" not in listed and created.data["secret"] not in str(listed)


def test_a_deleted_subscription_is_gone(owner):
    created = subscribe(owner).data
    deleted = owner.call("DELETE", f"/webhooks/subscriptions/{created['id']}")
    assert deleted.status_code == 204, deleted.body
    assert owner.get("/webhooks/subscriptions").data["items"] == []
    again = owner.call("DELETE", f"/webhooks/subscriptions/{created['id']}")
    assert again.status_code == 404


def test_only_the_owner_manages_subscriptions(owner):
    office = owner.as_role("office")
    assert subscribe(office).status_code == 403
    assert office.get("/webhooks/subscriptions").status_code == 403


def test_another_businesss_subscription_and_deliveries_are_invisible(owner, client):
    created = subscribe(owner).data
    other = new_tenant(client, name="Other Plumbing")
    assert other.get(f"/webhooks/subscriptions/{created['id']}/deliveries").status_code == 404
    rotated = other.post(f"/webhooks/subscriptions/{created['id']}/rotate-secret")
    assert rotated.status_code == 404
    assert other.call("DELETE", f"/webhooks/subscriptions/{created['id']}").status_code == 404
    assert other.post("/webhooks/deliveries/no-such-delivery/replay").status_code == 404


@pytest.mark.parametrize(
    "events", [[], ["*", "invoice.paid"], ["InvoicePaid"], ["invoice"], ["a.b"] * 101]
)
def test_an_event_filter_must_name_dotted_types_or_everything(owner, events):
    refused = subscribe(owner, events=events)
    assert refused.status_code == 422, refused.body
