"""Outbound webhook subscriptions through the API: who may make them, what URLs they take, what
the list shows. (Deliveries end to end: tests/workflows/test_deliveries.py.)"""

from __future__ import annotations

import pytest

from tests.integration.helpers import new_tenant

RECEIVER = "http://127.0.0.1:9/hooks"  # the local stage's own receivers; nothing is sent here


def subscribe(api, url: str = RECEIVER, events: list[str] | None = None):
    body = {"url": url, "events": ["*"] if events is None else events}
    return api.post("/webhooks/subscriptions", body)


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
        # The metadata service spelled as one number, in hex, in octal: the resolver reads them
        "https://2852039166/latest/meta-data/",
        "https://0xa9fea9fe/latest/meta-data/",
        "https://0251.0376.0251.0376/latest/meta-data/",
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


def test_a_host_that_turns_private_after_subscribing_is_not_called(monkeypatch):
    # DNS rebinding: the name resolved to a public address when the subscription was made,
    # and resolves to the metadata service when the delivery goes out
    from chalicelib.integrations import outbound_http

    answers = iter([["93.184.215.14"], ["169.254.169.254"]])
    monkeypatch.setattr(outbound_http, "_resolve", lambda host, port: next(answers))
    url = "https://hooks.example.com/in"
    assert outbound_http.check_receiver(url, allow_local=False) == "93.184.215.14"
    answer = outbound_http.post(url, b"{}", {}, allow_local=False)
    assert answer.status_code is None and "link-local" in answer.error


def test_a_redirect_is_an_answer_not_followed():
    import threading
    from http.server import BaseHTTPRequestHandler, HTTPServer

    from chalicelib.integrations import outbound_http

    paths = []

    class Redirecting(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 (http.server's name)
            paths.append(self.path)
            self.send_response(307)
            self.send_header("Location", "http://169.254.169.254/latest/meta-data/")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Redirecting)
    threading.Thread(target=server.handle_request, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/in"
    answer = outbound_http.post(url, b"{}", {}, allow_local=True)
    server.server_close()
    assert (answer.status_code, answer.ok, paths) == (307, False, ["/in"])
