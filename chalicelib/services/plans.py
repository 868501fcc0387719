"""Service plans (the offers) and enrolments (a customer's agreement): write, read, cancel.

Enrolling writes the enrolment with its job (`source: plan`, approved: the customer agreed)
in one transaction, then the plan's visits as a recurring series on that job through the
series machinery (services/scheduling.py, extended nightly by services/series.py): they wait
unassigned on the board for dispatch. Billing is services/plan_billing.py.
"""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from chalicelib.config import get_settings
from chalicelib.domain import clock, links, recurrence
from chalicelib.domain import jobs as job_rules
from chalicelib.domain import plans as rules
from chalicelib.domain.callers import CUSTOMER, Caller
from chalicelib.domain.errors import Invalid, NotFound
from chalicelib.domain.ids import new_id
from chalicelib.domain.plans import Enrolment, Plan
from chalicelib.domain.tenants import Tenant
from chalicelib.domain.timeline import event
from chalicelib.domain.visits import Tally
from chalicelib.services import closing, customers, jobs, scheduling, tenants
from chalicelib.services.common import check_version, found, retrying
from chalicelib.store import jobs as job_store
from chalicelib.store import plans as store
from chalicelib.store.db import Transaction
from chalicelib.store.records import Page

SOURCE = "plan"  # the job's `source`
LINK_KIND = "plan"
# A customer's plan link (cancel) works as long as a yearly plan's renewal notice is relevant.
LINK_LIFETIME_DAYS = 400
DEFAULT_WINDOW = (time(8), time(12))


# --- plans ------------------------------------------------------------------------------------


def create_plan(caller: Caller, fields: dict[str, Any]) -> Plan:
    tenant = tenants.get_settings(caller)
    # The rule is checked now, on a sample first visit: an enrolment never meets a bad rule.
    recurrence.check(fields["visit_rule"], clock.now(), tenant.timezone)
    plan = rules.new_plan(new_id(), fields, tenant.currency)
    tx = Transaction()
    tx.put(store.plan_item(caller.tenant_id, plan), label="plan", entity=plan)
    tx.commit()
    return plan


def list_plans(caller: Caller, cursor: str | None, limit: int) -> Page:
    return store.plans_page(caller.tenant_id, cursor, limit)


def get_plan(caller: Caller, plan_id: str) -> Plan:
    return found(store.get_plan(caller.tenant_id, plan_id), "plan")


def archive_plan(caller: Caller, plan_id: str, if_match: int | None) -> Plan:
    """No new enrolments; those already made go on under the terms they agreed to."""
    plan = get_plan(caller, plan_id)
    check_version(plan.version, if_match)
    plan.archived, plan.updated_at = True, clock.now()
    tx = Transaction()
    tx.put(store.plan_item(caller.tenant_id, plan), label="plan", entity=plan)
    tx.commit()
    return plan


# --- enrolments -------------------------------------------------------------------------------


def enrol(caller: Caller, customer_id: str, fields: dict[str, Any]) -> Enrolment:
    tenant = tenants.get_settings(caller)
    plan = get_plan(caller, fields["plan_id"])
    customer = customers.get(caller, customer_id)
    start: date = fields["start_date"]
    if start < rules.today_in(tenant.timezone, clock.now()):
        raise Invalid(
            "start_date is in the past",
            details=[{"field": "start_date", "message": "today or later"}],
            code="validation_error",
        )
    method_id = _autopay_method(caller, plan, customer_id, fields.get("payment_method_id"))
    job, created = job_rules.new_lead(
        new_id(), customer_id, plan.name, caller.user_id, source=SOURCE, currency=tenant.currency
    )
    agreed = job_rules.advance(job, "approved", caller.user_id, cause="plan_enrolment")
    enrolment = rules.enrol(
        new_id(), plan, customer_id, job.job_id, start, tenant.timezone, method_id
    )
    enrolled = plan_event(enrolment, "PlanEnrolled", caller.user_id, plan_id=plan.plan_id)
    tx = Transaction()
    tally = Tally()
    tx.put(job_store.tally_item(caller.tenant_id, job.job_id, tally), entity=tally)
    tx.put(store.enrolment_item(caller.tenant_id, enrolment), label="enrolment", entity=enrolment)
    jobs.save(tx, caller, job, created, agreed, enrolled).commit()
    _start_visits(caller, plan, enrolment, customer.timezone or tenant.timezone, fields)
    return enrolment


def _autopay_method(caller: Caller, plan: Plan, customer_id: str, given: str | None) -> str | None:
    """The saved method autopay charges: the one named, else the customer's default then."""
    from chalicelib.services import cards

    if given is not None:
        saved = {m.id for m in cards.list_methods(caller.tenant_id, customer_id)}
        if given not in saved:
            raise Invalid(
                "payment_method_id is not one of the customer's saved methods",
                details=[{"field": "payment_method_id", "message": "not saved for this customer"}],
                code="no_saved_method",
            )
        return given
    if plan.autopay and cards.default_method(caller.tenant_id, customer_id) is None:
        raise Invalid(
            "autopay needs a saved card: send the customer the card link first "
            "(POST /customers/{id}/payment-methods/setup)",
            code="no_saved_method",
        )
    return None


