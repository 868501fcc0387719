"""A Stripe account and a texting number belong to one business: claimed in the same
transaction as the settings that name them, released when given up."""

from __future__ import annotations

import itertools
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.integration.helpers import CUSTOMER, new_tenant
from tests.integration.twilio_helpers import inbound

_numbers = itertools.count(2000)


def _number() -> str:
    """A texting number no other test uses (the claims outlive a test in the session's table)."""
    return f"+1872555{next(_numbers):04d}"


def _account() -> str:
    return "acct_" + uuid.uuid4().hex[:16]


def _taken(response, code: str) -> bool:
    return response.status_code == 409 and response.data["error"]["code"] == code


def test_two_businesses_cannot_both_take_payments_into_one_stripe_account(owner, other_owner):
    from chalicelib.services import tenants

    # Each business's account is made for it by onboarding, and claimed for it alone
    ours = owner.get("/settings").data["stripe_account_id"]
    assert tenants.owner_of_account(ours) == owner.tenant_id
    # Nobody can name another business's account (nor any account) in their settings
    taken = other_owner.patch("/settings", {"stripe_account_id": ours})
    assert taken.status_code == 422, taken.body
    assert other_owner.get("/settings").data["stripe_account_id"] != ours


def test_two_businesses_cannot_both_text_from_one_number(owner, other_owner):
    number = _number()
    assert owner.patch("/settings", {"twilio_from_number": number}).status_code == 200
    # The same number written another way is the same number
    taken = other_owner.patch("/settings", {"twilio_from_number": number.replace("+1", "")})
    assert _taken(taken, "number_taken")


def test_a_business_saving_its_settings_again_keeps_what_it_owns(owner):
    number = _number()
    first = owner.patch("/settings", {"twilio_from_number": number})
    assert first.status_code == 200, first.body
    again = owner.patch("/settings", {"twilio_from_number": number})
    assert again.status_code == 200, again.body
    assert owner.patch("/settings", {"tax_rate_bps": 700}).status_code == 200


def test_a_number_given_up_can_be_taken_by_another_business(owner, other_owner):
    number = _number()
    owner.patch("/settings", {"twilio_from_number": number})
    # When the first business moves to another number
    moved = owner.patch("/settings", {"twilio_from_number": _number()})
    assert moved.status_code == 200, moved.body
    # Then it is free for another business
    taken = other_owner.patch("/settings", {"twilio_from_number": number})
    assert taken.status_code == 200, taken.body


def test_texts_to_a_number_reach_the_business_that_owns_it_now(client, owner, other_owner):
    number = _number()
    owner.patch("/settings", {"twilio_from_number": number})
    owner.patch("/settings", {"twilio_from_number": _number()})
    other_owner.patch("/settings", {"twilio_from_number": number})
    customer = other_owner.post("/customers", CUSTOMER).data
    job = other_owner.post("/leads", {"customer_id": customer["id"], "title": "Boiler"}).data
    # When the customer texts the number right after it changed hands
    inbound(client, number, "+13125550142", "Is Tuesday ok?", "SM" + uuid.uuid4().hex)
    # Then the text is on the new owner's job
    events = other_owner.get(f"/jobs/{job['id']}/timeline").data["items"]
    assert "MessageReceived" in [e["type"] for e in events]


def test_the_shared_sender_belongs_to_no_business(owner):
    from chalicelib.config import get_settings

    shared = get_settings().twilio_default_from
    assert _taken(owner.patch("/settings", {"twilio_from_number": shared}), "number_taken")


