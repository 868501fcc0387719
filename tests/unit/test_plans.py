"""Service plans' rules (chalicelib/domain/plans.py): billing dates, the failure path's
schedule, what is due when, and the visits a pause flags."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from chalicelib.domain import plans as rules
from chalicelib.domain.errors import Conflict
from chalicelib.domain.plans import Enrolment, Plan
from chalicelib.domain.visits import Visit

MOMENT = datetime(2030, 1, 15, 12, tzinfo=UTC)


def _plan(**changes) -> Plan:
    fields = {
        "plan_id": "p1",
        "name": "Pool care",
        "visit_rule": "RRULE:FREQ=WEEKLY",
        "visit_duration_minutes": 60,
        "price_cents": 1900,
        "currency": "USD",
        "billing_interval": "month",
        "autopay": True,
        "created_at": MOMENT,
        "updated_at": MOMENT,
    }
    return Plan(**{**fields, **changes})


def _enrolment(start: date = date(2030, 1, 31), **plan) -> Enrolment:
    return rules.enrol("e1", _plan(**plan), "c1", "j1", start, "America/Chicago", None)


def test_billing_dates_keep_the_start_day_through_short_months():
    start = date(2030, 1, 31)
    dates = [rules.billing_date(start, "month", n) for n in range(4)]
    assert dates == [date(2030, 1, 31), date(2030, 2, 28), date(2030, 3, 31), date(2030, 4, 30)]
    assert rules.billing_date(date(2028, 2, 29), "year", 1) == date(2029, 2, 28)
    assert rules.billing_date(date(2028, 2, 29), "year", 4) == date(2032, 2, 29)


def test_billing_moves_the_date_on_and_opens_the_period_for_autopay():
    enrolment = _enrolment()
    assert rules.is_bill_due(enrolment, date(2030, 1, 31))
    assert not rules.is_bill_due(enrolment, date(2030, 1, 30))

    period = rules.billed(enrolment, "inv1")

    assert period == date(2030, 1, 31) and enrolment.next_bill_on == date(2030, 2, 28)
    assert enrolment.open_invoice_id == "inv1"
    assert rules.is_charge_due(enrolment, period)
    # The same day again: nothing more to bill while the period is being collected
    assert not rules.is_bill_due(enrolment, date(2030, 3, 31))


def test_failures_follow_the_retry_days_from_the_billing_date_then_pause():
    enrolment = _enrolment()
    rules.billed(enrolment, "inv1")
    statuses = []
    retries = []
    for _ in range(4):
        statuses.append(rules.charge_failed(enrolment, "card_declined", [1, 3, 7]))
        retries.append(enrolment.retry_on)
    assert statuses == ["past_due", "past_due", "past_due", "paused"]
    assert retries == [date(2030, 2, 1), date(2030, 2, 3), date(2030, 2, 7), None]
    assert enrolment.paused_reason == "payment_failed"
    assert rules.next_action_on(enrolment) is None  # nothing happens until someone acts


def test_a_new_card_charges_a_paused_enrolment_again_but_not_a_disputed_one():
    enrolment = _enrolment()
    rules.billed(enrolment, "inv1")
    for _ in range(4):
        rules.charge_failed(enrolment, "card_declined", [1, 3, 7])

    assert rules.retry_now(enrolment, date(2030, 2, 9), "pm_new")
    assert (enrolment.status, enrolment.retry_on) == ("past_due", date(2030, 2, 9))
    assert rules.attempt_number(enrolment) == 5  # a new Stripe idempotency key

    assert rules.paid(enrolment, "inv1") and enrolment.status == "active"
    assert enrolment.failed_attempts == 0 and enrolment.open_invoice_id is None

    disputed = _enrolment()
    rules.billed(disputed, "inv2")
    rules.pause(disputed, "disputed")
    assert not rules.retry_now(disputed, date(2030, 2, 1), "pm_new")


def test_resuming_charges_the_open_period_only_when_autopay_has_a_method():
    on = date(2030, 2, 9)
    with_card, without_card = _enrolment(), _enrolment()
    for enrolment in (with_card, without_card):
        rules.billed(enrolment, "inv1")
        for _ in range(4):
            rules.charge_failed(enrolment, "card_declined", [1, 3, 7])

    rules.resume(with_card, on, can_charge=True)
    rules.resume(without_card, on, can_charge=False)

    assert (with_card.status, with_card.paused_reason) == ("active", None)
    assert rules.is_charge_due(with_card, on) and rules.attempt_number(with_card) == 5
    assert without_card.status == "active" and not rules.is_charge_due(without_card, on)
    assert rules.next_action_on(without_card) is None  # its invoice is the reminders' to chase
    with pytest.raises(Conflict):
        rules.resume(with_card, on, can_charge=True)


def test_a_payment_of_another_invoice_changes_nothing():
    enrolment = _enrolment()
    rules.billed(enrolment, "inv1")
    assert not rules.paid(enrolment, "someone-elses")
    assert enrolment.open_invoice_id == "inv1"


def test_the_next_action_is_a_local_midnight_whatever_the_offset():
    # Chicago: CST in January (UTC-6), CDT in July (UTC-5)
    winter = _enrolment(date(2030, 1, 10))
    summer = _enrolment(date(2030, 7, 10))
    assert rules.due_at(winter).astimezone(UTC) == datetime(2030, 1, 10, 6, tzinfo=UTC)
    assert rules.due_at(summer).astimezone(UTC) == datetime(2030, 7, 10, 5, tzinfo=UTC)
    assert rules.today(winter, datetime(2030, 1, 10, 5, 59, tzinfo=UTC)) == date(2030, 1, 9)


def test_a_yearly_renewal_is_announced_two_weeks_before_never_for_the_first_bill():
    enrolment = _enrolment(date(2030, 3, 1), billing_interval="year")
    assert rules.renewal_notice_on(enrolment) is None
    rules.billed(enrolment, "inv1")
    rules.paid(enrolment, "inv1")

    assert rules.next_action_on(enrolment) == date(2031, 2, 15)
    assert rules.is_renewal_notice_due(enrolment, date(2031, 2, 15))
    rules.reminded(enrolment)
    assert not rules.is_renewal_notice_due(enrolment, date(2031, 2, 20))
    assert rules.next_action_on(enrolment) == date(2031, 3, 1)


def test_cancelled_is_final_and_an_archived_plan_takes_no_one():
    enrolment = _enrolment()
    rules.cancel(enrolment, "moving")
    assert rules.next_action_on(enrolment) is None
    with pytest.raises(Conflict):
        rules.cancel(enrolment, "again")
    with pytest.raises(Conflict):
        rules.enrol("e2", _plan(archived=True), "c1", "j2", date(2030, 1, 1), "UTC", None)


def _visit(status: str) -> Visit:
    return Visit(
        visit_id="v1",
        job_id="j1",
        status=status,
        window_start=MOMENT,
        window_end=MOMENT,
        duration_minutes=60,
        start=MOMENT,
        timezone="UTC",
        created_at=MOMENT,
        updated_at=MOMENT,
    )


def test_a_pause_flags_unfinished_visits_once_and_recovery_clears_the_flag():
    waiting, done = _visit("unscheduled"), _visit("completed")
    assert rules.flag_visit(waiting, True) and waiting.flags == ["plan_paused"]
    assert not rules.flag_visit(waiting, True)  # already flagged: nothing to write
    assert not rules.flag_visit(done, True)
    assert rules.flag_visit(waiting, False) and waiting.flags == []
