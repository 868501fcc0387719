"""The price book: items by name prefix through an index, costs kept from technicians,
archive instead of delete, and the reads online booking uses."""

import pytest

from chalicelib.domain.errors import NotFound
from chalicelib.services import pricebook

DRAIN = {
    "kind": "service",
    "name": "Drain cleaning",
    "description": "Clear one drain line with a cable machine",
    "unit_price_cents": 18900,
    "unit_cost_cents": 4500,
    "taxable": False,
    "category": "Plumbing",
    "duration_minutes": 90,
    "required_skills": ["plumbing"],
    "bookable_online": True,
}
PIPE = {
    "kind": "material",
    "name": "PEX pipe, 1/2 in. (ft)",
    "unit_price_cents": 125,
    "unit_cost_cents": 40,
    "taxable": True,
    "category": "Plumbing",
}


def add(api, fields, **changes):
    response = api.post("/pricebook/items", {**fields, **changes})
    assert response.status_code == 201, response.body
    return response.data


def test_an_item_is_created_read_and_shows_its_margin_to_the_office(owner):
    created = add(owner, DRAIN)

    read = owner.get(f"/pricebook/items/{created['id']}")

    assert read.status_code == 200
    assert read.data["name"] == "Drain cleaning"
    assert read.data["currency"] == "USD"
    assert (read.data["unit_cost_cents"], read.data["margin_cents"]) == (4500, 14400)
    assert read.headers["ETag"] == f'"{read.data["version"]}"'


def test_costs_are_invisible_to_technicians(owner):
    created = add(owner, DRAIN)
    tech = owner.as_role("technician")

    one = tech.get(f"/pricebook/items/{created['id']}")
    listed = tech.get("/pricebook/items").data["items"]

    assert one.status_code == 200
    assert one.data["unit_price_cents"] == 18900
    assert (one.data["unit_cost_cents"], one.data["margin_cents"]) == (None, None)
    assert [(i["unit_cost_cents"], i["margin_cents"]) for i in listed] == [(None, None)]
    assert tech.post("/pricebook/items", PIPE).status_code == 403
    assert tech.patch(f"/pricebook/items/{created['id']}", {"name": "x"}).status_code == 403


def test_another_tenants_item_is_404(owner, other_owner):
    created = add(owner, DRAIN)

    assert other_owner.get(f"/pricebook/items/{created['id']}").status_code == 404
    assert other_owner.patch(f"/pricebook/items/{created['id']}", {"name": "x"}).status_code == 404
    assert other_owner.get("/pricebook/items").data["items"] == []
    with pytest.raises(NotFound):
        pricebook.get_item(other_owner.tenant_id, created["id"])


def test_search_by_name_prefix_any_case_with_paging(owner):
    names = ["Water heater flush", "Water heater install", "Water softener", "Winterize", "Wax"]
    for name in names:
        add(owner, PIPE, name=name)

    first = owner.get("/pricebook/items?q=WATER%20h&limit=1")
    second = owner.get(f"/pricebook/items?q=WATER%20h&limit=1&cursor={first.data['next_cursor']}")
    water = owner.get("/pricebook/items?q=water").data["items"]

    assert [i["name"] for i in first.data["items"]] == ["Water heater flush"]
    assert [i["name"] for i in second.data["items"]] == ["Water heater install"]
    assert second.data["next_cursor"] is None
    assert [i["name"] for i in water] == [
        "Water heater flush",
        "Water heater install",
        "Water softener",
    ]
    other_filter = owner.get(f"/pricebook/items?q=wa&limit=1&cursor={first.data['next_cursor']}")
    assert other_filter.status_code == 400


def test_kind_and_category_each_list_from_their_own_index(owner):
    add(owner, DRAIN)
    add(owner, PIPE)
    add(owner, PIPE, name="Trip charge", kind="fee", category="Fees")
    add(owner, PIPE, name="Copper pipe", category=None)

    def names(query):
        return [i["name"] for i in owner.get(f"/pricebook/items?{query}").data["items"]]

    assert names("kind=material") == ["Copper pipe", "PEX pipe, 1/2 in. (ft)"]
    assert names("category=plumbing") == ["Drain cleaning", "PEX pipe, 1/2 in. (ft)"]
    assert names("category=Plumbing&kind=service") == ["Drain cleaning"]
    assert names("category=Plumbing&kind=material&q=p") == ["PEX pipe, 1/2 in. (ft)"]
    assert names("category=Fees&kind=material") == []


def test_a_change_moves_the_item_between_lists_and_needs_the_current_version(owner):
    item = add(owner, PIPE)

    stale = owner.patch(f"/pricebook/items/{item['id']}", {"name": "x"}, headers={"If-Match": "7"})
    moved = owner.patch(
        f"/pricebook/items/{item['id']}",
        {"name": "Copper pipe", "category": "Copper", "unit_cost_cents": None},
        headers={"If-Match": str(item["version"])},
    )

    assert stale.status_code == 409
    assert stale.data["error"]["code"] == "version_conflict"
    assert moved.status_code == 200
    assert (moved.data["unit_cost_cents"], moved.data["margin_cents"]) == (None, None)
    assert owner.get("/pricebook/items?q=pex").data["items"] == []
    assert owner.get("/pricebook/items?category=plumbing").data["items"] == []
    assert [i["name"] for i in owner.get("/pricebook/items?category=copper").data["items"]] == [
        "Copper pipe"
    ]


def test_archiving_keeps_the_item_but_takes_it_off_lists_and_booking(owner):
    drain = add(owner, DRAIN)
    add(owner, DRAIN, name="Camera inspection")

    archived = owner.post(f"/pricebook/items/{drain['id']}/archive")

    assert archived.status_code == 200
    assert archived.data["archived"] is True
    assert owner.get(f"/pricebook/items/{drain['id']}").data["archived"] is True
    assert [i["name"] for i in owner.get("/pricebook/items").data["items"]] == ["Camera inspection"]
    assert [i["name"] for i in owner.get("/pricebook/items?archived=true").data["items"]] == [
        "Drain cleaning"
    ]
    assert [s.name for s in pricebook.bookable_services(owner.tenant_id)] == ["Camera inspection"]


def test_bookable_services_are_the_active_services_marked_bookable(owner, other_owner):
    add(owner, DRAIN, name="Leak repair")
    add(owner, DRAIN, name="Boiler service", bookable_online=False)
    add(owner, PIPE)
    add(other_owner, DRAIN, name="Furnace tune-up")

    services = pricebook.bookable_services(owner.tenant_id)

    assert [(s.name, s.duration_minutes, s.required_skills) for s in services] == [
        ("Leak repair", 90, ["plumbing"])
    ]
    assert pricebook.get_item(owner.tenant_id, services[0].item_id) == services[0]


def test_fields_that_do_not_fit_the_kind_are_422_naming_them(owner):
    material = owner.post("/pricebook/items", {**PIPE, "duration_minutes": 30})
    bookable = owner.post("/pricebook/items", {**DRAIN, "duration_minutes": None})
    fractional = owner.post("/pricebook/items", {**PIPE, "unit_price_cents": 12.5})

    assert material.status_code == 422
    assert [d["field"] for d in material.data["error"]["details"]] == ["duration_minutes"]
    assert bookable.status_code == 422
    assert [d["field"] for d in bookable.data["error"]["details"]] == ["duration_minutes"]
    assert fractional.status_code == 422
