"""Service plans on the stage's own time: the daily schedule (`daily_plans`, fired as the local
stage's clock fires it, each virtual day at 07:00 UTC) bills and charges; Stripe's events come
back through the webhook; a saved card reaches the plans through stream → bus → consumer."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from localstage.clock import scheduled_event
from tests.integration.stripe_helpers import deliver, event, intent
from tests.integration.test_cards import _save_card_through_the_page
from tests.integration.test_plans import DECLINES_AT_CHARGE, MONTHLY, _customer, _texts

START = date(2025, 3, 5)  # a Wednesday; the virtual clock begins on Monday 3 March


def _enrol(owner, customer: dict) -> dict:
    plan = owner.post("/service-plans", MONTHLY).data
    enrolled = owner.post(
        f"/customers/{customer['id']}/plans",
        {"plan_id": plan["id"], "start_date": START.isoformat()},
    )
    assert enrolled.status_code == 201, enrolled.body
    return enrolled.data


class Days:
    """Each virtual day: the schedule fires, the stage delivers what was written, and Stripe
    sends its event for each charge it took (its webhook)."""

    def __init__(self, stage, virtual_time, owner, job_id: str):
        import app as app_module

        self.stage, self.time, self.owner, self.job_id = stage, virtual_time, owner, job_id
        self.daily = app_module.daily_plans
        self.reported: set[str] = set()

    def through(self, last: date) -> None:
        day = self.time.now().date()
        while day <= last:
            self.time.advance_to(datetime(day.year, day.month, day.day, 7, tzinfo=UTC))
            self.daily(scheduled_event("daily_plans"), None)
            self.deliver()
            day += timedelta(days=1)

    def deliver(self) -> None:
        self.stage.pump()
        for intent_id in self._intents():
            if intent_id not in self.reported and intent(intent_id)["status"] == "succeeded":
                self.reported.add(intent_id)
                paid = deliver(self.owner, event("payment_intent.succeeded", intent(intent_id)))
                assert paid.status_code == 200, paid.body
        self.stage.pump()

    def _intents(self) -> list[str]:
        timeline = self.owner.get(f"/jobs/{self.job_id}/timeline?limit=200").data["items"]
        return [
            e["data"]["stripe_payment_intent_id"] for e in timeline if e["type"] == "PaymentStarted"
        ]


def _enrolment(owner, enrolment: dict) -> dict:
    return owner.get(f"/customers/{enrolment['customer_id']}/plans/{enrolment['id']}").data


def _invoices(owner, job_id: str) -> list[tuple[str, str | None]]:
    found = owner.get(f"/invoices?job_id={job_id}").data["items"]
    return [(i["status"], i["due_date"]) for i in found]


def test_two_months_of_a_plan_are_billed_and_paid_with_no_one_acting(stage, virtual_time, owner):
    # Given a customer with a card on file, enrolled from Wednesday 5 March
    customer = _customer(owner)
    _save_card_through_the_page(owner, customer["id"])
    enrolment = _enrol(owner, customer)
    days = Days(stage, virtual_time, owner, enrolment["job_id"])

    # When the days pass on the stage's clock into May
    days.through(date(2025, 5, 4))

    # Then March's and April's bills were made on their dates, charged and paid; May's not yet
    assert _invoices(owner, enrolment["job_id"]) == [
        ("paid", "2025-03-05"),
        ("paid", "2025-04-05"),
    ]
    now = _enrolment(owner, enrolment)
    assert (now["status"], now["next_bill_on"]) == ("active", "2025-05-05")
    assert len([t for t in _texts(owner, customer) if "received $19.00" in t]) == 2


def test_a_declined_plan_recovers_when_the_customer_saves_a_card(stage, virtual_time, owner):
    # Given an enrolment whose card declines, past due after its billing date
    customer = _customer(owner)
    _save_card_through_the_page(owner, customer["id"], DECLINES_AT_CHARGE)
    enrolment = _enrol(owner, customer)
    days = Days(stage, virtual_time, owner, enrolment["job_id"])
    days.through(START)
    now = _enrolment(owner, enrolment)
    assert now["status"] == "past_due"
    # (its payment reminders wait while autopay retries: no dunning runs for the invoice)
    assert stage.executions("dunning", now["open_invoice_id"]) == []

    # When the customer saves a new card from the link they were texted (Stripe's event,
    # then PaymentMethodSaved through the stream, the bus and the consumer)
    _save_card_through_the_page(owner, customer["id"])
    days.deliver()

    # Then the plan was charged at once, without waiting for its next retry, and is active
    now = _enrolment(owner, enrolment)
    assert (now["status"], now["open_invoice_id"]) == ("active", None)
    assert _invoices(owner, enrolment["job_id"]) == [("paid", "2025-03-05")]
