"""The README's first walk, over HTTP against the local stage."""

import pytest

pytestmark = pytest.mark.e2e


def test_a_new_user_creates_a_tenant_a_customer_and_a_lead_and_reads_its_timeline(stage):
    tenant = stage.call(
        "POST", "/dev/tenants", json={"name": "Acme Plumbing", "timezone": "America/Chicago"}
    )
    assert tenant.status_code == 201
    token = tenant.json()["owner_token"]

    customer = stage.call(
        "POST",
        "/customers",
        token,
        json={"name": "Dana Whitfield", "phone": "312-555-0142"},
    )
    assert customer.status_code == 201 and customer.json()["phone"] == "+13125550142"

    lead = stage.call(
        "POST", "/leads", token, json={"customer_id": customer.json()["id"], "title": "Leaky tap"}
    )
    assert lead.status_code == 201 and lead.json()["stage"] == "lead"

    timeline = stage.call("GET", f"/jobs/{lead.json()['id']}/timeline", token)
    assert [e["type"] for e in timeline.json()["items"]] == ["LeadCreated"]


def test_the_stage_refuses_a_request_without_a_token_with_the_api_error_body(stage):
    response = stage.call("GET", "/jobs")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthorized"
    assert stage.call("GET", "/openapi.json").json()["openapi"].startswith("3.")
