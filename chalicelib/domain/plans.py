"""Service plans: recurring work billed each month or year, with autopay and its failure path.

A plan is the offer ("two tune-ups a year, $19/month"); an enrolment is one customer's
agreement to it. The enrolment copies the plan's terms (a later change to the plan never
changes what a customer agreed to) and owns one job (`source: plan`) holding the plan's visits
(a recurring series) and its invoices (kind `plan`: standalone, never credited by a final).

An enrolment moves `active → past_due → paused` when autopay fails and back to `active` when
the money comes in; `cancelled` is final. Its billing dates are anchored on the start date
(the 31st bills on the last day of shorter months, then on the 31st again), as dates in the
tenant's zone. While a period is being collected (past due) the next one is not billed: the
customer owes one invoice at a time, and the retries follow the tenant's policy, counted in
days from the billing date.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from pydantic import BaseModel, Field

from chalicelib.domain import clock
from chalicelib.domain.errors import Conflict, Invalid
from chalicelib.domain.visits import Visit

INTERVALS = ("month", "year")
STATUSES = ("active", "past_due", "paused", "cancelled")
# Charging again may bring the money in: a paused enrolment still recovers with a new card.
COLLECTING = ("past_due", "paused")
DEFAULT_RETRY_DAYS = (1, 3, 7)
# A yearly renewal is announced this long before it is charged.
RENEWAL_NOTICE_DAYS = 14


class Plan(BaseModel):
    plan_id: str
    name: str
    visit_rule: str
    visit_duration_minutes: int
    price_cents: int
    currency: str
    billing_interval: str
    autopay: bool
    checklist: list[str] = Field(default_factory=list)
    archived: bool = False
    created_at: datetime
    updated_at: datetime
    version: int | None = None


class Enrolment(BaseModel):
    enrolment_id: str
    customer_id: str
    plan_id: str
    job_id: str
    series_id: str | None = None
    # The plan's terms as the customer agreed to them.
    plan_name: str
    price_cents: int
    currency: str
    billing_interval: str
    autopay: bool
    status: str = "active"
    timezone: str  # the tenant's: billing dates are dates there
    start_date: date
    periods_billed: int = 0
    next_bill_on: date
    payment_method_id: str | None = None
    # The period being collected by autopay (its billing date and invoice) and how it goes.
    open_invoice_id: str | None = None
    open_period: date | None = None
    failed_attempts: int = 0
    retry_on: date | None = None
    last_failure: str | None = None
    renewal_reminded_for: date | None = None
    paused_reason: str | None = None
    cancelled_at: datetime | None = None
    cancel_reason: str | None = None
    created_at: datetime
    updated_at: datetime
    version: int | None = None

    @property
    def is_live(self) -> bool:
        return self.status != "cancelled"


def new_plan(plan_id: str, fields: dict, currency: str) -> Plan:
    if fields["billing_interval"] not in INTERVALS:
        raise Invalid(f"billing_interval is one of {', '.join(INTERVALS)}")
    moment = clock.now()
    return Plan(plan_id=plan_id, currency=currency, created_at=moment, updated_at=moment, **fields)


def enrol(
    enrolment_id: str,
    plan: Plan,
    customer_id: str,
    job_id: str,
    start_date: date,
    timezone: str,
    payment_method_id: str | None,
) -> Enrolment:
    if plan.archived:
        raise Conflict("the plan is archived: no new enrolments", code="illegal_transition")
    moment = clock.now()
    return Enrolment(
        enrolment_id=enrolment_id,
        customer_id=customer_id,
        plan_id=plan.plan_id,
        job_id=job_id,
        plan_name=plan.name,
        price_cents=plan.price_cents,
        currency=plan.currency,
        billing_interval=plan.billing_interval,
        autopay=plan.autopay,
        timezone=timezone,
        start_date=start_date,
        next_bill_on=start_date,
        payment_method_id=payment_method_id,
        created_at=moment,
        updated_at=moment,
    )


# --- the calendar -----------------------------------------------------------------------------


def billing_date(start: date, interval: str, periods: int) -> date:
    """The billing date `periods` periods after the start, anchored on the start's day."""
    from dateutil.relativedelta import relativedelta

    months = periods * (12 if interval == "year" else 1)
    return start + relativedelta(months=months)


def today(enrolment: Enrolment, now: datetime) -> date:
    return today_in(enrolment.timezone, now)


def today_in(timezone: str, now: datetime) -> date:
    return now.astimezone(ZoneInfo(timezone)).date()


def renewal_notice_on(enrolment: Enrolment) -> date | None:
    """When a yearly renewal is announced (never the first bill: the customer just agreed)."""
    if enrolment.billing_interval != "year" or enrolment.periods_billed == 0:
        return None
    if enrolment.renewal_reminded_for == enrolment.next_bill_on:
        return None
    return enrolment.next_bill_on - timedelta(days=RENEWAL_NOTICE_DAYS)


def next_action_on(enrolment: Enrolment) -> date | None:
    """The next date the daily run has something to do: bill, retry or announce a renewal.
    None when nothing will happen without someone acting (paused, cancelled)."""
    if enrolment.status not in ("active", "past_due"):
        return None
    if enrolment.open_invoice_id is not None:
        return enrolment.retry_on
    notice = renewal_notice_on(enrolment)
    return min(d for d in (enrolment.next_bill_on, notice) if d is not None)


def due_at(enrolment: Enrolment) -> datetime | None:
    """The start of the next action's date in the tenant's zone (an instant: one index sorts
    every tenant's enrolments, whatever their zones)."""
    on = next_action_on(enrolment)
    if on is None:
        return None
    return datetime.combine(on, time.min, ZoneInfo(enrolment.timezone))


