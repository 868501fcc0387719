"""Unrestricted resource consumption (OWASP API4): every request is bounded before it costs us.

Generated from the route table where a limit is the router's (page size, body size, nesting),
so a new route is bounded by default; by example where the limit is the domain's. Checklist
items, optimize time and recurrence length are proven beside their features:
tests/integration/test_checklists_photos.py, test_dispatch.py and test_recurrence.py.
"""

from __future__ import annotations

import re

import pytest

from chalicelib.api.routing import declared_routes
from chalicelib.api.schemas import ListQuery
from chalicelib.config import get_settings
from chalicelib.domain import invoices, quotes
from tests.integration.helpers import Api, new_tenant
from tests.integration.stripe_helpers import new_job

ROUTES = declared_routes()  # every route's declaration (imports their modules)

LINE = {"description": "Labour", "quantity": 1, "unit_price_cents": 100, "taxable": True}
LISTS = [r for r in ROUTES if r.query is not None and issubclass(r.query, ListQuery)]
JSON_BODIES = [r for r in ROUTES if r.body is not None]


def _label(route) -> str:
    return f"{route.method} {route.path}"


def _path(route) -> str:
    return re.sub(r"{(\w+)}", "any", route.path)


@pytest.fixture(scope="module")
def owner(app):
    from chalice.test import Client

    with Client(app) as client:
        yield new_tenant(client, name="Limits Co")


def _as_allowed(owner, route) -> Api:
    if route.roles is None:
        return Api(owner.client, "")
    return owner.as_role(route.roles[0])


@pytest.mark.parametrize("route", LISTS, ids=_label)
def test_every_list_refuses_a_page_larger_than_200(owner, route):
    caller = _as_allowed(owner, route)
    too_many = caller.get(f"{_path(route)}?limit=201")
    assert too_many.status_code == 422, too_many.body
    assert [d["field"] for d in too_many.data["error"]["details"]] == ["limit"]


@pytest.mark.parametrize("route", ROUTES, ids=_label)
def test_every_route_refuses_a_body_over_the_limit_before_reading_it(owner, route):
    body = b'{"x": "' + b"y" * get_settings().max_body_bytes + b'"}'
    response = Api(owner.client, owner.token).call(route.method, _path(route), body)
    assert response.status_code == 413, response.body
    assert response.data["error"]["code"] == "payload_too_large"


@pytest.mark.parametrize("route", JSON_BODIES, ids=_label)
def test_every_json_body_nested_too_deep_is_400_not_a_crash(owner, route):
    # Small enough for the body limit, deep enough to exhaust a recursive parser.
    response = _as_allowed(owner, route).call(route.method, _path(route), "[" * 100_000)
    assert response.status_code == 400, response.body
    assert response.data["error"]["code"] == "malformed_json"


def test_quotes_and_invoices_have_bounded_options_and_lines(owner):
    job = new_job(owner)["id"]
    options = [{"name": f"Option {n}", "line_items": [LINE]} for n in range(quotes.MAX_OPTIONS + 1)]
    lines = [LINE] * (quotes.MAX_LINE_ITEMS + 1)
    for body in ({"options": options}, {"options": [{"name": "Big", "line_items": lines}]}):
        assert owner.post(f"/jobs/{job}/quotes", body).status_code == 422
    many = {"kind": "progress", "line_items": [LINE] * (invoices.MAX_LINE_ITEMS + 1)}
    assert owner.post(f"/jobs/{job}/invoices", many).status_code == 422
    assert owner.get(f"/jobs/{job}").data["invoices"] == []


def test_a_template_cannot_pad_a_text_to_megabytes(owner):
    # "{first_name:x>9999999}" is 22 characters that would render ten million.
    bomb = {"text": "Hi {first_name:x>9999999}"}
    for response in (
        owner.call("PUT", "/settings/templates/reminder", bomb),
        owner.post("/settings/templates/reminder/preview", bomb),
        owner.post("/settings/templates/reminder/preview", {"text": "{first_name!r}"}),
    ):
        assert response.status_code == 422, response.body
        assert response.data["error"]["code"] == "invalid_template"
