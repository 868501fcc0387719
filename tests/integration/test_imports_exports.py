"""Moving over: customers and jobs history imported from a CSV export (a dry run, then for real,
then again), and every record of the business exported as JSON Lines, another business's never
among them."""

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


# --- jobs history -----------------------------------------------------------------------------

# Row 2: Dana, already a customer (her phone written another way), a paid water heater job.
# Row 3: a new customer, added from the name and phone. Row 4: a phone no customer has and no
# name to add one by. Row 5: open work, not history. Row 6: a total with a cent too many.
# Row 7: Dana again, a cancelled estimate.
JOBS = """customer_phone,customer_name,title,description,date,status,total,currency
+1 312 555 0142,,Water heater swap,40 gal gas,2024-11-03,paid,"1,234.50",USD
773-555-0199,Cory Park,Drain cleaning,,2025-02-10T14:30,unpaid,189,USD
312-555-0100,,Leaky faucet,,2025-01-05,completed,90,USD
312-555-0142,,Annual service,,2025-03-01,scheduled,120,USD
773-555-0199,Cory Park,Sump pump,,2025-02-11,completed,12.345,USD
312-555-0142,,Softener estimate,,2025-01-20,cancelled,,
"""


def customer_jobs(api, customer_id: str) -> list[dict]:
    return api.get(f"/jobs?customer_id={customer_id}").data["items"]


def test_jobs_history_a_dry_run_then_a_real_run_then_the_same_file_again(owner):
    dana = owner.post("/customers", CUSTOMER).data

    dry = owner.post("/imports/jobs?dry_run=true", JOBS, headers=CSV)
    assert dry.status_code == 200, dry.body
    assert (dry.data["rows"], dry.data["valid"], dry.data["created"]) == (6, 3, 0)
    assert {(e["row"], e["field"]) for e in dry.data["errors"]} == {
        (4, "customer_name"),
        (5, "status"),
        (6, "total"),
    }
    assert owner.get("/jobs").data["items"] == [] and names(owner) == ["Dana Whitfield"]

    real = owner.post("/imports/jobs", JOBS, headers=CSV)
    assert real.status_code == 200, real.body
    assert (real.data["created"], real.data["customers_created"]) == (3, 1)
    assert real.data["errors"] == dry.data["errors"]
    assert names(owner) == ["Cory Park", "Dana Whitfield"]

    again = owner.post("/imports/jobs", JOBS, headers=CSV).data
    assert (again["created"], again["customers_created"], again["skipped_duplicates"]) == (0, 0, 3)
    assert len(owner.get("/jobs").data["items"]) == 3
    assert names(owner) == ["Cory Park", "Dana Whitfield"]

    # On Dana's history, newest first: the cancelled estimate, then the paid job.
    estimate, heater = customer_jobs(owner, dana["id"])
    assert (estimate["stage"], estimate["source"], estimate["imported_total_cents"]) == (
        "cancelled",
        "import",
        None,
    )
    assert (heater["title"], heater["stage"]) == ("Water heater swap", "completed")
    assert (heater["imported_total_cents"], heater["imported_status"]) == (123450, "paid")
    assert heater["created_at"].startswith("2024-11-03T05:00:00")  # local midnight, Chicago


def test_an_imported_job_is_history_the_ledger_does_not_count(owner):
    owner.post("/imports/jobs", JOBS, headers=CSV)
    (cory,) = owner.get("/customers?q=cory").data["items"]
    (job,) = customer_jobs(owner, cory["id"])

    detail = owner.get(f"/jobs/{job['id']}").data
    assert detail["stage"] == "completed" and detail["imported_total_cents"] == 18900
    assert detail["balance_cents"] == 0 and detail["invoices"] == []
    assert (detail["visit_count"], detail["open_visit_count"]) == (1, 0)
    (visit,) = owner.get(f"/jobs/{job['id']}/visits").data["items"]
    assert visit["status"] == "completed" and visit["technician_ids"] == []
    assert visit["start"].startswith("2025-02-10T20:30:00")  # 14:30 in Chicago (CST)
    assert owner.get(f"/invoices?job_id={job['id']}").data["items"] == []
    (imported,) = owner.get(f"/jobs/{job['id']}/timeline").data["items"]
    assert imported["type"] == "JobImported" and imported["data"]["row"] == 3
    # Nobody's day is booked by it: the day's board has no unassigned work.
    board = owner.get("/dispatch/board?date=2025-02-10")
    assert board.status_code == 200 and board.data["unassigned"] == []


def test_housecall_pro_and_jobber_job_exports_import_by_their_job_numbers(owner):
    housecall_pro = (
        "Invoice Number,Created At,Date,Customer,First Name,Last Name,Mobile Phone,"
        "Description,Job Status,Total Amount,Amount Due\n"
        "1042,2024-10-01,2024-10-05 10:00,,Ana,Lopez,312-555-0150,Replace anode rod,"
        "complete,189.00,0\n"
    )
    jobber = (
        "Job #,Client name,Client phone,Title,Completed,Job status,Total ($)\n"
        "77,Acme Rentals,312-555-0160,Spring cleanup,2025-04-20,Archived,450\n"
    )
    for text in (housecall_pro, jobber):
        first = owner.post("/imports/jobs", text, headers=CSV)
        assert first.status_code == 200, first.body
        assert (first.data["created"], first.data["errors"]) == (1, [])
        # The same job number again, its title edited since: still the same job.
        edited = text.replace("Replace anode rod", "Anode").replace("Spring cleanup", "Cleanup")
        assert owner.post("/imports/jobs", edited, headers=CSV).data["skipped_duplicates"] == 1
    paid = [j for j in owner.get("/jobs").data["items"] if j["imported_status"] == "paid"]
    assert [j["title"] for j in paid] == ["Replace anode rod"]  # nothing due on it


def test_another_business_sees_none_of_the_imported_history(owner, other_owner):
    for business in (owner, other_owner):
        business.post("/customers", CUSTOMER)
    owner.post("/imports/jobs", JOBS, headers=CSV)
    ours = owner.get("/jobs").data["items"]
    assert other_owner.get("/jobs").data["items"] == []
    assert other_owner.get(f"/jobs/{ours[0]['id']}").status_code == 404
    # The same file in their account makes their own jobs (the ids are per business).
    theirs = other_owner.post("/imports/jobs", JOBS, headers=CSV).data
    assert theirs["created"] == 3 and len(owner.get("/jobs").data["items"]) == 3


def test_a_technician_may_not_import_jobs(owner):
    refused = owner.as_role("technician").post("/imports/jobs", JOBS, headers=CSV)
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
