"""The price book: items by name prefix through an index, costs kept from technicians,
archive instead of delete, and the reads online booking uses."""

import csv
import io

import pytest

from chalicelib.domain.errors import NotFound
from tests.integration.helpers import a_technician_on
from tests.integration.stripe_helpers import invoice, new_job
from tests.integration.test_quotes import a_lead, public, token_of

# chalicelib.services is imported inside tests: the store reads the settings on import,
# which must come after the session's moto server is up.

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
    assert other_owner.post(f"/pricebook/items/{created['id']}/archive").status_code == 404
    assert other_owner.get("/pricebook/items").data["items"] == []
    from chalicelib.services import pricebook

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

    from chalicelib.services import pricebook

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
    from chalicelib.services import pricebook

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


# --- quote and invoice lines from the price book ---------------------------------------------


def test_a_price_book_line_keeps_its_price_after_the_item_changes(owner):
    # Given a quote sent with a line from the price book and one typed by hand
    drain, pipe = add(owner, DRAIN), add(owner, PIPE)
    job_id = a_lead(owner)
    lines = [
        {"item_id": drain["id"], "quantity": 1},
        {"item_id": pipe["id"], "quantity": 20},
        {"description": "Haul away", "unit_price_cents": 5000, "taxable": False},
    ]
    quote = owner.post(
        f"/jobs/{job_id}/quotes", {"options": [{"name": "Fix", "line_items": lines}]}
    )
    assert quote.status_code == 201, quote.body
    sent = owner.post(f"/jobs/{job_id}/quotes/{quote.data['id']}/send")
    assert sent.status_code == 200, sent.body

    # When the office raises the items' prices, renames one and changes its tax flag
    owner.patch(
        f"/pricebook/items/{drain['id']}",
        {"unit_price_cents": 25000, "name": "Main drain cleaning", "taxable": True},
    )
    owner.patch(f"/pricebook/items/{pipe['id']}", {"unit_price_cents": 200})

    # Then the sent quote, as the office and as the customer see it, is what was sent
    office = owner.get(f"/jobs/{job_id}/quotes/{quote.data['id']}").data["options"][0]
    customer = public(owner).get(f"/public/quotes/{token_of(sent.data['link'])}").data
    expected = [
        ("Drain cleaning: Clear one drain line with a cable machine", 1, 18900, False, 18900),
        ("PEX pipe, 1/2 in. (ft)", 20, 125, True, 2500),
        ("Haul away", 1, 5000, False, 5000),
    ]
    for option in (office, customer["options"][0]):
        shown = [
            (li["description"], li["quantity"], li["unit_price_cents"], li["taxable"])
            + (li["amount_cents"],)
            for li in option["line_items"]
        ]
        assert shown == expected
        assert option["subtotal_cents"] == 26400
    assert [li.get("item_id") for li in office["line_items"]] == [drain["id"], pipe["id"], None]


def test_quote_options_show_margin_to_the_office_over_lines_with_a_known_cost(owner):
    drain = add(owner, DRAIN)  # 18900 price, 4500 cost
    pipe = add(owner, PIPE)  # 125 price, 40 cost
    no_cost = add(owner, PIPE, name="Fittings", unit_cost_cents=None)
    job_id = a_lead(owner)
    options = [
        {
            "name": "Costed",
            "line_items": [
                {"item_id": drain["id"]},
                {"item_id": pipe["id"], "quantity": 10},
                {"item_id": no_cost["id"], "quantity": 3},
                {"description": "Travel", "unit_price_cents": 3000},
            ],
        },
        {"name": "Typed", "line_items": [{"description": "Labour", "unit_price_cents": 9000}]},
    ]

    created = owner.post(f"/jobs/{job_id}/quotes", {"options": options})

    assert created.status_code == 201, created.body
    costed, typed = created.data["options"]
    assert costed["margin_cents"] == (18900 - 4500) + 10 * (125 - 40)
    assert [li["unit_cost_cents"] for li in costed["line_items"]] == [4500, 40, None, None]
    assert typed["margin_cents"] is None


