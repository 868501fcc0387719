"""Authorization generated from the route table, so a new route is covered by default.

- Object level (OWASP API1): every route that takes an id answers 404 to another tenant.
- Function level (OWASP API5): every route × role (owner, office, technician, no token).
- Property level (OWASP API3): no body of any route can set a field the server owns.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.api.routing import declared_routes
from tests.integration.helpers import CUSTOMER, Api

ROUTES = declared_routes()  # every route's declaration (imports their modules)

# Path parameters that name something other than a tenant's object.
NOT_OBJECT_IDS = {
    "name": "a template name: every tenant has the same names",
    "token": "a signed customer link: its own tests prove tampering is 404",
}

SOON = datetime.now(UTC) + timedelta(days=3)
LINE = {"description": "Labour", "quantity": 1, "unit_price_cents": 10000, "taxable": True}

# One valid body per request model, so the request reaches the object lookup.
SAMPLE_BODIES = {
    "CustomerIn": CUSTOMER,
    "CustomerPatch": {"name": "New Name"},
    "TechnicianIn": {"name": "Sam", "phone": "312-555-0111"},
    "TechnicianPatch": {"name": "Sam R."},
    "LeadIn": {"customer": CUSTOMER, "title": "Leak"},
    "JobPatch": {"title": "Leak under sink"},
    "ReasonIn": {"reason": "changed mind"},
    "NoteIn": {"text": "Dog in yard"},
    "SettingsPatch": {"tax_rate_bps": 500},
    "OnboardingIn": {"return_url": "https://app.example.com/settings"},
    "TemplateIn": {"text": "Hi {first_name}"},
    "PreviewIn": {"text": "Hi {first_name}"},
    "QuoteIn": {"options": [{"name": "Good", "line_items": [LINE]}]},
    "VisitIn": {
        "window_start": SOON.isoformat(),
        "window_end": (SOON + timedelta(hours=2)).isoformat(),
        "duration_minutes": 60,
    },
    "AssignIn": {"technician_ids": ["{technician_id}"]},
    "RescheduleIn": {
        "window_start": SOON.isoformat(),
        "window_end": (SOON + timedelta(hours=2)).isoformat(),
    },
    "CancelIn": {"reason": "rain"},
    "StatusIn": {"status": "en_route"},
    "InvoiceIn": {"kind": "progress", "line_items": [LINE]},
    "VoidIn": {"reason": "mistake"},
    "PaymentIn": {"method": "cash", "amount_cents": 100},
    "RefundIn": {"amount_cents": 100, "reason": "goodwill"},
    "PauseIn": {"until": (SOON + timedelta(days=7)).date().isoformat()},
    "OptimizeIn": {"date": SOON.date().isoformat(), "time_limit_seconds": 1},
    "ReplanIn": {"date": SOON.date().isoformat(), "time_limit_seconds": 1},
    "ChecklistIn": {"items": [{"id": "gas-off", "label": "Shut off gas", "required": True}]},
    "ChecklistTickIn": {"done": True},
    "PhotoIn": {"filename": "meter.jpg", "content_type": "image/jpeg"},
    "QuoteApprovalIn": {"option_id": "opt", "signed_by": "Dana"},
    "QuoteDeclineIn": {"reason": "too dear"},
    "InvitationIn": {"name": "Olive", "email": "olive@example.com", "role": "office"},
    "RoleIn": {"role": "office"},
    "TimeEntryIn": {
        "technician_id": "{technician_id}",
        "kind": "shift",
        "start": SOON.isoformat(),
        "end": (SOON + timedelta(hours=2)).isoformat(),
        "reason": "forgot to clock in",
    },
    "TimeEntryPatch": {"end": (SOON + timedelta(hours=1)).isoformat(), "reason": "left early"},
    "ItemIn": {"kind": "material", "name": "PEX pipe", "unit_price_cents": 125},
    "ItemPatch": {"name": "PEX pipe (ft)"},
    "SubscriptionIn": {"url": "http://127.0.0.1:9/hooks", "events": ["*"]},
    "PlanIn": {
        "name": "Tune-up club",
        "visit_rule": "RRULE:FREQ=MONTHLY;INTERVAL=6",
        "visit_duration_minutes": 60,
        "price_cents": 1900,
        "billing_interval": "month",
        "autopay": False,
    },
    "EnrolIn": {
        "plan_id": "{plan_id}",
        "start_date": (SOON + timedelta(days=1)).date().isoformat(),
    },
    "EnrolmentCancelIn": {"reason": "moving away"},
    "SetupIn": {},
    "BookingSettingsIn": {
        "enabled": True,
        "slug": "acme-plumbing",
        "service_area": {"postal_codes": ["60607"]},
    },
    "BookingIn": {"service_id": "svc", "start": SOON.isoformat(), "customer": CUSTOMER},
}
# Routes whose body is text rather than JSON: a sample, sent with the route's content type.
SAMPLE_TEXTS = {"/pricebook/import": "kind,name,unit_price_cents\r\nfee,Trip charge,4900\r\n"}


def _protected_routes_with_ids():
    return [
        route
        for route in ROUTES
        if route.roles is not None
        and set(re.findall(r"{(\w+)}", route.path)) - NOT_OBJECT_IDS.keys()
    ]


def _fill(path: str, ids: dict[str, str]) -> str:
    return re.sub(r"{(\w+)}", lambda m: ids.get(m.group(1), "reminder"), path)


def _body(route, ids: dict[str, str] | None = None):
    if route.path in SAMPLE_TEXTS:
        return SAMPLE_TEXTS[route.path]
    if route.body is None:
        return None
    assert route.body.__name__ in SAMPLE_BODIES, f"add a sample body for {route.body.__name__}"
    return _with_ids(SAMPLE_BODIES[route.body.__name__], ids or {})


def _with_ids(value, ids: dict[str, str]):
    """Sample bodies may name a seeded object as '{technician_id}'."""
    if isinstance(value, dict):
        return {k: _with_ids(v, ids) for k, v in value.items()}
    if isinstance(value, list):
        return [_with_ids(v, ids) for v in value]
    if isinstance(value, str) and value.startswith("{") and value.endswith("}"):
        return ids.get(value[1:-1], "unknown")
    return value


@pytest.fixture
def owners_objects(owner):
    """One of each object, owned by `owner`; the test then tries them as another tenant."""
    customer = owner.post("/customers", CUSTOMER).data
    tech = owner.post("/technicians", SAMPLE_BODIES["TechnicianIn"]).data
    job = owner.post("/leads", {"customer_id": customer["id"], "title": "Leak"}).data
    ids = {"customer_id": customer["id"], "technician_id": tech["id"], "job_id": job["id"]}
    ids["user_id"] = tech["id"]  # a technician is one of the team's users
    quote = owner.post(f"/jobs/{job['id']}/quotes", SAMPLE_BODIES["QuoteIn"])
    if quote.status_code == 201:
        ids["quote_id"] = quote.data["id"]
    visit = owner.post(f"/jobs/{job['id']}/visits", SAMPLE_BODIES["VisitIn"])
    if visit.status_code == 201:
        ids["visit_id"] = visit.data["id"]
    invoice = owner.post(f"/jobs/{job['id']}/invoices", SAMPLE_BODIES["InvoiceIn"])
    if invoice.status_code == 201:
        ids["invoice_id"] = invoice.data["id"]
    if "visit_id" in ids:
        checklist = f"/jobs/{job['id']}/visits/{ids['visit_id']}/checklist"
        if owner.call("PUT", checklist, SAMPLE_BODIES["ChecklistIn"]).status_code == 200:
            ids["item_id"] = "gas-off"
    photo = owner.post(f"/jobs/{job['id']}/photos", SAMPLE_BODIES["PhotoIn"])
    if photo.status_code == 201:
        ids["photo_id"] = photo.data["photo_id"]
    proposal = owner.post("/dispatch/optimize", SAMPLE_BODIES["OptimizeIn"])
    if proposal.status_code == 202:
        ids["proposal_id"] = proposal.data["id"]
    ids["plan_id"] = owner.post("/service-plans", SAMPLE_BODIES["PlanIn"]).data["id"]
    enrolment = owner.post(
        f"/customers/{customer['id']}/plans", _with_ids(SAMPLE_BODIES["EnrolIn"], ids)
    )
    if enrolment.status_code == 201:
        ids["enrolment_id"] = enrolment.data["id"]
    subscription = owner.post("/webhooks/subscriptions", SAMPLE_BODIES["SubscriptionIn"])
    if subscription.status_code == 201:
        ids["subscription_id"] = subscription.data["id"]
        ids["delivery_id"] = _delivery_of(owner.tenant_id, ids["subscription_id"], job["id"])
    ids["method_id"] = _saved_card_of(owner.tenant_id, customer["id"])
    entry = owner.post("/time/entries", _with_ids(SAMPLE_BODIES["TimeEntryIn"], ids))
    if entry.status_code == 201:
        ids["entry_id"] = entry.data["id"]
    return ids


def _saved_card_of(tenant_id: str, customer_id: str) -> str:
    """A card on file for the owner's customer (as the setup_intent.succeeded webhook saves it)."""
    from chalicelib.domain import clock
    from chalicelib.domain.cards import SavedMethod
    from chalicelib.services import cards

    now = clock.now()
    card = SavedMethod(
        id="pm_seeded",
        stripe_customer_id="cus_seeded",
        type="card",
        brand="visa",
        last4="4242",
        exp_month=12,
        exp_year=2034,
        authorization_text="I authorize Acme Plumbing to charge this card.",
        authorized_at=now,
        saved_at=now,
    )
    return cards.save_method(tenant_id, customer_id, card).id


