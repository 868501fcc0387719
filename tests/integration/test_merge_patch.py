"""PATCH is a JSON Merge Patch (RFC 7396), field by field, as the document declares it: a field
the schema lets be null is cleared by null; any other refuses null with a 422 naming it."""

from __future__ import annotations

import json

import pytest

from tests.integration.helpers import CUSTOMER

# A value each clearable field can take first, so clearing it is seen.
VALUES = {
    "description": "Through the side gate",
    "email": "someone@example.com",
    "address": CUSTOMER["address"],
    "timezone": "America/Denver",
    "home": {"lat": 41.9, "lng": -87.7},
    "phone": "312-555-0177",
    "logo_url": "https://example.com/logo.png",
    "twilio_from_number": "+13125550188",
}
PATCHES = {
    "/jobs/{job_id}": "JobPatch",
    "/customers/{customer_id}": "CustomerPatch",
    "/technicians/{technician_id}": "TechnicianPatch",
    "/settings": "SettingsPatch",
}


def _fields(client, schema: str) -> list[tuple[str, bool]]:
    document = json.loads(client.http.get("/openapi.json").body)
    properties = document["components"]["schemas"][schema]["properties"]
    return [(name, {"type": "null"} in prop.get("anyOf", [])) for name, prop in properties.items()]


def _path(owner, template: str) -> str:
    if "{job_id}" in template:
        job = owner.post("/leads", {"customer": CUSTOMER, "title": "Boiler"}).data
        return template.format(job_id=job["id"])
    if "{customer_id}" in template:
        return template.format(customer_id=owner.post("/customers", CUSTOMER).data["id"])
    if "{technician_id}" in template:
        tech = owner.post("/technicians", {"name": "Sam", "phone": "312-555-0111"}).data
        return template.format(technician_id=tech["id"])
    return template


@pytest.mark.parametrize("template", PATCHES)
def test_null_clears_what_may_be_cleared_and_is_refused_by_name_elsewhere(client, owner, template):
    path = _path(owner, template)
    for field, clearable in _fields(client, PATCHES[template]):
        before = owner.get(path).data
        nulled = owner.patch(path, {field: None})
        if clearable:
            assert owner.patch(path, {field: VALUES[field]}).status_code == 200, field
            assert owner.get(path).data[field] is not None, field
            cleared = owner.patch(path, {field: None})
            assert cleared.status_code == 200, (field, cleared.body)
            assert cleared.data[field] is None and owner.get(path).data[field] is None
        else:
            assert nulled.status_code == 422, (field, nulled.body)
            error = nulled.data["error"]
            assert error["code"] == "validation_error"
            assert [d["field"] for d in error["details"]] == [field]
            assert owner.get(path).data == before, field


def test_an_absent_field_is_left_as_it_is(owner):
    customer = owner.post("/customers", CUSTOMER).data
    changed = owner.patch(f"/customers/{customer['id']}", {"name": "Dana W."}).data
    assert changed["email"] == customer["email"] and changed["address"] == customer["address"]
