"""A client developer reads the API's reference at /docs in Chromium: Redoc, served by the app
under its own Content-Security-Policy, renders every operation of /openapi.json."""

from __future__ import annotations

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

# Redoc's sidebar credit loads Redocly's logo from their CDN; the policy refuses it, and Redoc
# then leaves the image out. Every other refusal would be something the page needs.
REDOCLY_LOGO = "cdn.redoc.ly"


def test_the_reference_renders_every_operation_with_nothing_from_elsewhere(stage, tab):
    document = stage.call("GET", "/openapi.json").json()
    operations = sum(len(ops) for ops in document["paths"].values())
    page = tab.page
    page.set_viewport_size({"width": 1280, "height": 900})  # a desk: the sidebar shows

    page.goto(f"{stage.base}/docs")

    page.wait_for_selector("[data-section-id^='operation/']")
    assert page.locator("h1").first.inner_text().startswith(document["info"]["title"])
    assert page.locator("[data-section-id^='operation/']").count() == operations
    tab.screenshot("reference-page")
    # Search runs in a worker the page starts from a blob: URL (worker-src allows it).
    page.get_by_placeholder("Search...").fill("invoice")
    found = page.locator("[data-role='search:results'] [data-item-id$='/operation/void_invoice']")
    found.wait_for()
    unexpected = [e for e in tab.errors if REDOCLY_LOGO not in e]
    assert unexpected == []
