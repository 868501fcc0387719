"""Service plans: the offers, customers' enrolments, and the customer's own plan link."""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Literal

from pydantic import Field, StrictBool, StrictInt

from chalicelib.api.http import Api, caller
from chalicelib.api.schemas import ListQuery, Name, Out, PageOut, Strict
from chalicelib.domain import plans as rules
from chalicelib.domain.callers import STAFF
from chalicelib.domain.invoices import MAX_UNIT_PRICE_CENTS
from chalicelib.services import plan_billing, plans

api = Api(__name__, "service plans")

Interval = Literal[rules.INTERVALS]  # type: ignore[valid-type]
EnrolmentStatus = Literal[rules.STATUSES]  # type: ignore[valid-type]


class PlanIn(Strict):
    name: str = Name
    visit_rule: str = Field(
        min_length=1,
        max_length=500,
        description="RFC 5545 RRULE of the plan's visits, e.g. `RRULE:FREQ=MONTHLY;INTERVAL=6`",
    )
    visit_duration_minutes: StrictInt = Field(ge=15, le=1440)
    price_cents: StrictInt = Field(ge=1, le=MAX_UNIT_PRICE_CENTS, description="Per period")
    billing_interval: Interval
    autopay: StrictBool
    checklist: list[str] = Field(
        None, max_length=50, description="What each visit covers. Default: none."
    )


class PlanOut(Out):
    id: str = Field(validation_alias="plan_id")
    name: str
    visit_rule: str
    visit_duration_minutes: int
    price_cents: int
    currency: str
    billing_interval: Interval
    autopay: bool
    checklist: list[str]
    archived: bool
    created_at: datetime
    version: int


class PlanPage(PageOut[PlanOut]):
    pass


class EnrolIn(Strict):
    plan_id: str = Field(min_length=1, max_length=64)
    start_date: date = Field(description="First billing date and first visit (tenant's zone)")
    payment_method_id: str | None = Field(
        None,
        max_length=255,
        description="A saved method (`pm_…`) autopay charges. Default: the customer's default",
    )
    window_start_time: time | None = Field(
        None, description="The visits' window opens (property's wall clock). Default: 08:00"
    )
    window_end_time: time | None = Field(None, description="…and closes. Default: 12:00")


class EnrolmentOut(Out):
    id: str = Field(validation_alias="enrolment_id")
    customer_id: str
    plan_id: str
    job_id: str
    series_id: str | None
    plan_name: str
    price_cents: int
    currency: str
    billing_interval: Interval
    autopay: bool
    status: EnrolmentStatus
    start_date: date
    next_bill_on: date
    payment_method_id: str | None
    open_invoice_id: str | None = Field(description="The invoice autopay is collecting")
    failed_attempts: int
    retry_on: date | None
    last_failure: str | None = Field(description="Stripe's code: `card_declined`, …")
    paused_reason: str | None
    cancelled_at: datetime | None
    cancel_reason: str | None
    created_at: datetime
    version: int


class EnrolmentList(PageOut[EnrolmentOut]):
    """A customer's enrolments (a handful: one page, `next_cursor` null)."""


class EnrolmentCancelIn(Strict):
    reason: str = Field(min_length=1, max_length=1000)


class PublicPlanOut(Out):
    business_name: str
    plan_name: str
    status: EnrolmentStatus
    price_cents: int
    currency: str
    billing_interval: Interval
    next_bill_on: date


@api.route("/service-plans", "POST", roles=STAFF, body=PlanIn, response=PlanOut, status=201)
def create_plan(body: PlanIn):
    """A plan customers can be enrolled in (422 `invalid_recurrence` for a rule that can't be
    read)."""
    return plans.create_plan(caller(), body.model_dump(exclude_none=True))


@api.route("/service-plans", "GET", roles=STAFF, query=ListQuery, response=PlanPage)
def list_plans(query: ListQuery):
    """The tenant's plans, archived ones included."""
    return plans.list_plans(caller(), query.cursor, query.limit)


@api.route("/service-plans/{plan_id}/archive", "POST", roles=STAFF, response=PlanOut)
def archive_plan(plan_id: str, if_match: int | None = None):
    """No new enrolments (409 `illegal_transition`); existing ones go on as agreed."""
    return plans.archive_plan(caller(), plan_id, if_match)


@api.route(
    "/customers/{customer_id}/plans",
    "POST",
    roles=STAFF,
    body=EnrolIn,
    response=EnrolmentOut,
    status=201,
)
def enrol(customer_id: str, body: EnrolIn):
    """Enrol the customer: a job (`source: plan`) with the plan's visits, billed from the start
    date. Autopay needs a saved method (422 `no_saved_method`)."""
    return plans.enrol(caller(), customer_id, body.model_dump())


@api.route("/customers/{customer_id}/plans", "GET", roles=STAFF, response=EnrolmentList)
def list_enrolments(customer_id: str):
    """The customer's enrolments, oldest first."""
    return {"items": plans.of_customer(caller(), customer_id), "next_cursor": None}


@api.route(
    "/customers/{customer_id}/plans/{enrolment_id}", "GET", roles=STAFF, response=EnrolmentOut
)
def get_enrolment(customer_id: str, enrolment_id: str):
    """One enrolment: its status, next billing date, and what autopay is collecting."""
    return plans.get(caller(), customer_id, enrolment_id)


@api.route(
    "/customers/{customer_id}/plans/{enrolment_id}/cancel",
    "POST",
    roles=STAFF,
    body=EnrolmentCancelIn,
    response=EnrolmentOut,
)
def cancel_enrolment(
    customer_id: str, enrolment_id: str, body: EnrolmentCancelIn, if_match: int | None = None
):
    """Nothing more is billed and the plan's job is cancelled with its open visits; invoices
    already sent stay owed."""
    return plans.cancel(caller(), customer_id, enrolment_id, body.reason, if_match)


@api.route(
    "/customers/{customer_id}/plans/{enrolment_id}/resume",
    "POST",
    roles=STAFF,
    response=EnrolmentOut,
)
def resume_enrolment(customer_id: str, enrolment_id: str, if_match: int | None = None):
    """A paused plan is active again (409 `illegal_transition` from any other state), its visits
    unflagged; with autopay and a saved method, the open period is charged at once."""
    return plan_billing.resume(caller(), customer_id, enrolment_id, if_match)


@api.route("/public/plans/{token}", "GET", roles=None, response=PublicPlanOut)
def public_plan(token: str):
    """The plan behind the link in a customer's plan texts (404 for an altered link)."""
    return plans.public_view(token)


@api.route("/public/plans/{token}/cancel", "POST", roles=None, response=PublicPlanOut, link="plan")
def cancel_public_plan(token: str):
    """The customer cancels their plan; cancelling again answers the same."""
    return plans.cancel_from_link(token)
