"""Moving over: customers imported from a CSV export (a dry run, then for real, then again), and
every record of the business exported as JSON Lines, another business's never among them."""

from __future__ import annotations

import json

import pytest

from tests.integration.helpers import CUSTOMER, a_technician_on, new_tenant

CSV = {"Content-Type": "text/csv"}

# Row 3 has no phone, row 4 a phone that is no number, row 5 an email that is none; row 6 is
# row 2's customer again (the same phone, written another way).
WITH_BAD_ROWS = """name,phone,email,line1,city,region,postal_code
Dana Whitfield,(312) 555-0142,dana@example.com,1200 W Fulton St,Chicago,IL,60607
Sam Rivera,,sam@example.com,,,,
Lee Chen,call me maybe,,,,,
Ana Lopez,312-555-0150,not-an-email,,,,
Dana W.,+1 312 555 0142,,,,,
Cory Park,773-555-0199,,500 N Clark St,Chicago,IL,
"""


def names(api) -> list[str]:
    return sorted(c["name"] for c in api.get("/customers?limit=200").data["items"])


def test_a_dry_run_then_a_real_run_then_the_same_file_again(owner):
    # A dry run lists every bad row and writes nothing
    dry = owner.post("/imports/customers?dry_run=true", WITH_BAD_ROWS, headers=CSV)
    assert dry.status_code == 200, dry.body
    assert dry.data["rows"] == 6 and dry.data["valid"] == 2 and dry.data["created"] == 0
    assert dry.data["skipped_duplicates"] == 1  # row 6 is row 2's phone
    assert {(e["row"], e["field"]) for e in dry.data["errors"]} == {
        (3, "phone"),
        (4, "phone"),
        (5, "email"),
        (7, "postal_code"),  # an address is all of line1, city, region and postal code
    }
    assert names(owner) == []

    # The real run creates the valid rows, phones in E.164, and lists the same errors
    real = owner.post("/imports/customers", WITH_BAD_ROWS, headers=CSV)
    assert real.status_code == 200, real.body
    assert real.data["created"] == 1 and real.data["skipped_duplicates"] == 1
    assert real.data["errors"] == dry.data["errors"]
    (dana,) = owner.get("/customers?q=dana").data["items"]
    assert dana["phone"] == "+13125550142" and dana["address"]["postal_code"] == "60607"

    # The fixed file, run twice: the second run creates nothing new
    fixed = WITH_BAD_ROWS.replace("Sam Rivera,,", "Sam Rivera,312-555-0111,").replace(
        "Chicago,IL,\n", "Chicago,IL,60654\n"
    )
    first = owner.post("/imports/customers", fixed, headers=CSV).data
    again = owner.post("/imports/customers", fixed, headers=CSV).data
    assert (first["created"], first["skipped_duplicates"]) == (2, 2)
    assert (again["created"], again["skipped_duplicates"]) == (0, 4)
    assert names(owner) == ["Cory Park", "Dana Whitfield", "Sam Rivera"]


def test_housecall_pro_and_jobber_exports_import_as_they_come(owner):
    housecall_pro = (
        "First Name,Last Name,Display Name,Email,Company,Mobile Number,Home Number,"
        "Street,Street Line 2,City,State,Zip,Customer Tags\n"
        "Ana,Lopez,,ana@example.com,,,312-555-0150,77 W Lake St,Apt 2,Chicago,IL,60601,vip\n"
    )
    jobber = (
        "Company Name,First Name,Last Name,E-mails,Main Phone,Mobile Phone,"
        "Billing Street 1,Billing City,Billing State,Billing Zip code\n"
        'Acme Rentals,,,"ops@acme.example, b@acme.example",312-555-0160,,'
        "9 N State St,Chicago,IL,60602\n"
    )
    for text in (housecall_pro, jobber):
        response = owner.post("/imports/customers", text, headers=CSV)
        assert response.status_code == 200, response.body
        assert response.data["created"] == 1 and response.data["errors"] == []
    ana = owner.get("/customers?q=ana").data["items"][0]
    assert (ana["phone"], ana["address"]["line2"]) == ("+13125550150", "Apt 2")
    acme = owner.get("/customers?q=acme").data["items"][0]
    assert (acme["email"], acme["address"]["city"]) == ("ops@acme.example", "Chicago")


