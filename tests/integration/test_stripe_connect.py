"""Stripe Connect: a business onboards its own Stripe account (a Standard account), card
payments are charged on it only once Stripe enables charges, and its events reach it through
the Connect endpoint, routed by account. Against the local Stripe double
(localstage/localstripe_strict.py), which plays accounts, account links and Stripe-Account."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from typing import Any

import pytest

from tests.integration import stripe_helpers as stripe
from tests.integration.helpers import Api
from tests.integration.stripe_helpers import (
    approve_quote,
    given_work_completed,
    invoice,
    new_job,
    pay_page,
    reload,
    token_of,
    work,
)

RETURN_URL = "https://app.example.com/settings/payments"


@pytest.fixture
def unconnected(client) -> Api:
    """A business that has not set up Stripe yet."""
    created = Api(client, "").post(
        "/dev/tenants",
        {"name": "New Leaf Landscaping", "timezone": "America/Chicago", "stripe": "none"},
    )
    assert created.status_code == 201, created.body
    data = created.data
    return Api(client, data["owner_token"], data["tenant_id"], data["owner_id"])


def _sent_final(api: Api) -> dict[str, Any]:
    job = new_job(api)
    approve_quote(api, job["id"], work(18000))
    given_work_completed(api, job["id"])
    return invoice(api, job["id"], kind="final")


def _open(url: str) -> tuple[int, str]:
    """A browser opening Stripe's onboarding link: where it is sent next."""

    class Stay(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    try:
        urllib.request.build_opener(Stay).open(url, timeout=5)
    except urllib.error.HTTPError as answer:
        return answer.code, answer.headers["Location"]
    raise AssertionError("onboarding did not redirect")


def _double(path: str, body: dict[str, Any]) -> dict[str, Any]:
    """The local Stripe double's test control (what Stripe does on its own)."""
    from chalicelib.config import get_settings

    request = urllib.request.Request(
        f"{get_settings().stripe_api_base}{path}",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=5) as answer:
        return json.loads(answer.read())


def _account_event(type_: str, account: str, obj: dict[str, Any], created: int) -> dict:
    return stripe.event(type_, obj, account=account, created=created)


# --- onboarding -----------------------------------------------------------------------------


def test_a_business_takes_cards_once_it_has_onboarded_its_stripe_account(unconnected):
    # Given a business without Stripe: nothing to show, no card payments
    before = unconnected.get("/settings/stripe")
    assert before.status_code == 200, before.body
    assert (before.data["account_id"], before.data["card_payments"]) == (None, False)

    # When the owner starts onboarding
    started = unconnected.post("/settings/stripe/onboarding", {"return_url": RETURN_URL})

    # Then Stripe's onboarding link comes back, and its account exists with requirements due
    assert started.status_code == 200, started.body
    shown = unconnected.get("/settings/stripe").data
    account = shown["account_id"]
    assert account.startswith("acct_") and shown["account_type"] == "standard"
    assert (shown["charges_enabled"], shown["payouts_enabled"], shown["card_payments"]) == (
        False,
        False,
        False,
    )
    assert shown["currently_due"], shown

    # When the owner finishes Stripe's onboarding, and comes back where they asked to
    assert _open(started.data["url"]) == (302, RETURN_URL)

    # Then the business takes card payments and receives payouts; nothing more is due
    done = unconnected.get("/settings/stripe").data
    assert (done["account_id"], done["charges_enabled"], done["payouts_enabled"]) == (
        account,
        True,
        True,
    )
    assert (done["card_payments"], done["currently_due"], done["past_due"]) == (True, [], [])
    # And a second onboarding uses the same account; the used link now sends to refresh_url
    again = unconnected.post(
        "/settings/stripe/onboarding",
        {"return_url": RETURN_URL, "refresh_url": RETURN_URL + "?again"},
    )
    assert unconnected.get("/settings/stripe").data["account_id"] == account
    assert _open(started.data["url"]) == (302, RETURN_URL)
    assert _open(again.data["url"])[0] == 302


def test_onboarding_is_for_the_owner_and_needs_a_return_address(unconnected):
    office = unconnected.as_role("office")
    assert office.post("/settings/stripe/onboarding", {"return_url": RETURN_URL}).status_code == 403
    assert office.get("/settings/stripe").status_code == 200
    for body in ({}, {"return_url": "javascript:alert(1)"}, {"return_url": "http://evil.example"}):
        refused = unconnected.post("/settings/stripe/onboarding", body)
        assert refused.status_code == 422, (body, refused.body)
    assert unconnected.get("/settings/stripe").data["account_id"] is None


def test_the_stripe_account_is_no_setting_anyone_can_type_in(owner):
    refused = owner.patch("/settings", {"stripe_account_id": "acct_1234567890abcdef"})
    assert refused.status_code == 422, refused.body
    account = owner.get("/settings").data["stripe_account_id"]
    assert account.startswith("acct_")  # the one /dev/tenants onboarded


# --- the pay page ----------------------------------------------------------------------------


def test_until_stripe_enables_charges_the_pay_page_offers_no_card_form(client, unconnected):
    sent = _sent_final(unconnected)
    # No Stripe account: no card form, and the page says so
    assert pay_page(unconnected, sent).data["client_secret"] is None
    page = Api(client, "").client.http.request("GET", f"/p/invoices/{token_of(sent)}")
    html = page.body.decode()
    assert page.status_code == 200
    assert "does not take card payments online yet" in html and "pay-form" not in html
    # An account still onboarding: still none (never the platform's balance)
    started = unconnected.post("/settings/stripe/onboarding", {"return_url": RETURN_URL}).data
    assert pay_page(unconnected, sent).data["client_secret"] is None
    # Onboarded: the card form, on the business's own account
    _open(started["url"])
    unconnected.get("/settings/stripe")
    shown = pay_page(unconnected, sent).data
    account = unconnected.get("/settings").data["stripe_account_id"]
    assert shown["client_secret"] and shown["stripe_account"] == account
    html = client.http.request("GET", f"/p/invoices/{token_of(sent)}").body.decode()
    assert 'id="pay-form"' in html and "does not take card payments" not in html


def test_the_platforms_fee_rides_on_the_payment_intent(owner, monkeypatch):
    from chalicelib.config import get_settings

    monkeypatch.setattr(get_settings(), "application_fee_bps", 250)
    sent = _sent_final(owner)
    intent = stripe.intent(pay_page(owner, sent).data["payment_intent_id"])
    assert (intent["amount"], intent["application_fee_amount"]) == (18000, 450)
    assert owner.get("/settings/stripe").data["application_fee_bps"] == 250


# --- account.updated and the Connect endpoint --------------------------------------------------


def test_account_updated_keeps_the_status_current_newest_first(client, owner):
    sent = _sent_final(owner)
    account = owner.get("/settings").data["stripe_account_id"]
    now = int(time.time())
    # When Stripe disables charges until the business sends what is past due
    disabled = _double(
        f"/_config/accounts/{account}",
        {"charges_enabled": False, "past_due": ["individual.verification.document"]},
    )
    late = _account_event("account.updated", account, disabled, now + 5)
    assert stripe.deliver(owner, late).data["outcome"] == "applied"
    # Then the pay page stops offering cards
    assert pay_page(owner, sent).data["client_secret"] is None
    # And an older event arriving after it changes nothing
    enabled = {**disabled, "charges_enabled": True, "requirements": {"past_due": []}}
    older = _account_event("account.updated", account, enabled, now)
    assert stripe.deliver(owner, older).data["outcome"] == "unchanged"
    assert pay_page(owner, sent).data["client_secret"] is None
    # When the business sends it and Stripe enables charges again, cards are back
    fixed = _double(f"/_config/accounts/{account}", {"charges_enabled": True, "past_due": []})
    newer = _account_event("account.updated", account, fixed, now + 10)
    assert stripe.deliver(owner, newer).data["outcome"] == "applied"
    assert pay_page(owner, sent).data["client_secret"]


def test_connect_events_reach_only_the_business_that_owns_the_account(owner, other_owner):
    sent = _sent_final(owner)
    intent = stripe.intent(pay_page(owner, sent).data["payment_intent_id"])
    paid = {**intent, "status": "succeeded", "amount_received": intent["amount"]}
    theirs = other_owner.get("/settings").data["stripe_account_id"]
    # An account no business owns: acknowledged, ignored
    stranger = stripe.event("payment_intent.succeeded", paid, account="acct_nobodys0000001")
    assert stripe.deliver(owner, stranger).data["outcome"] == "ignored"
    # Another business's account claiming our invoice: ignored
    forged = stripe.event("payment_intent.succeeded", paid, account=theirs)
    assert stripe.deliver(owner, forged).data["outcome"] == "ignored"
    # Signed with the platform endpoint's secret: refused
    from chalicelib.config import get_settings

    ours = stripe.event("payment_intent.succeeded", paid)
    wrong = stripe.deliver(owner, ours, secret=get_settings().stripe_webhook_secret)
    assert wrong.status_code == 400
    assert reload(owner, sent)["status"] == "sent"
    # The business's own account: applied
    assert stripe.deliver(owner, ours).data["outcome"] == "applied"
    assert reload(owner, sent)["status"] == "paid"


def test_an_event_of_the_other_mode_is_acknowledged_and_ignored(owner):
    sent = _sent_final(owner)
    intent = stripe.intent(pay_page(owner, sent).data["payment_intent_id"])
    paid = {**intent, "status": "succeeded", "amount_received": intent["amount"]}
    # A live event reaching a test stage (a live Connect endpoint gets test events too)
    live = stripe.event("payment_intent.succeeded", paid, livemode=True)
    delivered = stripe.deliver(owner, live)
    assert (delivered.status_code, delivered.data["outcome"]) == (200, "ignored")
    assert reload(owner, sent)["status"] == "sent"


def test_a_business_that_disconnects_stripe_takes_no_cards_until_it_onboards_again(owner):
    sent = _sent_final(owner)
    account = owner.get("/settings").data["stripe_account_id"]
    gone = stripe.event(
        "account.application.deauthorized",
        {"id": "ca_fieldline", "object": "application"},
        account=account,
    )
    assert stripe.deliver(owner, gone).data["outcome"] == "applied"
    shown = owner.get("/settings/stripe").data
    assert (shown["deauthorized"], shown["card_payments"]) == (True, False)
    assert pay_page(owner, sent).data["client_secret"] is None
    # Onboarding again makes a new account; the old one is let go
    started = owner.post("/settings/stripe/onboarding", {"return_url": RETURN_URL})
    assert started.status_code == 200, started.body
    new_account = owner.get("/settings/stripe").data["account_id"]
    assert new_account != account
    from chalicelib.services import tenants

    assert tenants.owner_of_account(new_account) == owner.tenant_id
    assert tenants.owner_of_account(account) is None


# --- the local Stripe double ---------------------------------------------------------------------


def test_the_stripe_double_keeps_each_accounts_objects_to_itself(owner, other_owner):
    import stripe as sdk

    client = stripe.stripe_client()
    ours = owner.get("/settings").data["stripe_account_id"]
    theirs = other_owner.get("/settings").data["stripe_account_id"]
    params = {"amount": 5000, "currency": "usd", "payment_method_types": ["card"]}
    made = client.v1.payment_intents.create(params=params, options={"stripe_account": ours})
    # Another account cannot see it; an account that does not exist is refused
    with pytest.raises(sdk.InvalidRequestError) as missing:
        client.v1.payment_intents.retrieve(made.id, options={"stripe_account": theirs})
    assert missing.value.http_status == 404
    with pytest.raises(sdk.StripeError) as unknown:
        client.v1.payment_intents.create(params=params, options={"stripe_account": "acct_nope1"})
    assert unknown.value.http_status == 403
    # A fee needs a connected account
    with pytest.raises(sdk.InvalidRequestError):
        client.v1.payment_intents.create(params={**params, "application_fee_amount": 10})
    # And an account whose charges are not enabled takes no payment
    fresh = client.v1.accounts.create(params={"type": "standard"})
    with pytest.raises(sdk.InvalidRequestError):
        client.v1.payment_intents.create(params=params, options={"stripe_account": fresh.id})
