"""Texts customers send back: confirmations, opt-out and opt-in, HELP, and messages for the office.

Carrier keywords follow the CTIA/Twilio lists. Twilio's Advanced Opt-Out answers STOP and START
itself, so we record the change and reply nothing to those.
"""

from __future__ import annotations

from datetime import datetime

from chalicelib.domain import clock, templates
from chalicelib.domain.callers import CUSTOMER
from chalicelib.domain.customers import Customer
from chalicelib.domain.ids import new_id
from chalicelib.domain.messages import Message
from chalicelib.domain.tenants import Tenant
from chalicelib.domain.timefmt import local_window
from chalicelib.domain.timeline import event
from chalicelib.services.messaging import record_message
from chalicelib.store import customers as customer_store
from chalicelib.store import jobs as job_store
from chalicelib.store import tenants as tenant_store
from chalicelib.store.db import ConditionFailed, Transaction
from chalicelib.store.webhooks import FIRST_DELIVERY, receipt_item

STOP_WORDS = {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "OPTOUT", "REVOKE"}
START_WORDS = {"START", "UNSTOP", "OPTIN"}
HELP_WORDS = {"HELP", "INFO"}
CONFIRM_WORDS = {"C", "Y", "YES", "CONFIRM"}
UPCOMING = ("scheduled", "dispatched")


def receive(to: str, from_: str, body: str, sid: str) -> str | None:
    """Handle one inbound text; returns the reply to send, if any. Unknown numbers: no-op."""
    tenant = tenant_store.find_by_sms_number(to)
    if tenant is None:
        return None
    customers = customer_store.find_by_phone(tenant.tenant_id, from_)
    if not customers:
        return None
    keyword = " ".join(body.split()).upper().rstrip(".!")
    if not _first_delivery(sid):
        return None  # Twilio retried a webhook we already handled
    if keyword in STOP_WORDS or keyword in START_WORDS:
        _set_opt_out(tenant, customers, opted_out=keyword in STOP_WORDS, body=body, sid=sid)
        return None
    customer = customers[0]
    if keyword in HELP_WORDS:
        _record_inbound(tenant, customer, None, body, sid)
        return templates.render("help", tenant.templates, _values(tenant, customer))
    if keyword in CONFIRM_WORDS:
        return _confirm_next_visit(tenant, customer, body, sid)
    job_id = _most_relevant_open_job(tenant, customer)
    _record_inbound(tenant, customer, job_id, body, sid)
    return None


def _first_delivery(sid: str) -> bool:
    tx = Transaction()
    tx.put(receipt_item("twilio", sid, "sms"), condition=FIRST_DELIVERY, label="duplicate")
    try:
        tx.commit()
    except ConditionFailed:
        return False
    return True


def _values(tenant: Tenant, customer: Customer, **more: str) -> dict[str, str]:
    return {
        "first_name": customer.first_name,
        "business_name": tenant.name,
        "business_phone": tenant.phone or "",
        **more,
    }


def _set_opt_out(
    tenant: Tenant, customers: list[Customer], opted_out: bool, body: str, sid: str
) -> None:
    tx = Transaction()
    for customer in customers:
        customer.sms_opted_out = opted_out
        main, phone_entry = customer_store.customer_items(tenant.tenant_id, customer)
        tx.put(main, entity=customer, label="customer")
        tx.put(phone_entry, label="customer phone")
    tx.commit()
    _record_inbound(tenant, customers[0], None, body, sid)


def _record_inbound(
    tenant: Tenant, customer: Customer, job_id: str | None, body: str, sid: str
) -> Message:
    message = Message(
        message_id=new_id(),
        job_id=job_id,
        customer_id=customer.customer_id,
        direction="inbound",
        kind="inbound",
        to=tenant.twilio_from_number or "",
        from_=customer.phone,
        body=body,
        status="received",
        provider_id=sid,
        created_at=clock.now(),
    )
    record_message(tenant.tenant_id, message, CUSTOMER)
    return message


def _open_jobs(tenant: Tenant, customer: Customer):
    page = job_store.list_customer_jobs(tenant.tenant_id, customer.customer_id, None, None, 20)
    return [job for job in page.items if job.is_open]


def _most_relevant_open_job(tenant: Tenant, customer: Customer) -> str | None:
    """The open job touched most recently: what the customer is most likely answering."""
    jobs = sorted(_open_jobs(tenant, customer), key=lambda j: j.updated_at, reverse=True)
    return jobs[0].job_id if jobs else None


def _next_visit(tenant: Tenant, customer: Customer) -> tuple[str, dict] | None:
    now = clock.now()
    upcoming = []
    for job in _open_jobs(tenant, customer):
        collection = job_store.load_collection(tenant.tenant_id, job.job_id)
        for item in collection.by_type.get("visit", []):
            visit = item.data.as_dict()
            start = datetime.fromisoformat(visit["start"].replace("Z", "+00:00"))
            if visit.get("status") in UPCOMING and start > now:
                upcoming.append((start, job.job_id, visit))
    if not upcoming:
        return None
    _, job_id, visit = min(upcoming, key=lambda u: u[0])
    return job_id, visit


def _confirm_next_visit(tenant: Tenant, customer: Customer, body: str, sid: str) -> str | None:
    found = _next_visit(tenant, customer)
    if found is None:
        job_id = _most_relevant_open_job(tenant, customer)
        _record_inbound(tenant, customer, job_id, body, sid)
        return None
    job_id, visit = found
    _record_inbound(tenant, customer, job_id, body, sid)
    confirm_visit(tenant.tenant_id, job_id, visit["visit_id"], via="sms")
    window = local_window(visit["window_start"], visit["window_end"], visit["timezone"])
    return templates.render(
        "visit_confirmed", tenant.templates, _values(tenant, customer, visit_window=window)
    )


def confirm_visit(tenant_id: str, job_id: str, visit_id: str, via: str) -> None:
    """The customer confirmed a visit: by replying C ("sms") or on the visit page ("page")."""
    confirmed = event(job_id, "VisitConfirmed", CUSTOMER, visit_id=visit_id, via=via)
    tx = Transaction()
    tx.put(job_store.event_item(tenant_id, confirmed), label="VisitConfirmed")
    tx.commit()
