"""Leads and jobs: create, list by stage and customer, change, close, notes, timeline."""

from tests.integration.helpers import CUSTOMER


def _lead(owner, **fields):
    body = {"customer": CUSTOMER, "title": "Water heater leaking", **fields}
    response = owner.post("/leads", body)
    assert response.status_code == 201, response.body
    return response.data


def test_a_lead_with_a_new_customer_creates_both_and_starts_the_timeline(owner):
    job = _lead(owner, source="phone")
    assert job["stage"] == "lead" and job["source"] == "phone"
    customer = owner.get(f"/customers/{job['customer_id']}").data
    assert customer["phone"] == "+13125550142"
    detail = owner.get(f"/jobs/{job['id']}").data
    assert detail["balance_cents"] == 0 and detail["currency"] == "USD"
    events = owner.get(f"/jobs/{job['id']}/timeline").data["items"]
    assert [e["type"] for e in events] == ["LeadCreated"]


def test_jobs_are_listed_by_stage_and_by_customer(owner):
    first = _lead(owner, title="First")
    second = _lead(owner, title="Second")
    owner.post(f"/jobs/{first['id']}/lose", {"reason": "went with a competitor"})
    leads = owner.get("/jobs?stage=lead").data["items"]
    lost = owner.get("/jobs?stage=lost").data["items"]
    everything = owner.get("/jobs").data["items"]
    mine = owner.get(f"/jobs?customer_id={second['customer_id']}").data["items"]
    assert [j["id"] for j in leads] == [second["id"]]
    assert [j["id"] for j in lost] == [first["id"]]
    assert {j["id"] for j in everything} == {first["id"], second["id"]}
    assert [j["id"] for j in mine] == [second["id"]]


def test_an_unknown_stage_filter_is_422(owner):
    assert owner.get("/jobs?stage=bogus").status_code == 422


def test_a_lost_job_cannot_be_lost_or_cancelled_again(owner):
    job = _lead(owner)
    lost = owner.post(f"/jobs/{job['id']}/lose", {"reason": "too expensive"})
    assert lost.status_code == 200 and lost.data["stage"] == "lost"
    again = owner.post(f"/jobs/{job['id']}/cancel", {"reason": "oops"})
    assert again.status_code == 409
    assert again.data["error"]["code"] == "illegal_transition"


def test_patching_a_job_with_a_stale_version_is_409(owner):
    job = _lead(owner)
    ok = owner.patch(f"/jobs/{job['id']}", {"priority": "high"}, headers={"If-Match": "1"})
    assert ok.status_code == 200 and ok.data["priority"] == "high"
    stale = owner.patch(f"/jobs/{job['id']}", {"title": "x"}, headers={"If-Match": "1"})
    assert stale.status_code == 409
    assert owner.get(f"/jobs/{job['id']}").data["title"] == "Water heater leaking"


def test_a_client_cannot_set_the_stage_or_tenant_through_a_body(owner):
    job = _lead(owner)
    for field, value in [("stage", "paid"), ("tenant_id", "x"), ("version", 9)]:
        response = owner.patch(f"/jobs/{job['id']}", {field: value})
        assert response.status_code == 422, field
    assert owner.get(f"/jobs/{job['id']}").data["stage"] == "lead"


def test_notes_and_changes_are_told_in_order_on_the_timeline(owner):
    job = _lead(owner)
    owner.post(f"/jobs/{job['id']}/notes", {"text": "Gate code 4411"})
    owner.patch(f"/jobs/{job['id']}", {"tags": ["vip"]})
    owner.post(f"/jobs/{job['id']}/cancel", {"reason": "customer fixed it"})
    events = owner.get(f"/jobs/{job['id']}/timeline").data["items"]
    assert [e["type"] for e in events] == [
        "LeadCreated",
        "NoteAdded",
        "JobUpdated",
        "JobStageChanged",
    ]
    notes = owner.get(f"/jobs/{job['id']}").data["notes"]
    assert [n["text"] for n in notes] == ["Gate code 4411"]


def test_a_technician_without_a_visit_on_the_job_cannot_see_it(owner):
    job = _lead(owner)
    technician = owner.as_role("technician", "tech-1")
    assert technician.get(f"/jobs/{job['id']}").status_code == 404
    assert technician.post(f"/jobs/{job['id']}/notes", {"text": "hi"}).status_code == 404