def _delivery_of(tenant_id: str, subscription_id: str, job_id: str) -> str:
    """A delivery of the owner's (made as the delivery function would, without sending it)."""
    from chalicelib.domain import clock
    from chalicelib.domain.outbound import Delivery
    from chalicelib.store import subscriptions

    delivery = Delivery(
        delivery_id=f"seeded-{job_id}",
        subscription_id=subscription_id,
        event_id=f"event-{job_id}",
        job_id=job_id,
        type="lead.created",
        sequence=1,
        created_at=clock.now(),
    )
    return subscriptions.create_delivery(tenant_id, delivery).delivery_id


def test_every_route_with_an_id_is_404_for_another_tenant(owners_objects, other_owner):
    leaks = []
    for route in _protected_routes_with_ids():
        params = set(re.findall(r"{(\w+)}", route.path)) - NOT_OBJECT_IDS.keys()
        missing = params - owners_objects.keys()
        assert not missing, f"seed an object for {sorted(missing)} ({route.path})"
        path, body = _fill(route.path, owners_objects), _body(route, owners_objects)
        response = other_owner.call(route.method, path, body)
        if response.status_code != 404:
            leaks.append((route.method, route.path, response.status_code))
    assert leaks == []


def test_lists_never_show_another_tenants_rows(owners_objects, owner, other_owner):
    # A sent quote puts a text in the owner's messages list.
    job_id, quote_id = owners_objects["job_id"], owners_objects["quote_id"]
    assert owner.post(f"/jobs/{job_id}/quotes/{quote_id}/send").status_code == 200
    lists = [
        "/jobs",
        "/customers",
        "/technicians",
        "/invoices?status=draft",
        "/messages?status=sent",
    ]
    for path in lists:
        mine = owner.get(path)
        if mine.status_code == 404:
            continue
        assert mine.data["items"], path
        assert other_owner.get(path).data["items"] == [], path


