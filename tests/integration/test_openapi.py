"""/openapi.json is a contract a generated client can trust: every route with its schemas,
auth, errors and headers; requests without `default`s that generators turn into required
fields; responses whose fields are all there; closed sets as enums."""

from __future__ import annotations

import json

import pytest
from openapi_spec_validator import validate

from chalicelib.api.routing import CATCH_ALL, declared_routes

ROUTES = declared_routes()  # every route's declaration (imports their modules)
# Fields that name one of a closed set; a response carrying one declares the set.
CLOSED = {"status", "stage", "priority", "method", "direction", "channel", "kind", "action"}
# ...except these, which are open on purpose (documented as text).
OPEN = {
    ("MessageOut", "kind"),  # a template's name, or a notice the office gets
    ("TransactionOut", "type"),  # Stripe's balance transaction types, which Stripe extends
    ("ConfirmedOut", "status"),  # a PaymentIntent's status, as Stripe says it (local stage)
    ("HealthOut", "status"),
    ("HealthOut", "stage"),  # the deployment's stage name
    ("OutboxItem", "channel"),  # the local stage's outbox
}


@pytest.fixture
def document(client):
    response = client.http.get("/openapi.json")
    assert response.status_code == 200
    return json.loads(response.body)


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


def _schemas_under(document, node) -> set[str]:
    """The component schemas a node refers to, directly or through other schemas."""
    schemas, seen = document["components"]["schemas"], set()
    todo = [ref.rsplit("/", 1)[1] for ref in _refs(node) if "/schemas/" in ref]
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            todo += [ref.rsplit("/", 1)[1] for ref in _refs(schemas[name])]
    return seen


def _operations(document):
    for path, ops in document["paths"].items():
        for method, op in ops.items():
            yield path, method, op


def test_the_document_is_valid_openapi_3_1(document):
    validate(document)
    assert document["openapi"] == "3.1.0"


def test_every_route_is_documented_with_its_auth_and_errors(document, app):
    documented = {(path, method.upper()) for path, method, _ in _operations(document)}
    declared = {(r.path, r.method) for r in ROUTES}
    assert declared == documented
    # Chalice serves those, plus what answers the undeclared: OPTIONS and the catch-all
    served = {(path, method) for path, entry in app.routes.items() for method in entry}
    assert {(p, m) for p, m in served if m != "OPTIONS" and p not in ("/", CATCH_ALL)} <= declared
    for path, method, op in _operations(document):
        assert op["responses"], (path, method)
        assert "429" in op["responses"], (path, method)
        if op["security"]:
            assert "401" in op["responses"] and "403" in op["responses"]


def test_every_schema_reference_resolves(document):
    names = {
        section: set(document["components"].get(section, {}))
        for section in ("schemas", "responses", "headers")
    }
    missing = {
        ref
        for ref in _refs(document)
        if ref.split("/")[-1] not in names.get(ref.split("/")[-2], set())
    }
    assert missing == set()


def test_no_request_field_declares_a_default_and_patch_fields_take_no_null_unless_clearable(
    document,
):
    # A `default` makes openapi-typescript (default options) declare the field required.
    bodies = {r.body.__name__ for r in ROUTES if r.body is not None}
    schemas = document["components"]["schemas"]
    used = bodies | _schemas_under(document, [{"$ref": f"#/x/schemas/{b}"} for b in bodies])
    with_default = [
        (name, field)
        for name in used
        for field, prop in schemas[name].get("properties", {}).items()
        if "default" in prop
    ]
    assert with_default == []
    # A request field's default is said in words instead
    lead = schemas["LeadIn"]["properties"]["priority"]
    assert "Default: `normal`" in lead["description"]
    # PATCH: only what can be cleared takes null
    nullable = {
        name: sorted(
            field
            for field, prop in schemas[name]["properties"].items()
            if {"type": "null"} in prop.get("anyOf", [])
        )
        for name in ("JobPatch", "CustomerPatch", "TechnicianPatch", "SettingsPatch")
    }
    assert nullable == {
        "JobPatch": ["description"],
        "CustomerPatch": ["address", "email", "timezone"],
        "TechnicianPatch": ["email", "home"],
        "SettingsPatch": ["email", "logo_url", "phone", "twilio_from_number"],
    }


