"""Customers: E.164 phones, search by name or phone prefix through an index, paging."""

from tests.integration.helpers import CUSTOMER


def test_a_customer_phone_is_stored_e164_and_found_by_name_or_phone_prefix(owner):
    # Given customers with similar names
    for name, phone in [("Dana Whitfield", "312-555-0142"), ("Dan Ortiz", "(773) 555-0199")]:
        assert (
            owner.post("/customers", {**CUSTOMER, "name": name, "phone": phone}).status_code == 201
        )
    owner.post("/customers", {**CUSTOMER, "name": "Maria Lopez", "phone": "+1 630 555 0100"})

    # When the office searches
    by_name = owner.get("/customers?q=dan").data["items"]
    by_phone = owner.get("/customers?q=773").data["items"]
    by_e164 = owner.get("/customers?q=%2B1630").data["items"]

    # Then prefixes of names and phones both find them
    assert sorted(c["name"] for c in by_name) == ["Dan Ortiz", "Dana Whitfield"]
    assert [c["phone"] for c in by_phone] == ["+17735550199"]
    assert [c["name"] for c in by_e164] == ["Maria Lopez"]


def test_an_unparseable_phone_is_400_and_nothing_is_written(owner):
    response = owner.post("/customers", {**CUSTOMER, "phone": "call me maybe"})
    assert response.status_code == 400
    assert response.data["error"]["code"] == "invalid_phone"
    assert owner.get("/customers").data["items"] == []


def test_an_unknown_time_zone_is_refused(owner):
    response = owner.post("/customers", {**CUSTOMER, "timezone": "Mars/Olympus_Mons"})
    assert response.status_code == 422
    assert response.data["error"]["code"] == "invalid_timezone"


def test_customers_page_with_a_cursor_and_a_forged_cursor_is_400(owner):
    for i in range(5):
        owner.post("/customers", {**CUSTOMER, "name": f"Customer {i}", "phone": f"312555010{i}"})
    first = owner.get("/customers?limit=2").data
    second = owner.get(f"/customers?limit=2&cursor={first['next_cursor']}").data
    names = [c["name"] for c in first["items"] + second["items"]]
    assert names == [f"Customer {i}" for i in range(4)]
    assert owner.get("/customers?cursor=abc.def").status_code == 400
    assert owner.get("/customers?limit=500").status_code == 422


def test_a_stale_if_match_is_409_and_the_customer_is_unchanged(owner):
    customer = owner.post("/customers", CUSTOMER).data
    first = owner.patch(
        f"/customers/{customer['id']}", {"name": "Dana W."}, headers={"If-Match": "1"}
    )
    assert first.status_code == 200 and first.data["version"] == 2
    stale = owner.patch(
        f"/customers/{customer['id']}", {"name": "Other"}, headers={"If-Match": "1"}
    )
    assert stale.status_code == 409
    assert owner.get(f"/customers/{customer['id']}").data["name"] == "Dana W."


def test_changing_a_phone_moves_the_phone_search_entry(owner):
    customer = owner.post("/customers", CUSTOMER).data
    owner.patch(f"/customers/{customer['id']}", {"phone": "630-555-0111"})
    assert owner.get("/customers?q=312555").data["items"] == []
    assert [c["id"] for c in owner.get("/customers?q=630555").data["items"]] == [customer["id"]]