def test_a_file_that_is_not_a_customer_export_is_refused_whole(owner):
    response = owner.post("/imports/customers", "sku,price\nA1,100\n", headers=CSV)
    assert response.status_code == 422
    assert response.data["error"]["code"] == "unrecognized_columns"
    assert names(owner) == []


def test_a_body_over_the_size_cap_is_413(owner):
    text = "name,phone\n" + "Dana Whitfield,312-555-0142\n" * 12_000  # over 256 KiB
    response = owner.post("/imports/customers", text, headers=CSV)
    assert response.status_code == 413
    assert response.data["error"]["code"] == "payload_too_large"


def test_the_office_imports_and_a_technician_may_not(owner):
    office = owner.as_role("office")
    assert office.post("/imports/customers", WITH_BAD_ROWS, headers=CSV).status_code == 200
    technician = owner.as_role("technician")
    refused = technician.post("/imports/customers", WITH_BAD_ROWS, headers=CSV)
    assert refused.status_code == 403


# --- export -----------------------------------------------------------------------------------


def export(api):
    """GET /exports/tenant: the status, the content type and the records (header line first)."""
    headers = {"Authorization": f"Bearer {api.token}"}
    response = api.client.http.request("GET", "/exports/tenant", headers=headers)
    kind = response.headers.get("Content-Type", "")
    if response.status_code != 200:
        return response.status_code, kind, json.loads(response.body)
    lines = response.body.decode().splitlines()
    return response.status_code, kind, [json.loads(line) for line in lines]


def test_the_export_holds_the_business_records_and_no_other_business(client, owner):
    customer = owner.post("/customers", CUSTOMER).data
    lead = {"customer_id": customer["id"], "title": "Water heater leaking", "source": "phone"}
    job = owner.post("/leads", lead).data
    a_technician_on(owner, job["id"])  # a visit: the technician's day is a partition of its own
    other = new_tenant(client, "Other Plumbing")
    theirs = other.post("/customers", {**CUSTOMER, "name": "Their Customer"}).data
    other.post("/leads", {**lead, "customer_id": theirs["id"], "title": "Their job"})

    status, kind, records = export(owner)

    assert status == 200 and kind.startswith("application/x-ndjson")
    header, *items = records
    assert header["type"] == "export" and header["tenant_id"] == owner.tenant_id
    types = {record["type"] for record in items}
    assert {"tenant", "customer", "job", "visit", "tech_day"} <= types
    assert any(r["data"].get("job_id") == job["id"] for r in items if r["type"] == "job")
    text = json.dumps(items)
    assert other.tenant_id not in text and "Their Customer" not in text and "Their job" not in text
    assert all(r["pk"].startswith(f"T#{owner.tenant_id}") for r in items)


def test_the_export_reads_every_page_of_a_collection(owner, monkeypatch):
    from chalicelib.store import exports

    for i in range(7):
        owner.post("/customers", {**CUSTOMER, "name": f"Customer {i}", "phone": f"31255501{i:02d}"})
    _, _, whole = export(owner)

    monkeypatch.setattr(exports, "PAGE_SIZE", 2)  # the customers index in four pages
    _, _, paged = export(owner)

    customers = [r for r in paged[1:] if r["type"] == "customer"]
    assert len(customers) == 7
    assert paged[1:] == whole[1:]


@pytest.mark.parametrize("role", ["office", "technician"])
def test_only_the_owner_exports(owner, role):
    status, _, body = export(owner.as_role(role))
    assert status == 403 and body["error"]["code"] == "forbidden"
