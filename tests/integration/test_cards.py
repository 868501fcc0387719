"""Cards on file (issue 20): methods saved on a customer, the default, the card link."""

from __future__ import annotations

from datetime import UTC, datetime

from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord

from chalicelib.domain.callers import Caller
from chalicelib.domain.cards import SavedMethod
from chalicelib.handlers import stream
from chalicelib.services import cards
from chalicelib.services import customers as customer_service
from chalicelib.store import keys
from chalicelib.store.db import Transaction
from chalicelib.store.records import partition
from tests.integration.helpers import CUSTOMER, Api
from tests.integration.stripe_helpers import TEST_CARD, deliver, event, stripe_client


def _method(pm: str, last4: str = "4242", saved_at: datetime | None = None) -> SavedMethod:
    moment = saved_at or datetime.now(UTC)
    return SavedMethod(
        id=pm,
        stripe_customer_id="cus_test",
        type="card",
        brand="visa",
        last4=last4,
        exp_month=12,
        exp_year=2034,
        authorization_text="I authorize Acme Plumbing to charge this card.",
        authorized_at=moment,
        saved_at=moment,
    )


def test_the_first_saved_method_is_the_default_and_saving_again_changes_nothing(owner):
    # Given a customer with no card on file
    customer = owner.post("/customers", CUSTOMER).data["id"]
    assert cards.default_method(owner.tenant_id, customer) is None
    # When two cards are saved, the first one twice (a webhook delivered again)
    first = cards.save_method(owner.tenant_id, customer, _method("pm_first"))
    cards.save_method(owner.tenant_id, customer, _method("pm_second", "0005"))
    again = cards.save_method(owner.tenant_id, customer, _method("pm_first", "9999"))
    # Then the first is the default, kept as first saved, and the customer has two methods
    assert first.default and again.default and again.last4 == "4242"
    assert cards.default_method(owner.tenant_id, customer).id == "pm_first"
    listed = cards.list_methods(owner.tenant_id, customer)
    assert sorted(m.id for m in listed) == ["pm_first", "pm_second"]
    assert [m.id for m in listed if m.default] == ["pm_first"]


def test_another_default_and_removing_the_default_leaves_the_newest(owner):
    customer = owner.post("/customers", CUSTOMER).data["id"]
    for pm in ("pm_a", "pm_b", "pm_c"):
        cards.save_method(owner.tenant_id, customer, _method(pm))
    cards.set_default(owner.tenant_id, customer, "pm_b")
    assert cards.default_method(owner.tenant_id, customer).id == "pm_b"
    cards.forget_method(owner.tenant_id, customer, "pm_b")
    assert cards.default_method(owner.tenant_id, customer).id == "pm_c"
    assert {m.id for m in cards.list_methods(owner.tenant_id, customer)} == {"pm_a", "pm_c"}


def test_the_card_link_opens_for_its_customer_only(owner):
    customer = owner.post("/customers", CUSTOMER).data["id"]
    url = cards.card_link(owner.tenant_id, customer)
    assert "/p/cards/" in url
    claims = cards.open_link(url.rsplit("/", 1)[1])
    assert (claims.tenant_id, claims.object_id) == (owner.tenant_id, customer)


# --- through the API and Stripe (localstripe) --------------------------------------------------


def _save_card_through_the_page(owner, customer_id: str, number: str = "4242424242424242"):
    """What the customer's browser does on /p/cards: open the SetupIntent, confirm it with a
    card on the tenant's account; then Stripe's `setup_intent.succeeded` reaches the webhook."""
    link = owner.post(f"/customers/{customer_id}/payment-methods/setup").data["url"]
    opened = Api(owner.client, "").get(f"/public/cards/{link.rsplit('/', 1)[1]}")
    assert opened.status_code == 200, opened.body
    setup = opened.data
    client = stripe_client()
    account = {"stripe_account": setup["stripe_account"]}
    card = {**TEST_CARD, "number": number}
    method = client.v1.payment_methods.create(params={"type": "card", "card": card})
    confirmed = client.v1.setup_intents.confirm(
        setup["setup_intent_id"], params={"payment_method": method.id}, options=account
    ).to_dict()
    delivered = deliver(owner, event("setup_intent.succeeded", confirmed))
    assert delivered.status_code == 200, delivered.body
    return setup, confirmed, delivered.data


