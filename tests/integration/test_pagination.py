"""Lists end where they end, and a cursor opens only the list it came from."""

from __future__ import annotations

import base64

import pytest

from tests.integration.helpers import CUSTOMER

NAMES = ("Ann Able", "Ben Baker", "Cal Cole", "Dee Dunn")


@pytest.fixture
def customers(owner):
    for name in NAMES:
        assert owner.post("/customers", {**CUSTOMER, "name": name}).status_code == 201
    return owner


@pytest.mark.parametrize("limit", [1, 2, 4, 5])
def test_the_last_page_has_no_cursor_even_when_full(customers, limit):
    pages, cursor = [], None
    while True:
        query = f"/customers?limit={limit}" + (f"&cursor={cursor}" if cursor else "")
        page = customers.get(query).data
        assert page["items"], "a cursor never leads to an empty page"
        pages.append([c["name"] for c in page["items"]])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert [name for page in pages for name in page] == list(NAMES)
    assert len(pages) == -(-len(NAMES) // limit)


def test_a_cursor_opens_no_other_list_and_no_other_filter(customers):
    cursor = customers.get("/customers?limit=1").data["next_cursor"]
    for elsewhere in (
        "/jobs",
        "/technicians",
        "/invoices",
        "/messages",
        "/customers?q=Ann",
    ):
        refused = customers.get(f"{elsewhere}{'&' if '?' in elsewhere else '?'}cursor={cursor}")
        assert refused.status_code == 400, (elsewhere, refused.body)
        assert refused.data["error"]["code"] == "invalid_cursor"
    # The same list with the same filters reads on
    assert customers.get(f"/customers?limit=1&cursor={cursor}").status_code == 200


def test_a_cursor_shows_no_key_and_no_name(customers):
    # Listed by name, and searched by phone: the keys name the customer and the phone
    for query, readable in (("", b"ann"), ("&q=312", b"phone#")):
        cursor = customers.get(f"/customers?limit=1{query}").data["next_cursor"]
        decoded = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).lower()
        for shown in (readable, b"cust", customers.tenant_id.encode()):
            assert shown not in decoded


def test_another_tenants_cursor_is_refused(customers, other_owner):
    cursor = customers.get("/customers?limit=1").data["next_cursor"]
    refused = other_owner.get(f"/customers?limit=1&cursor={cursor}")
    assert refused.status_code == 400 and refused.data["error"]["code"] == "invalid_cursor"
