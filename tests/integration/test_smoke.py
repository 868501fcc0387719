from tests.integration.helpers import CUSTOMER


def test_a_new_tenant_adds_a_customer_and_a_lead_and_reads_its_timeline(owner):
    customer = owner.post("/customers", CUSTOMER)
    assert customer.status_code == 201, customer.body
    assert customer.data["phone"] == "+13125550142"
    lead = owner.post("/leads", {"customer_id": customer.data["id"], "title": "Leaky faucet"})
    assert lead.status_code == 201, lead.body
    assert lead.data["stage"] == "lead"
    timeline = owner.get(f"/jobs/{lead.data['id']}/timeline")
    assert timeline.status_code == 200
    assert [e["type"] for e in timeline.data["items"]] == ["LeadCreated"]
