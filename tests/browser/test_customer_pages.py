"""A homeowner on their phone: the texted links opened in headless Chromium against the local
stage. Screenshots go to test-artifacts/browser/."""

from __future__ import annotations

import pytest

from tests.browser.conftest import PHONE_WIDTH
from tests.browser.journey import Office, signed_link

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

SCRIPT = "<script>alert('owned')</script>"
IMG = '<img src=x onerror="alert(2)">'
TEST_CARD = {
    "number": "4242 4242 4242 4242",
    "exp_month": "12",
    "exp_year": "34",
    "cvc": "123",
    "postal_code": "60607",
}


def csp_violations(tab) -> list[str]:
    return [e for e in tab.errors if "Content Security Policy" in e]


def test_homeowner_approves_the_better_option_then_pays_the_final_invoice_by_card(stage, tab):
    # Given a business, a customer with a phone, a lead, and a quote with three options sent
    office = Office(stage)
    phone = "+13125550142"
    job = office.lead("Dana Whitfield", phone, "Leaky kitchen faucet")
    office.send_quote(job["id"])
    page = tab.page

    # When the homeowner opens the texted quote link
    quote_link = office.latest_link(phone, "quotes")
    page.goto(quote_link)
    assert page.locator("h1").inner_text() == "Leaky kitchen faucet"
    assert page.locator("section.option").count() == 3
    tab.screenshot("01-quote")

    # And approves "Better" by typing their name
    better = page.locator("section.option", has_text="Better")
    better.get_by_label("Type your full name to approve Better").fill("Dana Whitfield")
    better.get_by_role("button", name="Approve Better").click()

    # Then they land back on the quote, which shows the approval
    page.wait_for_url(quote_link)
    decision = page.locator("#decision")
    assert "Thank you, your quote is approved" in decision.inner_text()
    assert "Better" in decision.inner_text() and "Dana Whitfield" in decision.inner_text()
    assert page.locator("form.approve").count() == 0
    tab.screenshot("02-quote-approved")
    assert "QuoteApproved" in office.timeline(job["id"])

    # Given the work is done and the final invoice sent
    invoice = office.send_final_invoice(job["id"])
    assert invoice["balance_cents"] > 0

    # When the homeowner opens the invoice link and pays with a test card in the card Element
    invoice_link = office.latest_link(phone, "invoices")
    page.goto(invoice_link)
    page.locator("#card-element input").first.wait_for()
    tab.screenshot("03-invoice")
    for field, value in TEST_CARD.items():
        page.locator(f"#card-element input[placeholder='{field}']").fill(value)
    tab.screenshot("04-invoice-card-filled")
    page.locator("#pay-button").click()

    # Then, once localstripe's signed webhook has landed, the page shows the receipt
    receipt = page.locator("#receipt")
    receipt.wait_for(timeout=30_000)
    assert "Paid — thank you" in receipt.inner_text()
    assert page.locator("#payments").inner_text().count("Card") == 1
    assert page.locator("#pay-form").count() == 0
    tab.screenshot("05-invoice-paid")
    paid = office.get(f"/jobs/{job['id']}/invoices/{invoice['id']}")
    assert paid["status"] == "paid" and paid["balance_cents"] == 0
    assert paid["payments"][0]["method"] == "card"
    assert tab.dialogs == [] and csp_violations(tab) == []


def test_a_script_in_a_name_a_title_or_a_line_is_shown_as_text(stage, tab):
    # Given a customer, a job and a quote line that each carry markup
    office = Office(stage, name=f"Acme {IMG}")
    phone = "+13125550143"
    job = office.lead(f"Dana {SCRIPT}", phone, f"Faucet {SCRIPT}")
    line = {"description": IMG, "quantity": 1, "unit_price_cents": 5000, "taxable": True}
    office.send_quote(job["id"], [{"name": f"Only {SCRIPT}", "line_items": [line]}])
    page = tab.page

    # When the homeowner opens the quote
    response = page.goto(office.latest_link(phone, "quotes"))

    # Then the markup is on the page as text, escaped in the HTML, and nothing ran
    raw = response.text()
    assert "&lt;script&gt;" in raw and "&lt;img src=x" in raw
    assert "<script" not in raw.lower() and "<img src=x" not in raw
    assert page.locator("#customer").inner_text() == f"Dana {SCRIPT}"
    assert page.locator("h1").inner_text() == f"Faucet {SCRIPT}"
    assert page.get_by_text(IMG).first.is_visible()
    assert page.locator(".business-name").inner_text() == f"Acme {IMG}"
    tab.screenshot("06-quote-escaped")
    assert tab.dialogs == []


