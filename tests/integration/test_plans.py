"""Service plans (issue 20): enrolment, billing on the billing date, autopay off-session on
localstripe, the failure path (decline → past due → new card → active; pause after the last
retry), and a billing run repeated for one period changing nothing."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, time, timedelta
from urllib.parse import quote
from zoneinfo import ZoneInfo

import pytest

from tests.integration.helpers import CUSTOMER, Api
from tests.integration.stripe_helpers import deliver, event, intent, sample
from tests.integration.test_cards import _save_card_through_the_page

CHICAGO = ZoneInfo("America/Chicago")  # the test tenant's zone
DECLINES_AT_CHARGE = "4000000000000341"  # attaches, then every charge is declined (Stripe's list)
MONTHLY = {
    "name": "HVAC tune-up club",
    "visit_rule": "RRULE:FREQ=MONTHLY",
    "visit_duration_minutes": 60,
    "price_cents": 1900,
    "billing_interval": "month",
    "autopay": True,
}


def _customer(owner: Api) -> dict:
    """A customer with a phone of their own (the outbox is the whole session's)."""
    phone = f"(312) 555-{random.randint(1000, 9999)}"  # noqa: S311
    created = owner.post("/customers", {**CUSTOMER, "phone": phone})
    assert created.status_code == 201, created.body
    return created.data


def _texts(owner: Api, customer: dict) -> list[str]:
    found = owner.get(f"/dev/outbox?to={quote(customer['phone'])}").data["items"]
    return [m["body"] for m in found if m.get("channel", "sms") == "sms"]


def _enrolled(owner: Api, card: str = "4242424242424242", **plan) -> tuple[dict, dict, date]:
    created = owner.post("/service-plans", {**MONTHLY, **plan})
    assert created.status_code == 201, created.body
    customer = _customer(owner)
    _save_card_through_the_page(owner, customer["id"], card)
    start = datetime.now(CHICAGO).date()
    enrolled = owner.post(
        f"/customers/{customer['id']}/plans",
        {"plan_id": created.data["id"], "start_date": start.isoformat()},
    )
    assert enrolled.status_code == 201, enrolled.body
    return customer, enrolled.data, start


def _manual_enrolment(owner: Api, days_ahead: int) -> tuple[dict, dict, date]:
    """An enrolment in a plan without autopay (no card needed), starting some days ahead."""
    plan = owner.post("/service-plans", {**MONTHLY, "autopay": False}).data
    customer = _customer(owner)
    start = datetime.now(CHICAGO).date() + timedelta(days=days_ahead)
    made = owner.post(
        f"/customers/{customer['id']}/plans",
        {"plan_id": plan["id"], "start_date": start.isoformat()},
    )
    assert made.status_code == 201, made.body
    return customer, made.data, start


def _run(owner: Api, on: date) -> dict[str, int]:
    """The daily billing run as the schedule fires it that day (09:00 in the tenant's zone).
    It acts on every tenant's enrolments due then (other tests' too): tests read their own."""
    as_of = datetime.combine(on, time(9), CHICAGO).astimezone(UTC).isoformat()
    ran = owner.post("/dev/plans/run", {"as_of": as_of})
    assert ran.status_code == 200, ran.body
    return ran.data["outcomes"]


def _enrolment(owner: Api, enrolment: dict) -> dict:
    found = owner.get(f"/customers/{enrolment['customer_id']}/plans/{enrolment['id']}")
    assert found.status_code == 200, found.body
    return found.data


def _timeline(owner: Api, job_id: str) -> list[dict]:
    return owner.get(f"/jobs/{job_id}/timeline?limit=200").data["items"]


def _intents(owner: Api, job_id: str) -> list[str]:
    return [
        e["data"]["stripe_payment_intent_id"]
        for e in _timeline(owner, job_id)
        if e["type"] == "PaymentStarted"
    ]


def _stripe_pays(owner: Api, intent_id: str) -> None:
    """Stripe tells us the off-session charge succeeded (its webhook)."""
    paid = intent(intent_id)
    assert paid["status"] == "succeeded", paid
    delivered = deliver(owner, event("payment_intent.succeeded", paid))
    assert delivered.status_code == 200, delivered.body


def _plan_invoices(owner: Api, job_id: str) -> list[dict]:
    return owner.get(f"/invoices?job_id={job_id}").data["items"]


def _month_later(day: date, months: int) -> date:
    from dateutil.relativedelta import relativedelta

    return day + relativedelta(months=months)


def test_a_monthly_plan_is_billed_and_paid_by_autopay_for_two_months(owner):
    # Given a customer with a card on file enrolled in a $19/month plan with autopay
    customer, enrolment, start = _enrolled(owner, checklist=["Replace filter", "Check coil"])
    assert enrolment["status"] == "active" and enrolment["next_bill_on"] == start.isoformat()
    job = owner.get(f"/jobs/{enrolment['job_id']}").data
    assert job["source"] == "plan" and job["stage"] == "approved"
    visits = owner.get(f"/jobs/{job['id']}/visits").data["items"]
    assert visits and all(not v["technician_ids"] for v in visits)  # waiting for dispatch
    assert [i["label"] for i in visits[0]["checklist"]] == ["Replace filter", "Check coil"]

    for month in (0, 1):
        # When the billing date comes (the schedule's run) and Stripe reports the charge paid
        on = _month_later(start, month)
        assert _run(owner, on).get("charged", 0) >= 1
        _stripe_pays(owner, _intents(owner, job["id"])[-1])

    # Then two plan invoices were sent and paid with no customer action, a receipt texted each
    invoices = _plan_invoices(owner, job["id"])
    assert [(i["kind"], i["status"], i["total_cents"]) for i in invoices] == [
        ("plan", "paid", 1900),
        ("plan", "paid", 1900),
    ]
    now = _enrolment(owner, enrolment)
    assert now["status"] == "active" and now["open_invoice_id"] is None
    assert now["next_bill_on"] == _month_later(start, 2).isoformat()
    listed = owner.get(f"/customers/{customer['id']}/plans").data
    assert [e["id"] for e in listed["items"]] == [enrolment["id"]] and listed["next_cursor"] is None
    receipts = [t for t in _texts(owner, customer) if "received $19.00" in t]
    assert len(receipts) == 2
    # And the plan's invoices are standalone: the job has no final, nothing credits them
    assert all(line["kind"] == "work" for i in invoices for line in i["line_items"])


def test_a_second_billing_run_for_the_same_period_changes_nothing(owner):
    # Given an enrolment billed and charged today
    _, enrolment, start = _enrolled(owner)
    assert _run(owner, start).get("charged", 0) >= 1
    after_first = _enrolment(owner, enrolment)

    # When the run fires again the same day (a retried schedule) and once more later that day
    again = _run(owner, start)
    acted = __import__("chalicelib.services.plan_billing", fromlist=["act"]).act(
        owner.tenant_id,
        enrolment["customer_id"],
        enrolment["id"],
        datetime.combine(start, time(18), CHICAGO),
    )

    # Then nothing more was billed or charged: one invoice, one intent, the enrolment unchanged
    assert acted == [] and again.get("already_charged") is None
    assert len(_plan_invoices(owner, enrolment["job_id"])) == 1
    assert len(_intents(owner, enrolment["job_id"])) == 1
    assert _enrolment(owner, enrolment)["version"] == after_first["version"]


def test_the_same_idempotency_key_charges_once_at_stripe(owner):
    # Given a saved card (Stripe's idempotency key per enrolment, period, attempt and method)
    from chalicelib.integrations import payments_stripe
    from chalicelib.services import cards

    customer = _customer(owner)
    _save_card_through_the_page(owner, customer["id"])
    method = cards.default_method(owner.tenant_id, customer["id"])
    account = owner.get("/settings").data["stripe_account_id"]

    def charge(key: str):
        return payments_stripe.charge_saved_method(
            1900,
            "USD",
            {"tenant_id": owner.tenant_id},
            account,
            key,
            customer=method.stripe_customer_id,
            payment_method=method.id,
        )

    # When the same charge is asked twice with one key, and once with another
    first, repeated, other = charge("plan-e-1"), charge("plan-e-1"), charge("plan-e-2")

    # Then the repeat is Stripe's first answer; another key is another charge
    assert first.status == "succeeded" and repeated.intent_id == first.intent_id
    assert other.intent_id != first.intent_id


def _card_saved(owner: Api, customer: dict) -> list[str]:
    """The saved card's PaymentMethodSaved event as the bus delivers it to the consumer."""
    from chalicelib.handlers import consumer
    from chalicelib.services import cards

    newest = cards.list_methods(owner.tenant_id, customer["id"])[0]
    detail = {
        "tenant_id": owner.tenant_id,
        "event_id": f"evt-{newest.id}",
        "job_id": "",
        "type": "PaymentMethodSaved",
        "data": {"customer_id": customer["id"], "method_id": newest.id, "type": "card"},
    }
    return consumer.handle({"detail-type": "PaymentMethodSaved", "detail": detail})


def test_a_declined_card_goes_past_due_and_recovers_at_once_with_a_new_card(owner):
    # Given an enrolment whose saved card the bank declines at charge time
    customer, enrolment, start = _enrolled(owner, card=DECLINES_AT_CHARGE)

    # When the billing date comes
    _run(owner, start)

    # Then the enrolment is past due with a retry tomorrow, the customer was texted the card
    # link, and the office sees why on the job's timeline
    now = _enrolment(owner, enrolment)
    assert (now["status"], now["failed_attempts"], now["last_failure"]) == (
        "past_due",
        1,
        "card_declined",
    )
    assert now["retry_on"] == (start + timedelta(days=1)).isoformat()
    failed_text = next(t for t in _texts(owner, customer) if "could not charge your card" in t)
    assert "/p/cards/" in failed_text
    failures = [
        e for e in _timeline(owner, enrolment["job_id"]) if e["type"] == "PlanPaymentFailed"
    ]
    assert failures[0]["data"]["reason"] == "card_declined"
    assert failures[0]["data"]["decline_code"] == "generic_decline"
    assert _plan_invoices(owner, enrolment["job_id"])[0]["status"] == "sent"

    # When the customer saves a new card through the link
    _save_card_through_the_page(owner, customer["id"])
    outcome = _card_saved(owner, customer)

    # Then it is charged at once, and when Stripe says it was paid the enrolment is active
    assert outcome == "plans charged: 1"
    _stripe_pays(owner, _intents(owner, enrolment["job_id"])[-1])
    now = _enrolment(owner, enrolment)
    assert (now["status"], now["failed_attempts"], now["open_invoice_id"]) == ("active", 0, None)
    assert _plan_invoices(owner, enrolment["job_id"])[0]["status"] == "paid"
    types = [e["type"] for e in _timeline(owner, enrolment["job_id"])]
    assert "PlanRecovered" in types
    assert any("received $19.00" in t for t in _texts(owner, customer))


def test_after_the_last_retry_the_plan_is_paused_and_its_visits_flagged(owner):
    # Given an enrolment whose card is declined every time (the default policy: days 1, 3, 7)
    _, enrolment, start = _enrolled(owner, card=DECLINES_AT_CHARGE)

    # When the billing date and each retry day pass
    outcomes = [_run(owner, start + timedelta(days=d)) for d in (0, 1, 2, 3, 7)]

    # Then it was retried on days 1, 3 and 7 (nothing on day 2), then paused
    assert all(o.get("failed", 0) == 0 for o in outcomes)
    tries = [e for e in _timeline(owner, enrolment["job_id"]) if e["type"] == "PlanPaymentFailed"]
    assert [e["data"]["retry_on"] for e in tries] == [
        *((start + timedelta(days=d)).isoformat() for d in (1, 3, 7)),
        None,
    ]
    now = _enrolment(owner, enrolment)
    assert (now["status"], now["paused_reason"], now["failed_attempts"]) == (
        "paused",
        "payment_failed",
        4,
    )
    assert now["retry_on"] is None
    # And nothing more is billed while it is paused, however late it gets
    _run(owner, _month_later(start, 1))
    assert len(_plan_invoices(owner, enrolment["job_id"])) == 1
    # And the invoice's payment reminders, held while autopay tried, take over
    told = [e["type"] for e in _timeline(owner, enrolment["job_id"])]
    assert told.index("DunningHeld") < told.index("PlanPaused") < told.index("DunningResumed")
    # And its upcoming visits are flagged for dispatch
    visits = owner.get(f"/jobs/{enrolment['job_id']}/visits").data["items"]
    upcoming = [v for v in visits if v["start"] > datetime.now(UTC).isoformat()]
    assert upcoming and all("plan_paused" in v["flags"] for v in upcoming)


def test_a_paused_plan_is_resumed_by_the_office_and_charged_at_once(owner):
    # Given a plan paused after its last retry (the card is declined every time)
    customer, enrolment, start = _enrolled(owner, card=DECLINES_AT_CHARGE)
    for day in (0, 1, 3, 7):
        _run(owner, start + timedelta(days=day))
    resume = f"/customers/{customer['id']}/plans/{enrolment['id']}/resume"

    # When the office resumes it on the same card: one more charge, declined, paused again
    again = owner.post(resume)
    assert again.status_code == 200, again.body
    assert (again.data["status"], again.data["failed_attempts"]) == ("paused", 5)

    # When the customer has saved a new card, made the default, and the office resumes it
    _save_card_through_the_page(owner, customer["id"])
    newest = owner.get(f"/customers/{customer['id']}/payment-methods").data["items"][0]
    owner.post(f"/customers/{customer['id']}/payment-methods/{newest['id']}/default")
    resumed = owner.post(resume)
    assert resumed.status_code == 200, resumed.body

    # Then the open period is charged at once on the new card; Stripe's payment settles it
    assert resumed.data["status"] == "active"
    intents = _intents(owner, enrolment["job_id"])
    assert intent(intents[-1])["payment_method"] == newest["id"]
    _stripe_pays(owner, intents[-1])
    now = _enrolment(owner, enrolment)
    assert (now["status"], now["open_invoice_id"], now["paused_reason"]) == ("active", None, None)
    assert _plan_invoices(owner, enrolment["job_id"])[0]["status"] == "paid"
    # And its upcoming visits are no longer flagged; the office sees who resumed it
    visits = owner.get(f"/jobs/{enrolment['job_id']}/visits").data["items"]
    assert visits and not any("plan_paused" in v["flags"] for v in visits)
    assert "PlanResumed" in [e["type"] for e in _timeline(owner, enrolment["job_id"])]

    # And an active plan does not resume
    refused = owner.post(resume)
    assert refused.status_code == 409 and refused.data["error"]["code"] == "illegal_transition"


def test_every_visit_of_the_plan_has_its_checklist_the_nightly_ones_too(owner):
    from chalicelib.services import series
    from chalicelib.store import series as series_store

    # Given a monthly plan whose visits cover a checklist (a quarter's visits written)
    _, enrolment, _ = _enrolled(owner, checklist=["Replace filter", "Check coil"])
    first = len(owner.get(f"/jobs/{enrolment['job_id']}/visits").data["items"])

    # When the nights of the next half year pass
    kept = series_store.get_series(owner.tenant_id, enrolment["job_id"], enrolment["series_id"])
    series.extend(owner.tenant_id, kept, datetime.now(UTC) + timedelta(days=183))

    # Then the visits they added carry the plan's checklist as the first ones do
    visits = owner.get(f"/jobs/{enrolment['job_id']}/visits?limit=100").data["items"]
    assert len(visits) > first
    labels = [[item["label"] for item in v["checklist"]] for v in visits]
    assert labels == [["Replace filter", "Check coil"]] * len(visits)


def test_autopay_needs_a_saved_card_and_an_archived_plan_takes_no_enrolment(owner):
    plan = owner.post("/service-plans", MONTHLY).data
    customer = _customer(owner)
    today = datetime.now(CHICAGO).date().isoformat()
    body = {"plan_id": plan["id"], "start_date": today}

    refused = owner.post(f"/customers/{customer['id']}/plans", body)
    assert refused.status_code == 422 and refused.data["error"]["code"] == "no_saved_method"

    archived = owner.post(f"/service-plans/{plan['id']}/archive")
    assert archived.status_code == 200 and archived.data["archived"] is True
    manual = owner.post("/service-plans", {**MONTHLY, "autopay": False}).data
    owner.post(f"/service-plans/{manual['id']}/archive")
    again = owner.post(f"/customers/{customer['id']}/plans", {**body, "plan_id": manual["id"]})
    assert again.status_code == 409 and again.data["error"]["code"] == "illegal_transition"


def test_a_bad_rule_is_refused_and_another_tenant_sees_nothing(owner, other_owner):
    bad = owner.post("/service-plans", {**MONTHLY, "visit_rule": "RRULE:FREQ=HOURLY"})
    assert bad.status_code == 422 and bad.data["error"]["code"] == "invalid_recurrence"

    _, enrolment, _ = _enrolled(owner)
    path = f"/customers/{enrolment['customer_id']}/plans/{enrolment['id']}"
    assert other_owner.get(path).status_code == 404
    assert other_owner.post(f"{path}/cancel", {"reason": "x"}).status_code == 404
    assert [p["id"] for p in other_owner.get("/service-plans").data["items"]] == []


@pytest.mark.parametrize("by", ["office", "customer"])
def test_a_plan_is_cancelled_by_the_office_or_from_the_customers_link(owner, by):
    # Given an enrolment (a manual-pay plan: no card needed)
    customer, enrolment, start = _manual_enrolment(owner, days_ahead=3)

    # When the office cancels it, or the customer from the link in their texts
    if by == "office":
        path = f"/customers/{customer['id']}/plans/{enrolment['id']}/cancel"
        done = owner.post(path, {"reason": "moving away"})
        assert done.status_code == 200, done.body
    else:
        from chalicelib.services import plans
        from chalicelib.store import plans as store

        kept = store.get_enrolment(owner.tenant_id, customer["id"], enrolment["id"])
        token = plans.link_for(owner.tenant_id, kept).rsplit("/", 1)[1]
        public = Api(owner.client, "")
        assert public.get(f"/public/plans/{token}").data["status"] == "active"
        done = public.post(f"/public/plans/{token}/cancel")
        assert done.status_code == 200 and done.data["status"] == "cancelled"

    # Then nothing more is billed, and the plan's job and its visits are called off
    assert _enrolment(owner, enrolment)["status"] == "cancelled"
    _run(owner, start)
    assert _plan_invoices(owner, enrolment["job_id"]) == []
    assert owner.get(f"/jobs/{enrolment['job_id']}").data["stage"] == "cancelled"
    visits = owner.get(f"/jobs/{enrolment['job_id']}/visits").data["items"]
    assert all(v["status"] == "cancelled" for v in visits)


def test_a_card_whose_bank_wants_authentication_off_session_goes_past_due(owner):
    # Given a card that asks for authentication on every charge (Stripe's 4000002760003184)
    customer, enrolment, start = _enrolled(owner, card="4000002760003184")

    # When autopay charges it with the customer away
    _run(owner, start)

    # Then Stripe's answer (authentication_required, the intent left without a method) is a
    # failure like a decline: past due, the card link texted
    now = _enrolment(owner, enrolment)
    assert (now["status"], now["last_failure"]) == ("past_due", "authentication_required")
    assert any("could not charge your card" in t for t in _texts(owner, customer))
    [failed] = [
        e for e in _timeline(owner, enrolment["job_id"]) if e["type"] == "PlanPaymentFailed"
    ]
    assert intent(failed["data"]["intent_id"])["status"] == "requires_payment_method"


def test_a_dispute_on_a_plan_invoice_pauses_the_plan(owner):
    # Given a plan paid this month by autopay
    _, enrolment, start = _enrolled(owner)
    _run(owner, start)
    paid = intent(_intents(owner, enrolment["job_id"])[-1])
    _stripe_pays(owner, paid["id"])

    # When the customer's bank opens a dispute on that payment
    dispute = sample("charge.dispute.created")["data"]["object"]
    dispute |= {"payment_intent": paid["id"], "charge": paid["latest_charge"]["id"]}
    dispute |= {"amount": 1900, "currency": "usd", "status": "needs_response"}
    assert deliver(owner, event("charge.dispute.created", dispute)).status_code == 200

    # Then the plan is paused (nothing more is billed) and its upcoming visits are flagged
    now = _enrolment(owner, enrolment)
    assert (now["status"], now["paused_reason"]) == ("paused", "disputed")
    visits = owner.get(f"/jobs/{enrolment['job_id']}/visits").data["items"]
    upcoming = [v for v in visits if v["start"] > datetime.now(UTC).isoformat()]
    assert upcoming and all("plan_paused" in v["flags"] for v in upcoming)


def test_a_yearly_plan_is_announced_two_weeks_before_it_renews(owner):
    # Given a yearly plan billed and paid for its first year
    customer, enrolment, start = _enrolled(
        owner, billing_interval="year", price_cents=22800, visit_rule="RRULE:FREQ=YEARLY"
    )
    _run(owner, start)
    _stripe_pays(owner, _intents(owner, enrolment["job_id"])[-1])
    renews = _month_later(start, 12)

    # When the days before the renewal pass
    _run(owner, renews - timedelta(days=15))
    assert not any("renews on" in t for t in _texts(owner, customer))
    _run(owner, renews - timedelta(days=14))
    _run(owner, renews - timedelta(days=13))

    # Then the customer was told once, with the date, the price and their plan's link
    [notice] = [t for t in _texts(owner, customer) if "renews on" in t]
    assert f"renews on {renews:%b} {renews.day} for $228.00" in notice
    assert "/p/plans/" in notice
    assert len(_plan_invoices(owner, enrolment["job_id"])) == 1


def test_the_plan_page_shows_the_plan_and_cancels_it_from_a_form(owner):
    # Given the link in a customer's plan texts
    from chalicelib.services import plans
    from chalicelib.store import plans as store

    customer, made, start = _manual_enrolment(owner, days_ahead=1)
    kept = store.get_enrolment(owner.tenant_id, customer["id"], made["id"])
    token = plans.link_for(owner.tenant_id, kept).rsplit("/", 1)[1]
    browser = Api(owner.client, "")

    # When the customer opens it, then presses "Cancel my plan"
    shown = browser.client.http.get(f"/p/plans/{token}")
    posted = browser.client.http.post(
        f"/p/plans/{token}/cancel",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        body=b"",
    )
    after = browser.client.http.get(f"/p/plans/{token}")

    # Then the page showed the price and next bill, and after the post says it is cancelled
    assert shown.status_code == 200 and b"$19.00 a month" in shown.body
    assert f"{start:%b} {start.day}, {start.year}".encode() in shown.body
    assert posted.status_code == 303 and posted.headers["Location"] == f"../{token}"
    assert b"This plan is cancelled" in after.body
    assert _enrolment(owner, made)["status"] == "cancelled"
    assert browser.client.http.get(f"/p/plans/{token}x").status_code == 404
