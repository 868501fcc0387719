"""Requests no honest client sends, answered with a 4xx or as if the oddity were not there; each
was a 500 before (found by the fuzzer, tests/fuzz/test_openapi_fuzz.py)."""

from __future__ import annotations

import pytest

from chalicelib.api.routing import declared_routes
from chalicelib.api.schemas import ListQuery
from tests.integration.helpers import CUSTOMER
from tests.integration.stripe_helpers import new_job

ROUTES = declared_routes()  # every route's declaration (imports their modules)

LISTS = [r for r in ROUTES if r.query is not None and issubclass(r.query, ListQuery)]


@pytest.mark.parametrize("route", LISTS, ids=lambda r: f"{r.method} {r.path}")
def test_every_list_refuses_a_cursor_it_did_not_sign(owner, route):
    # A cursor is signed and names its tenant: it cannot be forged to read on from elsewhere
    # (a non-ASCII one once reached hmac.compare_digest as text, which refuses it: a 500).
    caller = owner.as_role(route.roles[0])
    path = route.path.replace("{job_id}", new_job(owner)["id"])
    if "{subscription_id}" in path:
        hook = {"url": "http://127.0.0.1:9/hooks", "events": ["*"]}
        path = path.replace(
            "{subscription_id}", owner.post("/webhooks/subscriptions", hook).data["id"]
        )
    for cursor in ("eyJ0IjoieCJ9.0000", "ãd.Ö", "."):
        forged = caller.get(f"{path}?cursor={cursor}")
        assert forged.status_code == 400, (cursor, forged.body)
        assert forged.data["error"]["code"] == "invalid_cursor"


def test_an_if_match_where_no_version_is_checked_is_ignored(owner):
    # Creating has nothing to compare a version with (it once reached the handler: a 500).
    created = owner.post("/customers", CUSTOMER, headers={"If-Match": "7"})
    assert created.status_code == 201, created.body
    # Where a version is checked, a stale one is still a 409
    customer = f"/customers/{created.data['id']}"
    stale = owner.patch(customer, {"name": "X"}, headers={"If-Match": "7"})
    assert stale.status_code == 409


def test_a_null_for_a_required_field_is_422_and_the_object_stays_readable(owner):
    # A PATCH once saved a job without a title, and every later read of it was a 500.
    job = new_job(owner)
    for field in ("title", "priority", "tags"):
        refused = owner.patch(f"/jobs/{job['id']}", {field: None})
        assert refused.status_code == 422, (field, refused.body)
    assert owner.get(f"/jobs/{job['id']}").status_code == 200
    assert owner.patch("/settings", {"timezone": None}).status_code == 422


def test_a_preview_of_a_template_that_does_not_exist_is_404(owner):
    response = owner.post("/settings/templates/no_such_text/preview", {})
    assert response.status_code == 404, response.body
