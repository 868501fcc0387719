"""A homeowner books a visit on the business's booking page, on a phone, in Chromium, against
the local stage: service → day → time → details → confirmation, without script."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from tests.browser.conftest import PHONE_WIDTH
from tests.browser.journey import Office
from tests.browser.test_customer_pages import csp_violations

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

CHICAGO = ZoneInfo("America/Chicago")


def next_monday():
    day = datetime.now(CHICAGO).date() + timedelta(days=3)
    return day + timedelta(days=(7 - day.weekday()) % 7)


def test_homeowner_books_a_drain_cleaning_through_the_page(stage, tab):
    # Given a business with a plumber on the default shift, a bookable service, and its page on
    office = Office(stage)
    office.post(
        "/technicians", {"name": "Sam Ortiz", "phone": "(312) 555-0177", "skills": ["plumbing"]}
    )
    service = {
        "kind": "service",
        "name": "Drain cleaning",
        "unit_price_cents": 12900,
        "duration_minutes": 60,
        "required_skills": ["plumbing"],
        "bookable_online": True,
    }
    office.post("/pricebook/items", service)
    slug = f"acme-{uuid.uuid4().hex[:8]}"
    settings = {
        "enabled": True,
        "slug": slug,
        "lead_time_hours": 24,
        "horizon_days": 30,
        "service_area": {"postal_codes": ["60607"]},
    }
    assert office.call("PUT", "/settings/booking", settings).status_code == 200
    page = tab.page
    page.set_viewport_size({"width": PHONE_WIDTH, "height": 740})

    # When the homeowner opens the page and picks the service, next Monday and 9:00 AM
    page.goto(f"{stage.base}/p/book/{slug}")
    assert page.locator("h1").inner_text() == "Book a visit"
    assert "$129.00" in page.locator("#services").inner_text()
    tab.screenshot("booking-01-services")
    page.get_by_role("link", name="Drain cleaning").click()
    monday = next_monday()
    page.get_by_role("link", name=f"{monday:%a %b} {monday.day}").click()
    assert tab.scroll_width() <= PHONE_WIDTH
    tab.screenshot("booking-02-times")
    page.get_by_role("link", name="9:00 AM", exact=True).click()

    # And fills in their details and books
    page.get_by_label("Your name").fill("Dana Whitfield")
    page.get_by_label("Mobile phone").fill("(312) 555-0142")
    page.get_by_label("Street address").fill("1200 W Fulton St")
    page.get_by_label("City").fill("Chicago")
    page.get_by_label("State").fill("IL")
    page.get_by_label("ZIP code").fill("60607")
    tab.screenshot("booking-03-details")
    page.get_by_role("button", name="Book").click()

    # Then the page confirms the booking, and a reload does not book again
    page.wait_for_url("**?done=*")
    assert page.locator("h1").inner_text() == "You're booked"
    assert "9:00 AM-10:00 AM" in page.locator("#when").inner_text()
    tab.screenshot("booking-04-booked")
    page.reload()
    assert page.locator("h1").inner_text() == "You're booked"
    assert tab.scroll_width() <= PHONE_WIDTH
    # (Chromium's own request for /favicon.ico is a 404, as on every customer page)
    assert tab.dialogs == [] and csp_violations(tab) == []

    # And the office sees one job booked online, scheduled; the customer is texted its link
    jobs = office.get("/jobs?stage=scheduled")["items"]
    assert [(j["title"], j["source"]) for j in jobs] == [("Drain cleaning", "online_booking")]
    visit_link = office.latest_link("+13125550142", "visits")
    page.get_by_role("link", name="See or change your appointment").click()
    assert page.url == visit_link
    assert page.locator("h1").inner_text() == "Your appointment"
