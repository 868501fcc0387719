"""Server-side request forgery (OWASP API7): no request makes Fieldline fetch a URL a client
chose. The one URL a client stores (the business's logo) must be https, and only the customer's
browser loads it, under the pages' content security policy."""

from __future__ import annotations

import pytest
import responses

from tests.integration.stripe_helpers import invoice, new_job, work

METADATA = "https://169.254.169.254/latest/meta-data/iam/security-credentials/"


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data/",
        "javascript:alert(1)",
        "data:image/svg+xml,<svg onload=alert(1)>",
        "file:///etc/passwd",
        'https://example.com/logo.png" onerror="alert(1)',
    ],
)
def test_a_logo_that_is_not_a_plain_https_url_is_refused(owner, url):
    response = owner.patch("/settings", {"logo_url": url})
    assert response.status_code == 422, response.body
    assert owner.get("/settings").data["logo_url"] is None


def test_a_logo_url_is_never_fetched_by_the_server(owner):
    # Given a business whose logo points at the cloud's metadata service
    assert owner.patch("/settings", {"logo_url": METADATA}).status_code == 200
    bill = invoice(owner, new_job(owner)["id"], line_items=work(1000))
    token = bill["link"].rsplit("/", 1)[1]
    # When its pages are rendered, every outbound HTTP request is watched
    with responses.RequestsMock(assert_all_requests_are_fired=False) as watched:
        watched.add_passthru("http://127.0.0.1")  # the emulators
        page = owner.client.http.get(f"/p/invoices/{token}")
    # Then the page names the logo for the browser, and nothing went to fetch it
    assert page.status_code == 200
    assert METADATA in page.body.decode()
    assert [c.request.url for c in watched.calls if "169.254" in c.request.url] == []