def test_a_card_saved_through_the_setup_intent_is_on_file_and_default(owner):
    # Given a customer and the office's link to save a card
    customer = owner.post("/customers", CUSTOMER).data["id"]
    # When the customer saves a card on the page, and Stripe tells us
    setup, confirmed, outcome = _save_card_through_the_page(owner, customer)
    # Then the SetupIntent was for later charges, on the tenant's account, for their Customer
    assert setup["stripe_account"].startswith("acct_")
    assert confirmed["status"] == "succeeded" and confirmed["usage"] == "off_session"
    assert "I authorize Acme Plumbing" in setup["authorization_text"]["card"]
    # And the card is on file, the default, with what the office needs to recognise it
    assert outcome["outcome"] == "applied"
    listed = owner.get(f"/customers/{customer}/payment-methods")
    assert listed.status_code == 200, listed.body
    assert listed.data["items"] == [
        {
            "id": confirmed["payment_method"],
            "type": "card",
            "brand": "visa",
            "last4": "4242",
            "exp_month": 12,
            "exp_year": 2034,
            "default": True,
        }
    ]
    # And Stripe attached it to the customer's Stripe Customer (chargeable off-session)
    method = stripe_client().v1.payment_methods.retrieve(
        confirmed["payment_method"], options={"stripe_account": setup["stripe_account"]}
    )
    assert method.customer == confirmed["customer"]
    # And the authorization the customer agreed to is kept with it, and the plans can charge it
    kept = cards.default_method(owner.tenant_id, customer)
    assert kept.authorization_text == setup["authorization_text"]["card"]
    assert kept.stripe_customer_id == confirmed["customer"]


def test_the_same_event_again_and_a_second_page_keep_one_stripe_customer(owner):
    customer = owner.post("/customers", CUSTOMER).data["id"]
    _, first, _ = _save_card_through_the_page(owner, customer)
    again = deliver(owner, event("setup_intent.succeeded", first))
    assert again.data["outcome"] == "duplicate"
    _, second, _ = _save_card_through_the_page(owner, customer, "5555555555554444")
    assert second["customer"] == first["customer"]
    items = owner.get(f"/customers/{customer}/payment-methods").data["items"]
    assert [(m["last4"], m["default"]) for m in items] == [("4444", False), ("4242", True)]


def test_the_office_makes_another_card_default_and_removes_one(owner):
    customer = owner.post("/customers", CUSTOMER).data["id"]
    setup, first, _ = _save_card_through_the_page(owner, customer)
    _, second, _ = _save_card_through_the_page(owner, customer, "5555555555554444")
    base = f"/customers/{customer}/payment-methods"

    made = owner.post(f"{base}/{second['payment_method']}/default")
    assert made.status_code == 200 and made.data["default"], made.body
    removed = owner.call("DELETE", f"{base}/{second['payment_method']}")
    assert removed.status_code == 204, removed.body

    # The one left is the default again, and Stripe can no longer charge the removed card
    items = owner.get(base).data["items"]
    assert [(m["id"], m["default"]) for m in items] == [(first["payment_method"], True)]
    detached = stripe_client().v1.payment_methods.retrieve(
        second["payment_method"], options={"stripe_account": setup["stripe_account"]}
    )
    assert detached.customer is None
    assert owner.call("DELETE", f"{base}/{second['payment_method']}").status_code == 404


def test_another_tenants_customer_and_cards_are_not_found(owner, other_owner):
    customer = owner.post("/customers", CUSTOMER).data["id"]
    _, confirmed, _ = _save_card_through_the_page(owner, customer)
    base = f"/customers/{customer}/payment-methods"
    assert other_owner.get(base).status_code == 404
    assert other_owner.post(f"{base}/setup").status_code == 404
    assert other_owner.post(f"{base}/{confirmed['payment_method']}/default").status_code == 404
    assert other_owner.call("DELETE", f"{base}/{confirmed['payment_method']}").status_code == 404
    # And a technician does not manage cards
    assert owner.as_role("technician").get(base).status_code == 403
    # And the card is still there
    assert len(owner.get(base).data["items"]) == 1