def _start_visits(
    caller: Caller, plan: Plan, enrolment: Enrolment, zone: str, fields: dict[str, Any]
) -> None:
    """The plan's visits from its rule, the first window on the start date (the property's
    wall clock): a series the nightly schedule extends for as long as the job is open."""
    opens, closes = fields.get("window_start_time"), fields.get("window_end_time")
    opens, closes = opens or DEFAULT_WINDOW[0], closes or DEFAULT_WINDOW[1]
    local = ZoneInfo(zone)
    visits = scheduling.create_series(
        caller,
        enrolment.job_id,
        {
            "recurrence": plan.visit_rule,
            "window_start": datetime.combine(enrolment.start_date, opens, local),
            "window_end": datetime.combine(enrolment.start_date, closes, local),
            "duration_minutes": plan.visit_duration_minutes,
            # What each visit covers: the series gives it to the visits the nights add too.
            "checklist": [
                {"id": f"item-{n}", "label": label} for n, label in enumerate(plan.checklist, 1)
            ],
        },
    )
    if visits:

        def attempt() -> None:
            current = require(caller, enrolment.customer_id, enrolment.enrolment_id)
            current.series_id = visits[0].series_id
            save(Transaction(), caller.tenant_id, current).commit()
            enrolment.series_id, enrolment.version = current.series_id, current.version

        retrying(attempt)


def require(caller: Caller, customer_id: str, enrolment_id: str) -> Enrolment:
    return found(store.get_enrolment(caller.tenant_id, customer_id, enrolment_id), "enrolment")


def get(caller: Caller, customer_id: str, enrolment_id: str) -> Enrolment:
    customers.get(caller, customer_id)
    return require(caller, customer_id, enrolment_id)


def of_customer(caller: Caller, customer_id: str) -> list[Enrolment]:
    customers.get(caller, customer_id)
    return store.customer_enrolments(caller.tenant_id, customer_id)


def save(tx: Transaction, tenant_id: str, enrolment: Enrolment) -> Transaction:
    tx.put(store.enrolment_item(tenant_id, enrolment), label="enrolment", entity=enrolment)
    return tx


def cancel(
    caller: Caller, customer_id: str, enrolment_id: str, reason: str, if_match: int | None = None
) -> Enrolment:
    """Nothing more is billed; the plan's job is cancelled, which calls off its open visits
    (and its series) and voids what is still a draft. Invoices already sent stay owed."""
    customers.get(caller, customer_id)

    def attempt() -> Enrolment:
        enrolment = require(caller, customer_id, enrolment_id)
        check_version(enrolment.version, if_match)
        rules.cancel(enrolment, reason)
        cancelled = plan_event(enrolment, "PlanCancelled", caller.user_id, reason=reason)
        tx = Transaction()
        save(tx, caller.tenant_id, enrolment)
        jobs.record_events(tx, caller, cancelled).commit()
        return enrolment

    enrolment = attempt() if if_match is not None else retrying(attempt)
    job = jobs.get(caller, enrolment.job_id)
    if job.is_open and not job.is_settled:
        closing.close(caller, enrolment.job_id, "cancelled", f"plan cancelled: {reason}", None)
    return enrolment


def plan_event(enrolment: Enrolment, type_: str, actor: str, **data):
    return event(
        enrolment.job_id,
        type_,
        actor,
        enrolment_id=enrolment.enrolment_id,
        customer_id=enrolment.customer_id,
        status=enrolment.status,
        **data,
    )


# --- the customer's link ----------------------------------------------------------------------


def link_for(tenant_id: str, enrolment: Enrolment) -> str:
    """The link in the customer's plan texts: their plan, and a button to cancel it."""
    from datetime import timedelta

    claims = links.LinkClaims(
        kind=LINK_KIND,
        tenant_id=tenant_id,
        job_id=enrolment.job_id,
        object_id=f"{enrolment.customer_id}.{enrolment.enrolment_id}",
        expires_at=clock.now() + timedelta(days=LINK_LIFETIME_DAYS),
    )
    settings = get_settings()
    return f"{settings.public_base_url}/p/plans/{links.sign(claims, settings.link_secrets)}"


def _from_link(token: str) -> tuple[Caller, Enrolment]:
    claims = links.verify(token, LINK_KIND, get_settings().link_secrets, clock.now())
    if claims is None:
        raise NotFound("plan not found")
    customer_id, _, enrolment_id = claims.object_id.partition(".")
    customer = Caller(tenant_id=claims.tenant_id, user_id=CUSTOMER, role=CUSTOMER)
    enrolment = store.get_enrolment(claims.tenant_id, customer_id, enrolment_id)
    if enrolment is None or enrolment.job_id != claims.job_id:
        raise NotFound("plan not found")
    return customer, enrolment


def opened(token: str) -> tuple[Tenant, Enrolment]:
    """The business and the enrolment behind a customer's plan link (404 for anything else)."""
    customer, enrolment = _from_link(token)
    return tenants.get_settings(customer), enrolment


def public_view(token: str) -> dict[str, Any]:
    tenant, enrolment = opened(token)
    return {
        "business_name": tenant.name,
        "plan_name": enrolment.plan_name,
        "status": enrolment.status,
        "price_cents": enrolment.price_cents,
        "currency": enrolment.currency,
        "billing_interval": enrolment.billing_interval,
        "next_bill_on": enrolment.next_bill_on,
    }


def cancel_from_link(token: str) -> dict[str, Any]:
    """The customer cancels from their text's link; cancelling again answers the same."""
    customer, enrolment = _from_link(token)
    if enrolment.is_live:
        cancel(customer, enrolment.customer_id, enrolment.enrolment_id, "cancelled by the customer")
    return public_view(token)