def test_costs_on_lines_are_hidden_from_the_technician_on_the_job(owner):
    drain = add(owner, DRAIN)
    job = new_job(owner)
    technician = a_technician_on(owner, job["id"])
    bill = invoice(owner, job["id"], line_items=[{"item_id": drain["id"], "quantity": 2}])
    owner.patch(f"/pricebook/items/{drain['id']}", {"unit_price_cents": 1})
    lines = [{"item_id": drain["id"]}]
    quote = owner.post(
        f"/jobs/{job['id']}/quotes", {"options": [{"name": "A", "line_items": lines}]}
    )
    assert quote.status_code == 201, quote.body

    by_office = owner.get(f"/jobs/{job['id']}/invoices/{bill['id']}").data
    by_tech = technician.get(f"/jobs/{job['id']}/invoices/{bill['id']}")
    job_by_tech = technician.get(f"/jobs/{job['id']}")

    assert by_office["total_cents"] == 37800
    assert [(li["unit_price_cents"], li["unit_cost_cents"]) for li in by_office["line_items"]] == [
        (18900, 4500)
    ]
    assert by_tech.status_code == 200, by_tech.body
    assert by_tech.data["total_cents"] == 37800
    assert [li["unit_cost_cents"] for li in by_tech.data["line_items"]] == [None]
    # The job's page shows the technician the quote's work, without prices, costs or margin
    assert job_by_tech.status_code == 200, job_by_tech.body
    tech_quote = job_by_tech.data["quote"]["options"][0]
    assert "margin_cents" not in tech_quote
    assert [li["unit_price_cents"] for li in tech_quote["line_items"]] == [None]
    assert all("unit_cost_cents" not in li for li in tech_quote["line_items"])


def test_unknown_archived_or_foreign_items_and_mixed_lines_are_refused(owner, other_owner):
    archived = add(owner, PIPE, name="Old part")
    owner.post(f"/pricebook/items/{archived['id']}/archive")
    foreign = add(other_owner, PIPE)
    job_id = a_lead(owner)

    def quote(line):
        return owner.post(
            f"/jobs/{job_id}/quotes", {"options": [{"name": "A", "line_items": [line]}]}
        )

    refused = {
        "unknown": quote({"item_id": "nope"}),
        "foreign": quote({"item_id": foreign["id"]}),
        "archived": quote({"item_id": archived["id"]}),
        "mixed": quote({"item_id": archived["id"], "unit_price_cents": 1}),
        "neither": quote({"quantity": 2}),
    }

    assert {name: r.status_code for name, r in refused.items()} == dict.fromkeys(refused, 422)
    assert refused["foreign"].data["error"]["details"][0]["item_id"] == foreign["id"]
    assert owner.get(f"/jobs/{job_id}/quotes").data["items"] == []


# --- CSV export and import -------------------------------------------------------------------


def export_csv(api) -> str:
    headers = {"Authorization": f"Bearer {api.token}"}
    response = api.client.http.request("GET", "/pricebook/export", headers=headers, body=b"")
    assert response.status_code == 200, response.body
    assert response.headers["Content-Type"].startswith("text/csv")
    return response.body.decode()


def import_csv(api, text: str, dry_run: bool = False):
    path = "/pricebook/import" + ("?dry_run=true" if dry_run else "")
    return api.call("POST", path, text, headers={"Content-Type": "text/csv"})


def book(api) -> list[tuple]:
    items = (
        api.get("/pricebook/items").data["items"]
        + api.get("/pricebook/items?archived=true").data["items"]
    )
    return sorted((i["name"], i["unit_price_cents"], i["version"]) for i in items)


