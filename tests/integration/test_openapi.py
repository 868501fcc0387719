"""/openapi.json describes every route, with schemas, auth and error responses."""

import json

from chalicelib.api.routing import declared_routes

ROUTES = declared_routes()  # every route's declaration (imports their modules)


def _refs(node):
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref":
                yield value
            else:
                yield from _refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _refs(value)


def test_every_route_is_documented_with_its_auth_and_errors(client, app):
    response = client.http.get("/openapi.json")
    assert response.status_code == 200
    document = json.loads(response.body)
    documented = {
        (path, method.upper()) for path, ops in document["paths"].items() for method in ops
    }
    chalice_routes = {(path, method) for path, entry in app.routes.items() for method in entry}
    assert chalice_routes <= documented
    assert {(r.path, r.method) for r in ROUTES} == documented
    for path, ops in document["paths"].items():
        for method, op in ops.items():
            assert op["responses"], (path, method)
            if op["security"]:
                assert "401" in op["responses"] and "403" in op["responses"]


def test_every_schema_reference_resolves(client):
    document = json.loads(client.http.get("/openapi.json").body)
    schemas = document["components"]["schemas"]
    missing = {ref for ref in _refs(document) if ref.split("/")[-1] not in schemas}
    assert missing == set()
