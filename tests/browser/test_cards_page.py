"""A homeowner saves a card on file on /p/cards in headless Chromium against the local stage:
Stripe.js's card Element confirms a SetupIntent on the business's Stripe account (localstripe's
stand-in), and Stripe's `setup_intent.succeeded` webhook puts the card on file."""

from __future__ import annotations

import time

import pytest

from tests.browser.journey import Office
from tests.browser.test_customer_pages import TEST_CARD, csp_violations

pytestmark = [pytest.mark.e2e, pytest.mark.browser]
WEBHOOK_WAIT_SECONDS = 30  # localstripe sends its webhook a second after the confirm


def test_homeowner_saves_a_card_on_file_and_the_office_sees_it(stage, tab):
    # Given a business, its customer, and the card link the office asked for
    office = Office(stage)
    customer = office.post("/customers", {"name": "Dana Whitfield", "phone": "+13125550142"})
    base = f"/customers/{customer['id']}/payment-methods"
    link = office.post(f"{base}/setup")["url"]
    page = tab.page

    # When the homeowner opens it, reads what they authorize, and saves a test card
    page.goto(link)
    page.locator("#card-element input").first.wait_for()
    assert "I authorize Acme Plumbing" in page.locator("#authorization").inner_text()
    assert page.locator("#saved").count() == 0
    tab.screenshot("cards-01-empty")
    for field, value in TEST_CARD.items():
        page.locator(f"#card-element input[placeholder='{field}']").fill(value)
    page.locator("#pay-button").click()

    # Then the page says it is saved
    page.locator("#pay-status", has_text="saved").wait_for(timeout=15_000)
    tab.screenshot("cards-02-saved")

    # And once Stripe's webhook has landed, the office sees the card on file, the default
    deadline = time.monotonic() + WEBHOOK_WAIT_SECONDS
    while not (items := office.get(base)["items"]) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert [(m["last4"], m["exp_month"], m["exp_year"], m["default"]) for m in items] == [
        ("4242", 12, 2034, True)
    ]
    # And the page lists it when opened again
    page.reload()
    assert "ending in 4242" in page.locator("#saved").inner_text()
    assert tab.dialogs == [] and csp_violations(tab) == []