def test_an_exported_book_edited_and_imported_updates_by_id_and_creates_new_rows(owner):
    drain = add(owner, DRAIN)
    add(owner, PIPE)
    exported = export_csv(owner)
    renamed = exported.replace("service,Drain cleaning,", "service,Drain rod,")
    edited = renamed.replace(",18900,", ",19900,") + ",fee,Trip charge,,4900,,false,Fees,,,,\r\n"

    preview = import_csv(owner, edited, dry_run=True)
    book_after_preview = book(owner)
    done = import_csv(owner, edited)
    again = import_csv(owner, edited)

    assert preview.status_code == 200, preview.body
    counts = ("rows", "valid", "created", "updated", "unchanged")
    assert [preview.data[k] for k in counts] == [3, 3, 1, 1, 1]
    assert preview.data["errors"] == []
    assert book_after_preview == [("Drain cleaning", 18900, 1), ("PEX pipe, 1/2 in. (ft)", 125, 1)]
    assert done.status_code == 200, done.body
    assert [done.data[k] for k in counts] == [3, 3, 1, 1, 1]
    assert book(owner) == [
        ("Drain rod", 19900, 2),
        ("PEX pipe, 1/2 in. (ft)", 125, 1),
        ("Trip charge", 4900, 1),
    ]
    assert [again.data[k] for k in counts] == [3, 3, 0, 0, 3]
    # The renamed row changed its item: matched by id, not taken for a new name
    assert owner.get(f"/pricebook/items/{drain['id']}").data["name"] == "Drain rod"
    trip = next(i for i in done.data["items"] if i["action"] == "created")
    assert owner.get(f"/pricebook/items/{trip['id']}").data["category"] == "Fees"


def test_the_csv_dry_run_reports_row_errors_and_nothing_is_written(owner, other_owner):
    add(owner, PIPE)
    foreign = add(other_owner, PIPE, name="Their pipe")
    text = "\r\n".join(
        [
            "id,kind,name,unit_price_cents,taxable,duration_minutes",
            ",service,Gutter cleaning,12900,true,60",  # row 2: fine
            ",material,Gutter guard,12.50,true,",  # 3: a price with a decimal point
            ",gadget,Widget,100,maybe,",  # 4: unknown kind, taxable neither true nor false
            ",material,Sealant,900,true,15",  # 5: a material has no duration
            ",Service,gutter CLEANING,100,true,",  # 6: unknown kind (case counts)
            ",service,GUTTER  cleaning,100,true,30",  # 7: the same item as row 2
            f"{foreign['id']},material,Their pipe,100,true,",  # 8: another tenant's item
            f"{'x' * 3000},material,Long id,100,true,",  # 9: no id is that long
            "",
        ]
    )

    preview = import_csv(owner, text, dry_run=True)
    real = import_csv(owner, text)

    assert preview.status_code == 200, preview.body
    assert (preview.data["rows"], preview.data["valid"]) == (8, 1)
    assert sorted((e["row"], e["field"]) for e in preview.data["errors"]) == [
        (3, "unit_price_cents"),
        (4, "kind"),
        (4, "taxable"),
        (5, "duration_minutes"),
        (6, "kind"),
        (7, "name"),
        (8, "id"),
        (9, "id"),
    ]
    assert real.status_code == 422
    assert real.data["error"]["details"] == preview.data["errors"]
    assert [i["name"] for i in owner.get("/pricebook/items").data["items"]] == [PIPE["name"]]
    assert owner.get(f"/pricebook/items/{foreign['id']}").status_code == 404


def test_a_header_with_unknown_or_missing_columns_is_refused_whole(owner):
    response = import_csv(owner, "kind,name,price\r\nmaterial,Pipe,100\r\n", dry_run=True)

    assert response.status_code == 422
    assert response.data["error"]["code"] == "unrecognized_columns"
    assert sorted((d["field"], d["message"]) for d in response.data["error"]["details"]) == [
        ("price", "unknown column"),
        ("unit_price_cents", "missing column"),
    ]


def test_exported_text_never_runs_as_a_spreadsheet_formula_and_imports_back_as_it_was(owner):
    add(owner, PIPE, name='=HYPERLINK("http://evil.example","x")', description="-50% off")

    exported = export_csv(owner)
    again = import_csv(owner, exported)

    row = list(csv.DictReader(io.StringIO(exported)))[0]
    assert row["name"].startswith("'=") and row["description"].startswith("'-")
    assert again.data["unchanged"] == 1
    item = owner.get("/pricebook/items").data["items"][0]
    assert item["name"] == '=HYPERLINK("http://evil.example","x")'


def test_only_the_office_exports_and_imports(owner):
    tech = owner.as_role("technician")
    headers = {"Authorization": f"Bearer {tech.token}"}

    exported = tech.client.http.request("GET", "/pricebook/export", headers=headers, body=b"")
    imported = import_csv(tech, "kind,name,unit_price_cents\r\nfee,Trip,100\r\n")

    assert (exported.status_code, imported.status_code) == (403, 403)