def is_bill_due(enrolment: Enrolment, on: date) -> bool:
    return (
        enrolment.status == "active"
        and enrolment.open_invoice_id is None
        and enrolment.next_bill_on <= on
    )


def is_charge_due(enrolment: Enrolment, on: date) -> bool:
    """Autopay has a charge of the open period to make (the billing date's, or a retry)."""
    return (
        enrolment.status in ("active", "past_due")
        and enrolment.autopay
        and enrolment.open_invoice_id is not None
        and enrolment.retry_on is not None
        and enrolment.retry_on <= on
    )


def is_renewal_notice_due(enrolment: Enrolment, on: date) -> bool:
    notice = renewal_notice_on(enrolment)
    return enrolment.status == "active" and notice is not None and notice <= on


# --- what happens to it -----------------------------------------------------------------------


def billed(enrolment: Enrolment, invoice_id: str) -> date:
    """The period at `next_bill_on` is invoiced and the next billing date moves on; the
    invoice is open until it is sent (and, with autopay, collected: charged today). Returns
    the period billed."""
    period = enrolment.next_bill_on
    enrolment.periods_billed += 1
    enrolment.next_bill_on = billing_date(
        enrolment.start_date, enrolment.billing_interval, enrolment.periods_billed
    )
    enrolment.open_invoice_id, enrolment.open_period = invoice_id, period
    enrolment.retry_on = period if enrolment.autopay else None
    _touch(enrolment)
    return period


def settled(enrolment: Enrolment) -> None:
    """Nothing more to collect on the open period (sent without autopay, or nothing owed)."""
    enrolment.open_invoice_id = enrolment.open_period = enrolment.retry_on = None
    enrolment.failed_attempts, enrolment.last_failure = 0, None
    _touch(enrolment)


def charging(enrolment: Enrolment) -> None:
    """Stripe took the charge: nothing to do until its event says the money arrived."""
    enrolment.retry_on = None
    _touch(enrolment)


def attempt_number(enrolment: Enrolment) -> int:
    """Which charge of the open period the next one is (1: the billing date's)."""
    return enrolment.failed_attempts + 1


def charge_failed(enrolment: Enrolment, reason: str, retry_days: list[int]) -> str:
    """A charge of the open period failed: past due until the next retry of the policy, paused
    after the last. Returns the new status."""
    enrolment.failed_attempts += 1
    enrolment.last_failure = reason
    if enrolment.failed_attempts > len(retry_days):
        pause(enrolment, "payment_failed")
    else:
        enrolment.status = "past_due"
        wait = retry_days[enrolment.failed_attempts - 1]
        enrolment.retry_on = (enrolment.open_period or enrolment.next_bill_on) + timedelta(wait)
    _touch(enrolment)
    return enrolment.status


def pause(enrolment: Enrolment, reason: str) -> None:
    if not enrolment.is_live:
        return
    enrolment.status, enrolment.paused_reason, enrolment.retry_on = "paused", reason, None
    _touch(enrolment)


def paid(enrolment: Enrolment, invoice_id: str) -> bool:
    """The open period's invoice is paid: active again (unless a dispute paused it). False
    when that invoice is not the one being collected (a replay, a manual plan's)."""
    if enrolment.open_invoice_id != invoice_id:
        return False
    settled(enrolment)
    if enrolment.is_live and enrolment.paused_reason != "disputed":
        enrolment.status, enrolment.paused_reason = "active", None
    return True


def retry_now(enrolment: Enrolment, on: date, payment_method_id: str) -> bool:
    """A new card: the open period is charged again at once (paused by failures included).
    False when nothing is being collected."""
    if enrolment.status not in COLLECTING or enrolment.open_invoice_id is None:
        return False
    if enrolment.status == "paused" and enrolment.paused_reason != "payment_failed":
        return False
    enrolment.payment_method_id = payment_method_id
    enrolment.status, enrolment.paused_reason, enrolment.retry_on = "past_due", None, on
    _touch(enrolment)
    return True


def resume(enrolment: Enrolment, on: date, can_charge: bool) -> None:
    """The office takes a paused plan back: active, and with autopay and a method to charge,
    the open period charged at once (its next attempt: a new charge, never a replay of the
    last). Without one, the open invoice stays with its payment reminders."""
    if enrolment.status != "paused":
        raise Conflict(
            f"the enrolment is {enrolment.status}: only a paused one resumes",
            code="illegal_transition",
        )
    charge_now = can_charge and enrolment.autopay and enrolment.open_invoice_id is not None
    enrolment.status, enrolment.paused_reason = "active", None
    enrolment.retry_on = on if charge_now else None
    _touch(enrolment)


def reminded(enrolment: Enrolment) -> None:
    enrolment.renewal_reminded_for = enrolment.next_bill_on
    _touch(enrolment)


def cancel(enrolment: Enrolment, reason: str) -> None:
    if not enrolment.is_live:
        raise Conflict("the enrolment is already cancelled", code="illegal_transition")
    enrolment.status, enrolment.cancel_reason = "cancelled", reason
    enrolment.cancelled_at = clock.now()
    enrolment.retry_on = None
    _touch(enrolment)


PAUSED_FLAG = "plan_paused"
FINISHED_VISITS = ("completed", "cancelled", "no_access")


def flag_visit(visit: Visit, paused: bool) -> bool:
    """Flag an unfinished visit `plan_paused` (or clear it); whether it changed."""
    if visit.status in FINISHED_VISITS or (PAUSED_FLAG in visit.flags) == paused:
        return False
    others = [f for f in visit.flags if f != PAUSED_FLAG]
    visit.flags = [*others, PAUSED_FLAG] if paused else others
    visit.updated_at = clock.now()
    return True


def _touch(enrolment: Enrolment) -> None:
    enrolment.updated_at = clock.now()