def test_every_page_sends_a_strict_content_security_policy_and_loads_under_it(stage, tab):
    office = Office(stage)
    phone = "+13125550144"
    job = office.lead("Dana Whitfield", phone, "Water heater")
    quote = office.send_quote(job["id"])
    quote_link = office.latest_link(phone, "quotes")
    visit = office.schedule_visit(job["id"])
    token = quote_link.rsplit("/", 1)[1]
    approval = {"option_id": quote["options"][1]["id"], "signed_by": "Dana"}
    assert stage.call("POST", f"/public/quotes/{token}/approve", json=approval).ok
    office.send_final_invoice(job["id"])
    pages = {
        "quote": quote_link,
        "invoice": office.latest_link(phone, "invoices"),
        "visit": signed_link(stage, "visit", office.tenant_id, job["id"], visit["id"], 7),
        "expired": signed_link(stage, "quote", office.tenant_id, job["id"], "q", -1),
        "not found": f"{stage.base}/p/quotes/not-a-token",
    }
    for name, link in pages.items():
        response = tab.page.goto(link)
        policy = response.headers["content-security-policy"]
        assert "default-src 'none'" in policy and "frame-ancestors 'none'" in policy, name
        assert "base-uri 'none'" in policy and "form-action 'self'" in policy, name
        assert "unsafe-inline" not in policy and "unsafe-eval" not in policy, name
        assert ("script-src" in policy) is (name == "invoice"), name
        assert response.headers["x-content-type-options"] == "nosniff", name
        assert response.headers["referrer-policy"] == "no-referrer", name
        # The stylesheet loaded under the policy (the page's background is its colour)
        background = tab.page.evaluate("getComputedStyle(document.body).backgroundColor")
        assert background == "rgb(243, 245, 248)", name
    assert csp_violations(tab) == []


def test_the_pages_fit_a_360_pixel_phone_without_sideways_scrolling(stage, tab):
    office = Office(stage)
    phone = "+13125550145"
    job = office.lead("Dana Whitfield-Montgomery-Castellanos", phone, "Replace the water heater")
    long_line = {
        "description": "Remove and dispose of the old 50-gallon tank; supercalifragilistic"
        "expialidociouslylongpartnumberWH-50-GAL-NG-1234567890",
        # long figures, within the most Stripe charges in one payment (999,999.99 USD)
        "quantity": 9,
        "unit_price_cents": 8999999,
        "taxable": True,
    }
    office.send_quote(
        job["id"],
        [{"name": name, "line_items": [long_line]} for name in ("Good", "Better", "Best")],
    )
    visit = office.schedule_visit(job["id"])
    quote_link = office.latest_link(phone, "quotes")
    tab.page.set_viewport_size({"width": PHONE_WIDTH, "height": 740})
    tab.page.goto(quote_link)
    tab.page.locator("section.option", has_text="Good").get_by_label("Type your full name").fill(
        "Dana"
    )
    tab.page.get_by_role("button", name="Approve Good").click()
    tab.page.wait_for_url(quote_link)
    office.send_final_invoice(job["id"])
    pages = {
        "quote": quote_link,
        "invoice": office.latest_link(phone, "invoices"),
        "visit": signed_link(stage, "visit", office.tenant_id, job["id"], visit["id"], 7),
        "expired": signed_link(stage, "visit", office.tenant_id, job["id"], visit["id"], -1),
    }
    for name, link in pages.items():
        tab.page.goto(link)
        if name == "invoice":
            tab.page.locator("#card-element input").first.wait_for()
        assert tab.scroll_width() <= PHONE_WIDTH, name
        tab.screenshot(f"07-{name}-360px")


def test_an_expired_link_says_so_and_shows_the_business_phone(stage, tab):
    office = Office(stage)
    job = office.lead("Dana Whitfield", "+13125550146", "Dripping tap")
    quote = office.send_quote(job["id"])
    expired = signed_link(stage, "quote", office.tenant_id, job["id"], quote["id"], -1)
    response = tab.page.goto(expired)
    assert response.status == 410
    assert "This quote link has expired" in tab.page.locator("h1").inner_text()
    call = tab.page.get_by_role("link", name="Call (312) 555-0100")
    assert call.get_attribute("href") == "tel:+13125550100"
    tab.screenshot("08-expired")


def test_homeowner_confirms_a_visit_and_can_ask_for_another_time(stage, tab):
    office = Office(stage)
    job = office.lead("Dana Whitfield", "+13125550147", "Annual boiler service")
    visit = office.schedule_visit(job["id"])
    link = signed_link(stage, "visit", office.tenant_id, job["id"], visit["id"], 7)
    page = tab.page
    page.goto(link)
    assert page.locator("#when").inner_text() == "Mon Jun 3, 9:00 AM-12:00 PM"
    assert page.locator("#who").inner_text() == "Sam from Acme Plumbing"
    page.get_by_role("button", name="Confirm this time").click()
    page.wait_for_url(link)
    assert "Confirmed — thank you" in page.locator("#confirmed").inner_text()
    page.locator("summary", has_text="Need a different time?").click()
    page.get_by_label("Which days or times suit you?").fill("Tuesday afternoon instead")
    page.get_by_role("button", name="Ask to reschedule").click()
    page.wait_for_url(link)
    assert page.locator("#reschedule-requested").is_visible()
    tab.screenshot("09-visit")
    events = office.timeline(job["id"])
    assert "VisitConfirmed" in events and "RescheduleRequested" in events
