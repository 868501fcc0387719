"""Cards on file (issue 20): methods saved on a customer, the default, the card link."""

from __future__ import annotations

from datetime import UTC, datetime

from chalicelib.domain.cards import SavedMethod
from chalicelib.services import cards
from tests.integration.helpers import CUSTOMER


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
