"""The customer's plan page (linked from plan texts): what they pay and when, and a button to
cancel. A plain form, no script; the post is redirected back to the page (303)."""

from __future__ import annotations

from chalice import Response

from chalicelib.domain.currencies import format_money
from chalicelib.domain.errors import NotFound
from chalicelib.pages.render import document, not_found, page, redirect
from chalicelib.services import plans

PER = {"month": "a month", "year": "a year"}


def show(token: str) -> Response:
    try:
        tenant, enrolment = plans.opened(token)
    except NotFound:
        return not_found("../")
    return page(
        document(
            "plan.html",
            f"Your plan: {enrolment.plan_name}",
            business=tenant.name,
            logo_url=tenant.logo_url,
            phone=tenant.phone,
            token=token,
            plan_name=enrolment.plan_name,
            price=f"{format_money(enrolment.price_cents, enrolment.currency, tenant.locale)} "
            f"{PER[enrolment.billing_interval]}",
            next_bill_on=f"{enrolment.next_bill_on:%b} {enrolment.next_bill_on.day}, "
            f"{enrolment.next_bill_on.year}",
            status=enrolment.status,
        )
    )


def cancel(token: str) -> Response:
    try:
        plans.cancel_from_link(token)
    except NotFound:
        return not_found("../../")
    return redirect(f"../{token}")
