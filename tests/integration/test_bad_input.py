"""Bad input gets the right 4xx with the API.md error body, and nothing is written."""

import pytest

from tests.integration.helpers import CUSTOMER


def _assert_error(response, status, code=None):
    assert response.status_code == status, response.body
    assert set(response.data) == {"error"}
    assert {"code", "message", "details"} <= set(response.data["error"])
    if code:
        assert response.data["error"]["code"] == code


BAD_BODIES = [
    ("malformed json", "{not json", 400, "malformed_json"),
    ("a list instead of an object", "[1, 2]", 422, "validation_error"),
    ("wrong type", {**CUSTOMER, "name": 42}, 422, "validation_error"),
    ("unknown field", {**CUSTOMER, "tenant_id": "other"}, 422, "validation_error"),
    ("missing field", {"name": "No Phone"}, 422, "validation_error"),
    ("bad phone", {**CUSTOMER, "phone": "123456"}, 400, "invalid_phone"),
    ("bad time zone", {**CUSTOMER, "timezone": "Nowhere/Else"}, 422, "invalid_timezone"),
    ("oversized", {**CUSTOMER, "name": "x" * 300_000}, 413, "payload_too_large"),
    ("invalid utf-8", b"\xff\xfe{", 400, "malformed_json"),
]


@pytest.mark.parametrize(
    "body,status,code", [b[1:] for b in BAD_BODIES], ids=[b[0] for b in BAD_BODIES]
)
def test_a_bad_customer_body_is_refused_and_nothing_is_written(owner, body, status, code):
    _assert_error(owner.post("/customers", body), status, code)
    assert owner.get("/customers").data["items"] == []


def test_an_unknown_settings_time_zone_is_refused_and_settings_are_unchanged(owner):
    _assert_error(owner.patch("/settings", {"timezone": "Mars/Base"}), 422, "invalid_timezone")
    assert owner.get("/settings").data["timezone"] == "America/Chicago"


def test_a_null_for_a_required_setting_is_422_not_500(owner):
    _assert_error(owner.patch("/settings", {"name": None}), 422)


def test_a_bad_if_match_is_400(owner):
    customer = owner.post("/customers", CUSTOMER).data
    response = owner.patch(
        f"/customers/{customer['id']}", {"name": "x"}, headers={"If-Match": "abc"}
    )
    _assert_error(response, 400)


def test_a_wrong_content_type_gets_the_api_error_body(owner):
    response = owner.post("/customers", "name=x", headers={"Content-Type": "text/plain"})
    _assert_error(response, 415)


def test_an_unknown_id_is_404_with_the_error_body(owner):
    _assert_error(owner.get("/jobs/does-not-exist"), 404, "not_found")
    _assert_error(owner.get("/customers/does-not-exist"), 404, "not_found")


def test_a_coordinate_too_small_for_dynamodb_is_kept_as_zero_not_a_503(owner):
    # DynamoDB refuses numbers below 1e-130 in magnitude; coordinates are kept to 6 decimals.
    address = {**CUSTOMER["address"], "lat": 5e-324, "lng": -87.6581234567}
    created = owner.post("/customers", {**CUSTOMER, "address": address})
    assert created.status_code == 201, created.body
    shown = owner.get(f"/customers/{created.data['id']}").data["address"]
    assert (shown["lat"], shown["lng"]) == (0.0, -87.658123)
    area = {"center": {"lat": 41.88, "lng": -87.63}, "radius_km": 5e-324}
    booking = {"enabled": True, "slug": "tiny-radius", "service_area": area}
    refused = owner.call("PUT", "/settings/booking", booking)
    assert refused.status_code == 422, refused.body