def test_an_altered_card_link_is_not_found(owner):
    customer = owner.post("/customers", CUSTOMER).data["id"]
    link = owner.post(f"/customers/{customer}/payment-methods/setup").data["url"]
    token = link.rsplit("/", 1)[1]
    assert Api(owner.client, "").get(f"/public/cards/{token[:-2]}xx").status_code == 404
    # An invoice's token is not a card link either
    assert Api(owner.client, "").get("/public/cards/not-a-token").status_code == 404


def test_the_link_is_texted_when_asked_unless_the_customer_opted_out(owner):
    customer = owner.post("/customers", CUSTOMER).data["id"]
    sent = owner.post(f"/customers/{customer}/payment-methods/setup", {"send": "sms"})
    assert sent.status_code == 200, sent.body
    assert sent.data["message_status"] in ("sent", "queued", "delivered"), sent.data
    texts = owner.get("/messages?status=" + sent.data["message_status"]).data["items"]
    assert any(sent.data["url"] in t["body"] for t in texts)


def test_the_card_page_shows_the_authorization_and_the_cards_on_file(owner):
    customer = owner.post("/customers", CUSTOMER).data["id"]
    link = owner.post(f"/customers/{customer}/payment-methods/setup").data["url"]
    path = "/p/cards/" + link.rsplit("/", 1)[1]
    opened = owner.client.http.get(path)
    assert opened.status_code == 200
    html = opened.body.decode()
    assert "I authorize Acme Plumbing to save this card" in html
    assert 'id="saved"' not in html
    policy = opened.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "'unsafe-inline'" not in policy
    # After a card is saved, the page lists it
    _save_card_through_the_page(owner, customer)
    shown = owner.client.http.get(path).body.decode()
    assert "ending in 4242" in shown and "Default" in shown
    # A card link that is not genuine is the plain not-found page
    assert owner.client.http.get(path[:-3] + "abc").status_code == 404


def test_a_saved_card_is_a_payment_method_saved_event_the_stream_sends_to_the_bus(owner):
    customer = owner.post("/customers", CUSTOMER).data["id"]
    cards.save_method(owner.tenant_id, customer, _method("pm_evented"))
    pk = keys.customer_event(owner.tenant_id, customer, "", "").pk
    [item] = partition(pk, keys.TIMELINE_PREFIX)
    record = {
        "eventName": "INSERT",
        "eventSource": "aws:dynamodb",
        "dynamodb": {"NewImage": item.serialize(), "SequenceNumber": "1"},
    }
    bus_event = stream.timeline_event(DynamoDBRecord(record))
    assert bus_event.detail_type == "PaymentMethodSaved"
    assert bus_event.detail["tenant_id"] == owner.tenant_id
    assert bus_event.detail["data"] == {
        "customer_id": customer,
        "method_id": "pm_evented",
        "type": "card",
    }
    # Saving it again (a replayed webhook) is no second event
    cards.save_method(owner.tenant_id, customer, _method("pm_evented"))
    assert len(partition(pk, keys.TIMELINE_PREFIX)) == 1


def test_the_link_is_not_texted_to_a_customer_who_opted_out(owner):
    customer = owner.post("/customers", CUSTOMER).data["id"]
    office = Caller(tenant_id=owner.tenant_id, user_id="office-user", role="office")
    stopped = customer_service.get(office, customer)
    stopped.sms_opted_out = True
    tx = Transaction()
    customer_service.add_to(tx, office, stopped)
    tx.commit()
    sent = owner.post(f"/customers/{customer}/payment-methods/setup", {"send": "sms"})
    assert sent.status_code == 200, sent.body
    assert sent.data["message_status"] == "suppressed"