ROLES = ("owner", "office", "technician")


@pytest.mark.parametrize(
    "route", [r for r in ROUTES if r.roles is not None], ids=lambda r: f"{r.method} {r.path}"
)
def test_each_role_reaches_only_the_routes_it_is_allowed(client, owner, route):
    path, sent_as = _fill(route.path, {}), {"Content-Type": route.content_types[0]}
    anonymous = Api(client, "").call(route.method, path, _body(route), headers=sent_as)
    assert anonymous.status_code == 401
    for role in ROLES:
        response = owner.as_role(role).call(route.method, path, _body(route), headers=sent_as)
        if role in route.roles:
            assert response.status_code not in (401, 403), (role, response.body)
        else:
            assert response.status_code == 403, (role, response.status_code)


# What the server alone decides (the tenant from the token, stages and statuses by the domain's
# rules, money from the payments, versions and invoice numbers by the table): a body naming one
# is refused whole. `Strict` request models forbid unknown fields, so this holds for a new
# route by default.
SERVER_OWNED = ("tenant_id", "stage", "balance_cents", "version", "number", "status")
# A request model whose own input happens to share a name, and why that is not a loophole.
OWN_INPUT = {
    ("StatusIn", "status"): "the visit status a technician reports; the domain's transitions "
    "decide whether it is allowed (tests/integration/test_visits.py)",
}
BODY_ROUTES = [r for r in ROUTES if r.body is not None and not r.path.startswith("/dev/")]


@pytest.mark.parametrize("route", BODY_ROUTES, ids=lambda r: f"{r.method} {r.path}")
def test_no_body_can_set_a_field_the_server_owns(client, owner, route):
    caller = Api(client, "") if route.roles is None else owner.as_role(route.roles[0])
    sample = _body(route)
    for name in SERVER_OWNED:
        if name in route.body.model_fields:
            assert (route.body.__name__, name) in OWN_INPUT, f"{route.body.__name__}.{name}"
            continue
        response = caller.call(route.method, _fill(route.path, {}), {**sample, name: "x"})
        assert response.status_code == 422, (name, response.status_code, response.body)
        fields = [d["field"] for d in response.data["error"]["details"]]
        assert name in fields, (name, fields)