@pytest.mark.parametrize(
    ("field", "value", "code"),
    [
        ("twilio_from_number", _number, "number_taken"),
        ("stripe_account_id", _account, "stripe_account_taken"),
    ],
    ids=["number", "stripe account"],
)
def test_two_businesses_racing_for_one_resource_one_wins(client, field, value, code):
    from chalicelib.domain.callers import Caller
    from chalicelib.domain.errors import FieldlineError
    from chalicelib.services import tenants

    # Given eight businesses and one number (or account) none of them has
    racers = [new_tenant(client, name=f"Racer {n}") for n in range(8)]
    wanted = value()
    start_together = threading.Barrier(len(racers))

    def claim(racer) -> str:
        owner = Caller(tenant_id=racer.tenant_id, user_id=racer.owner_id, role="owner")
        start_together.wait()
        try:
            tenants.update_settings(owner, {field: wanted}, None)
            return "saved"
        except FieldlineError as refused:
            return refused.code

    # When all of them save it at the same moment
    with ThreadPoolExecutor(max_workers=len(racers)) as pool:
        outcomes = list(pool.map(claim, racers))

    # Then exactly one has it, and every other one was told it is taken
    assert sorted(outcomes) == sorted(["saved"] + [code] * (len(racers) - 1)), outcomes
    holders = [r for r in racers if r.get("/settings").data[field] == wanted]
    assert [h.tenant_id for h in holders] == [racers[outcomes.index("saved")].tenant_id]


# --- tenants saved before claims existed --------------------------------------------------------


def _saved_before_claims(client, number: str, account: str):
    """A business whose settings were written by the previous version: its number in the
    index its item carried, and no claims."""
    from chalicelib.domain.tenants import Tenant
    from chalicelib.store import keys
    from chalicelib.store.db import Transaction
    from chalicelib.store.records import get, record

    owner = new_tenant(client, name="Old Timer Heating")
    tenant = get(keys.tenant(owner.tenant_id), Tenant)
    tenant.twilio_from_number, tenant.stripe_account_id = number, account
    item = record(
        keys.tenant(tenant.tenant_id),
        "tenant",
        tenant.tenant_id,
        tenant,
        gsi1=(keys.tenant_by_sms_number(number), "TENANT"),
    )
    tx = Transaction()
    tx.put(item, entity=tenant)
    tx.commit()
    return owner, tenant


def test_a_business_saved_before_claims_keeps_its_texts_and_its_number(client, other_owner):
    number = _number()
    old, _ = _saved_before_claims(client, number, _account())
    customer = old.post("/customers", CUSTOMER).data
    job = old.post("/leads", {"customer_id": customer["id"], "title": "Radiator"}).data
    # Its customers' texts still reach it
    inbound(client, number, "+13125550142", "See you then", "SM" + uuid.uuid4().hex)
    events = old.get(f"/jobs/{job['id']}/timeline").data["items"]
    assert "MessageReceived" in [e["type"] for e in events]
    # And nobody else can take its number
    assert _taken(other_owner.patch("/settings", {"twilio_from_number": number}), "number_taken")


def test_the_backfill_claims_what_older_businesses_hold_and_reports_clashes(client, other_owner):
    from chalicelib.services import tenants

    number, account = _number(), _account()
    _, old = _saved_before_claims(client, number, account)
    _, clashing = _saved_before_claims(client, _number(), account)  # the old race let this happen
    # When an admin runs the backfill
    conflicts = tenants.backfill_ownership([old, clashing])
    # Then the first holder owns both, and the clash is reported for a person to settle
    assert conflicts == [f"STRIPE {account}: tenant {clashing.tenant_id}, also {old.tenant_id}"]
    assert tenants.owner_of_account(account) == old.tenant_id
    # And running it again changes nothing
    assert tenants.backfill_ownership([old]) == []


def test_the_backfill_command_claims_for_every_older_business(client, monkeypatch):
    from bench import ddbcalls
    from chalicelib.store import tenants as store
    from infra.backfill_ownership import main
    from tests.conftest import TABLE

    number = _number()
    _, old = _saved_before_claims(client, number, _account())
    # When an admin runs the command (with their credentials, where a Scan is allowed)
    monkeypatch.setattr(ddbcalls, "_forbidden", frozenset())
    main(["--stage", "local", "--table", TABLE])
    monkeypatch.undo()
    # Then the older business's number is claimed like any other
    assert store.owner_of(store.SMS_NUMBER, number) == old.tenant_id
