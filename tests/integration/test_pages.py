"""The customer's pages (/p/...) through the test client: what they show, escape and refuse,
the headers they send, and what their forms change. The browser journey is tests/browser."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

import pytest

from chalicelib.config import get_settings
from chalicelib.domain import links
from tests.integration import stripe_helpers as stripe
from tests.integration.helpers import CUSTOMER, Api
from tests.integration.test_quotes import GOOD_BETTER_BEST

FORM = {"Content-Type": "application/x-www-form-urlencoded"}
SCRIPT = "<script>alert('owned')</script>"
DAY = "2030-06-03"  # a Monday; 09:00-12:00 in Chicago is inside the default shift


# --- helpers -----------------------------------------------------------------------------------


def customer_page(api: Api, path: str):
    """What a browser gets: no token, HTML."""
    return api.client.http.request("GET", path, headers={})


def post_form(api: Api, path: str, fields: dict[str, str]):
    return api.client.http.request("POST", path, headers=FORM, body=urlencode(fields).encode())


def path_of(link: str) -> str:
    return link.removeprefix(get_settings().public_base_url)


def text(response) -> str:
    return response.body.decode() if isinstance(response.body, bytes) else response.body


def sent_quote(owner: Api, title: str = "Leaky faucet", customer: dict | None = None, **quote):
    owner.patch("/settings", {"tax_rate_bps": 825, "phone": "(312) 555-0100"})
    made = owner.post("/customers", customer or CUSTOMER).data
    job = owner.post("/leads", {"customer_id": made["id"], "title": title}).data
    created = owner.post(f"/jobs/{job['id']}/quotes", {**GOOD_BETTER_BEST, **quote}).data
    sent = owner.post(f"/jobs/{job['id']}/quotes/{created['id']}/send")
    assert sent.status_code == 200, sent.body
    return job, sent.data


def visit_link(owner: Api) -> tuple[dict, str]:
    from chalicelib.services.visit_links import visit_link as link_for

    tech = owner.post("/technicians", {"name": "Sam Ortiz", "phone": "(312) 555-0177"}).data
    job = owner.post("/leads", {"customer": CUSTOMER, "title": "Water heater leaking"}).data
    visit = owner.post(
        f"/jobs/{job['id']}/visits",
        {
            "window_start": f"{DAY}T09:00:00-05:00",
            "window_end": f"{DAY}T12:00:00-05:00",
            "duration_minutes": 60,
            "technician_ids": [tech["id"]],
        },
    )
    assert visit.status_code == 201, visit.body
    expires = datetime(2030, 6, 4, tzinfo=UTC)
    return job, path_of(link_for(owner.tenant_id, job["id"], visit.data["id"], expires))


def timeline(owner: Api, job_id: str) -> list[dict]:
    return owner.get(f"/jobs/{job_id}/timeline").data["items"]


def assert_page_headers(response, scripts: bool = False):
    headers = {k.lower(): v for k, v in response.headers.items()}
    assert headers["content-type"].startswith("text/html")
    policy = headers["content-security-policy"]
    for directive in (
        "default-src 'none'",
        "style-src 'self'",
        "img-src 'self' https: data:",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
    ):
        assert directive in policy, (directive, policy)
    assert ("script-src" in policy) is scripts
    assert "unsafe-inline" not in policy
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "no-referrer"
    assert headers["cache-control"] == "no-store"


# --- the quote page --------------------------------------------------------------------------


def test_customer_approving_an_option_on_the_page_signs_it_and_sees_the_confirmation(owner):
    # Given a sent quote with good, better and best
    job, quote = sent_quote(owner)
    page = path_of(quote["link"])
    shown = customer_page(owner, page)
    assert shown.status_code == 200
    assert_page_headers(shown)
    body = text(shown)
    assert "Acme Plumbing" in body and "Leaky faucet" in body and "Dana Whitfield" in body
    assert body.count('class="approve"') == 3 and 'class="decline"' in body
    assert "Deposit due on approval" in body and "Tax (8.25%)" in body
    better = quote["options"][1]
    # When the customer types their name under "Better" and approves
    answer = post_form(
        owner, f"{page}/approve", {"option_id": better["id"], "signed_by": "  Dana   Whitfield "}
    )
    # Then they are sent back to the page (no resubmission on reload), which shows the decision
    assert answer.status_code == 303
    assert answer.headers["Location"] == f"../{page.rsplit('/', 1)[1]}"
    after = text(customer_page(owner, page))
    assert "Thank you, your quote is approved" in after
    assert "<strong>Better</strong>" in after and "signed by Dana Whitfield" in after
    assert 'class="approve"' not in after
    # And the same approval as the JSON route: signature, time and IP on the timeline
    approved = next(e for e in timeline(owner, job["id"]) if e["type"] == "QuoteApproved")
    assert approved["data"]["signed_by"] == "Dana Whitfield"
    assert approved["data"]["option_id"] == better["id"]
    assert approved["data"]["ip"] == "127.0.0.1" and approved["data"]["approved_at"]
    assert owner.get(f"/jobs/{job['id']}").data["stage"] == "approved"


def test_approving_without_a_name_asks_for_one_and_changes_nothing(owner):
    job, quote = sent_quote(owner)
    page = path_of(quote["link"])
    answer = post_form(owner, f"{page}/approve", {"option_id": quote["options"][0]["id"]})
    assert answer.status_code == 303 and answer.headers["Location"].endswith("?error=signature")
    again = text(customer_page(owner, f"{page}?error=signature"))
    assert "Type your full name to approve." in again and 'class="approve"' in again
    assert "QuoteApproved" not in [e["type"] for e in timeline(owner, job["id"])]


def test_an_error_code_that_is_not_ours_shows_nothing_from_the_url(owner):
    _, quote = sent_quote(owner)
    shown = text(customer_page(owner, path_of(quote["link"]) + "?error=%3Cb%3Ehi"))
    assert "<b>hi" not in shown and "&lt;b&gt;" not in shown


def test_customer_declining_on_the_page_sees_that_they_declined(owner):
    job, quote = sent_quote(owner)
    page = path_of(quote["link"])
    answer = post_form(owner, f"{page}/decline", {"reason": "Too dear"})
    assert answer.status_code == 303
    after = text(customer_page(owner, page))
    assert "You declined this quote" in after and 'class="approve"' not in after
    declined = next(e for e in timeline(owner, job["id"]) if e["type"] == "QuoteDeclined")
    assert declined["data"]["reason"] == "Too dear"


def test_a_second_answer_after_a_decision_says_the_quote_was_answered(owner):
    _, quote = sent_quote(owner)
    page = path_of(quote["link"])
    post_form(owner, f"{page}/decline", {})
    late = post_form(
        owner, f"{page}/approve", {"option_id": quote["options"][0]["id"], "signed_by": "Dana"}
    )
    assert late.headers["Location"].endswith("?error=answered")


def test_a_script_typed_into_names_titles_and_lines_is_shown_as_text(owner):
    # Given a customer, a job title and a line item that each carry a script
    line = {"description": SCRIPT, "quantity": 1, "unit_price_cents": 1000, "taxable": False}
    _, quote = sent_quote(
        owner,
        title=f"Faucet {SCRIPT}",
        customer={**CUSTOMER, "name": f"Dana {SCRIPT}"},
        options=[{"name": f"Good {SCRIPT}", "line_items": [line]}],
        message=SCRIPT,
    )
    # When the quote page is rendered, and again once they sign with one
    page = path_of(quote["link"])
    before = text(customer_page(owner, page))
    option = quote["options"][0]["id"]
    post_form(owner, f"{page}/approve", {"option_id": option, "signed_by": SCRIPT})
    after = text(customer_page(owner, page))
    # Then every one of them is text on the page, never markup
    for body in (before, after):
        assert "<script" not in body
        assert "&lt;script&gt;alert(&#39;owned&#39;)&lt;/script&gt;" in body
    assert before.count("&lt;script&gt;") >= 5


def test_an_expired_link_says_so_and_gives_the_business_phone(owner):
    job, quote = sent_quote(owner)
    claims = links.LinkClaims(
        kind="quote",
        tenant_id=owner.tenant_id,
        job_id=job["id"],
        object_id=quote["id"],
        expires_at=datetime.now(UTC) - timedelta(days=1),
    )
    expired = links.sign(claims, get_settings().link_secrets)
    shown = customer_page(owner, f"/p/quotes/{expired}")
    assert shown.status_code == 410
    assert_page_headers(shown)
    body = text(shown)
    assert "This quote link has expired" in body and "Acme Plumbing" in body
    assert 'href="tel:+13125550100"' in body


@pytest.mark.parametrize("kind", ["quotes", "invoices", "visits"])
def test_a_forged_link_is_a_plain_not_found_page(owner, kind):
    _, quote = sent_quote(owner)
    token = path_of(quote["link"]).rsplit("/", 1)[1]
    for forged in (token[:-1] + ("0" if token[-1] != "0" else "1"), "nonsense"):
        shown = customer_page(owner, f"/p/{kind}/{forged}")
        assert shown.status_code == 404
        assert_page_headers(shown)
        assert "Page not found" in text(shown) and "Acme" not in text(shown)


def test_a_link_with_characters_no_token_has_is_not_found_not_an_error(owner):
    for path in ("/p/quotes/abc.%C3%A9", "/p/visits/%C3%A9.%C3%A9", "/public/quotes/abc.%C3%A9"):
        assert customer_page(owner, path).status_code == 404, path


def test_a_quote_link_does_not_open_an_invoice_page(owner):
    _, quote = sent_quote(owner)
    token = path_of(quote["link"]).rsplit("/", 1)[1]
    assert customer_page(owner, f"/p/invoices/{token}").status_code == 404


# --- the invoice page ------------------------------------------------------------------------


@pytest.fixture
def sent_invoice(owner):
    owner.patch("/settings", {"phone": "(312) 555-0100"})
    job = stripe.new_job(owner)
    return stripe.invoice(owner, job["id"], kind="final", line_items=stripe.work(18000))


def test_an_invoice_with_a_balance_offers_the_card_form_with_stripe_js(owner, sent_invoice):
    shown = customer_page(owner, path_of(sent_invoice["link"]))
    assert shown.status_code == 200
    assert_page_headers(shown, scripts=True)
    body = text(shown)
    assert "Replace water heater" in body and "$180.00" in body
    secret = re.search(r'data-client-secret="([^"]+)"', body).group(1)
    assert secret.startswith("pi_") and "_secret_" in secret
    assert 'data-key="pk_test_local"' in body
    # The local stage: localstripe's Stripe.js stand-in, the bridge, and no bank form
    js = get_settings().stripe_js_url
    assert js.endswith("/js.stripe.com/v3/") and f'<script src="{js}"></script>' in body
    assert "localstripe-bridge.js" in body and 'id="bank"' not in body
    policy = shown.headers["Content-Security-Policy"]
    stripe_origin = js.removesuffix("/js.stripe.com/v3/")
    assert f"script-src 'self' {stripe_origin}" in policy
    assert f"connect-src 'self' {stripe_origin}" in policy


def test_with_stripes_own_script_the_page_offers_bank_payment_and_allows_stripes_frames(
    owner, sent_invoice, monkeypatch
):
    monkeypatch.setattr(get_settings(), "stripe_js_url", "https://js.stripe.com/v3/")
    shown = customer_page(owner, path_of(sent_invoice["link"]))
    body, policy = text(shown), shown.headers["Content-Security-Policy"]
    assert '<script src="https://js.stripe.com/v3/"></script>' in body
    assert 'id="bank"' in body and "localstripe-bridge.js" not in body
    assert "script-src 'self' https://js.stripe.com" in policy
    assert "connect-src https://api.stripe.com" in policy
    assert "frame-src https://js.stripe.com https://hooks.stripe.com" in policy


def test_a_paid_invoice_shows_the_receipt_and_no_form(owner, sent_invoice):
    paid = owner.post(
        f"/jobs/{sent_invoice['job_id']}/invoices/{sent_invoice['id']}/payments",
        {"method": "check", "amount_cents": 18000, "reference": "1042"},
    )
    assert paid.status_code == 201, paid.body
    shown = customer_page(owner, path_of(sent_invoice["link"]))
    assert_page_headers(shown)  # no script on a receipt
    body = text(shown)
    assert "Paid — thank you" in body and 'id="payments"' in body and "Check" in body
    assert "pay-form" not in body


def test_a_void_invoice_says_it_was_voided(owner, sent_invoice):
    voided = owner.post(
        f"/jobs/{sent_invoice['job_id']}/invoices/{sent_invoice['id']}/void", {"reason": "dup"}
    )
    assert voided.status_code == 200, voided.body
    shown = customer_page(owner, path_of(sent_invoice["link"]))
    assert shown.status_code == 200
    assert "was voided" in text(shown) and "pay-form" not in text(shown)


def test_a_card_confirmed_through_the_local_bridge_leaves_the_page_waiting_for_the_webhook(
    owner, sent_invoice
):
    page = path_of(sent_invoice["link"])
    secret = re.search(r'data-client-secret="([^"]+)"', text(customer_page(owner, page))).group(1)
    card = {"number": "4242 4242 4242 4242", "exp_month": "12", "exp_year": "2034", "cvc": "123"}
    confirmed = Api(owner.client, "").post(
        "/dev/stripe/confirm-card", {"client_secret": secret, "card": card}
    )
    assert confirmed.status_code == 200, confirmed.body
    assert confirmed.data["status"] == "succeeded"
    # Until Stripe's webhook lands, the page says the payment is on its way and reloads itself,
    # less and less often
    waiting = text(customer_page(owner, page))
    assert "Your payment is on its way" in waiting and "pay-form" not in waiting
    assert '<meta http-equiv="refresh" content="2; url=?waited=1">' in waiting
    later = text(customer_page(owner, f"{page}?waited=3"))
    assert '<meta http-equiv="refresh" content="16; url=?waited=4">' in later
    much_later = text(customer_page(owner, f"{page}?waited=99"))
    assert 'content="60; url=?waited=11"' in much_later


def test_the_local_bridge_refuses_a_wrong_secret_and_reports_a_declined_card(owner, sent_invoice):
    secret = stripe.pay_page(owner, sent_invoice).data["client_secret"]
    anyone = Api(owner.client, "")
    card = {"number": "4242424242424242", "exp_month": "12", "exp_year": "2034", "cvc": "123"}
    wrong = anyone.post("/dev/stripe/confirm-card", {"client_secret": secret + "x", "card": card})
    assert wrong.status_code == 404
    declined = anyone.post(
        "/dev/stripe/confirm-card",
        {"client_secret": secret, "card": {**card, "number": "4000000000000341"}},
    )
    assert declined.status_code == 422 and declined.data["error"]["code"] == "card_declined"


# --- the visit page --------------------------------------------------------------------------


def test_the_visit_page_shows_when_and_who_and_confirming_is_recorded_once(owner):
    job, page = visit_link(owner)
    shown = customer_page(owner, page)
    assert shown.status_code == 200
    assert_page_headers(shown)
    body = text(shown)
    assert "Mon Jun 3, 9:00 AM-12:00 PM" in body and "Sam from Acme Plumbing" in body
    for _ in range(2):  # a double tap
        confirmed = post_form(owner, f"{page}/confirm", {})
        assert confirmed.status_code == 303
    after = text(customer_page(owner, page))
    assert "Confirmed — thank you" in after and 'class="confirm"' not in after
    confirmations = [e for e in timeline(owner, job["id"]) if e["type"] == "VisitConfirmed"]
    assert len(confirmations) == 1 and confirmations[0]["data"]["via"] == "page"


def test_asking_to_reschedule_tells_the_office_with_the_customers_note(owner):
    job, page = visit_link(owner)
    empty = post_form(owner, f"{page}/reschedule", {"note": "  "})
    assert empty.headers["Location"].endswith("?error=note")
    asked = post_form(owner, f"{page}/reschedule", {"note": "Any Tuesday after 3pm"})
    assert asked.status_code == 303
    assert "We got your request" in text(customer_page(owner, page))
    events = timeline(owner, job["id"])
    requested = next(e for e in events if e["type"] == "RescheduleRequested")
    assert requested["data"]["note"].endswith("Any Tuesday after 3pm")
    assert "MessageReceived" in [e["type"] for e in events]
    inbox = owner.get("/messages?status=received").data["items"]
    assert any("Any Tuesday after 3pm" in m["body"] for m in inbox)


def test_a_visit_link_from_another_kind_or_an_expired_one_opens_nothing(owner):
    job, page = visit_link(owner)
    token = page.rsplit("/", 1)[1]
    assert customer_page(owner, f"/p/quotes/{token}").status_code == 404
    claims = links.verify(token, "visit", get_settings().link_secrets, datetime.now(UTC))
    old = links.sign(
        links.LinkClaims(**{**claims.__dict__, "expires_at": datetime.now(UTC) - timedelta(1)}),
        get_settings().link_secrets,
    )
    shown = customer_page(owner, f"/p/visits/{old}")
    assert shown.status_code == 410 and "This appointment link has expired" in text(shown)


# --- the stylesheet --------------------------------------------------------------------------


def test_the_stylesheet_is_cached_by_its_content_hash(owner):
    body = text(customer_page(owner, "/p/visits/nonsense"))
    href = re.search(r'href="\.\./(static/fieldline\.css\?v=\w+)"', body).group(1)
    css = customer_page(owner, f"/p/{href}")
    assert css.status_code == 200
    assert css.headers["Content-Type"].startswith("text/css")
    assert "immutable" in css.headers["Cache-Control"]
    assert css.headers["X-Content-Type-Options"] == "nosniff"
    again = owner.client.http.request(
        "GET", f"/p/{href}", headers={"If-None-Match": css.headers["ETag"]}
    )
    assert again.status_code == 304
    assert customer_page(owner, "/p/static/app.py").status_code == 404