def test_every_response_field_is_required_and_no_python_name_is_on_the_wire(document):
    responses = set()
    for _, _, op in _operations(document):
        for status, answer in op["responses"].items():
            if "content" in answer and status.startswith("2"):
                responses |= _schemas_under(document, answer["content"])
    schemas = document["components"]["schemas"]
    for name in responses:
        properties = schemas[name].get("properties", {})
        assert set(schemas[name].get("required", [])) == set(properties), name
        assert not [field for field in properties if field.endswith("_")], name


def test_closed_sets_are_enums_in_responses(document):
    schemas = document["components"]["schemas"]
    plain = []
    for name, schema in schemas.items():
        for field, prop in schema.get("properties", {}).items():
            if field in CLOSED and (name, field) not in OPEN:
                kinds = [prop, *prop.get("anyOf", [])]
                if not any("enum" in kind or "$ref" in kind for kind in kinds):
                    plain.append((name, field))
    assert plain == []


def test_a_jobs_children_are_typed_with_their_id(document):
    detail = document["components"]["schemas"]["JobDetailOut"]["properties"]
    for field, schema in {
        "visits": "JobVisitOut",
        "invoices": "JobInvoiceOut",
        "notes": "JobNoteOut",
    }.items():
        assert detail[field]["items"]["$ref"].endswith(schema)
        child = document["components"]["schemas"][schema]["properties"]
        assert "id" in child
    invoice = document["components"]["schemas"]["JobInvoiceOut"]["properties"]
    assert "payment_intent_amount_cents" not in invoice and "net_paid_cents" not in invoice
    assert invoice["invoice_id"]["deprecated"] is True
    for path in ("quotes", "visits", "invoices", "notes"):
        assert "get" in document["paths"][f"/jobs/{{job_id}}/{path}"]
    invoices = {p["name"] for p in document["paths"]["/invoices"]["get"]["parameters"]}
    assert "job_id" in invoices


def test_headers_a_client_relies_on_are_declared(document):
    for route in [r for r in ROUTES if not r.raw]:
        op = document["paths"][route.path][route.method.lower()]
        names = {p["name"] for p in op["parameters"]}
        ok = op["responses"][str(route.status)]
        # Every POST a client makes (not a webhook or a form post; not the local /dev tools)
        if route.method == "POST" and not route.path.startswith("/dev/"):
            assert "Idempotency-Key" in names, route.path
            assert "Idempotent-Replayed" in ok.get("headers", {}), route.path
        if "If-Match" in names:
            assert "ETag" in ok.get("headers", {}), route.path
    # The customer's approval from a flaky phone takes a key like any other POST
    approve = document["paths"]["/public/quotes/{token}/approve"]["post"]
    assert "Idempotency-Key" in {p["name"] for p in approve["parameters"]}
    retry = document["components"]["responses"]
    assert "Retry-After" in retry["429"]["headers"] and "Retry-After" in retry["503"]["headers"]


def test_the_time_rule_and_the_conventions_are_written_in_the_document(document):
    conventions = document["info"]["description"]
    assert "UTC" in conventions and "RFC 3339" in conventions
    for word in ("Idempotency-Key", "If-Match", "next_cursor", "429", "405", "Merge Patch"):
        assert word in conventions, word


def test_customer_pages_are_documented_as_html_and_webhooks_in_their_own_formats(document):
    page = document["paths"]["/p/quotes/{token}"]["get"]["responses"]
    assert set(page["200"]["content"]) == {"text/html"}
    assert set(page["404"]["content"]) == {"text/html"}
    form = document["paths"]["/p/quotes/{token}/approve"]["post"]["responses"]
    assert "303" in form and "Location" in form["303"]["headers"]
    sms = document["paths"]["/webhooks/twilio/sms"]["post"]["responses"]
    assert set(sms["200"]["content"]) == {"text/xml"}
