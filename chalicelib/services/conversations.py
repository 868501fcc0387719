"""Texts customers send back: confirmations, opt-out and opt-in, HELP, and messages for the office.

Carrier keywords follow the CTIA/Twilio lists. Twilio's Advanced Opt-Out answers STOP and START
itself, so we record the change and reply nothing to those.
"""

from __future__ import annotations

from chalicelib.config import get_settings
from chalicelib.domain import clock, templates
from chalicelib.domain.callers import CUSTOMER
from chalicelib.domain.customers import Customer
from chalicelib.domain.ids import new_id
from chalicelib.domain.messages import (
    CONFIRM_WORDS,
    HELP_WORDS,
    Message,
    keyword,
    opt_out_choice,
)
from chalicelib.domain.tenants import Tenant
from chalicelib.domain.timefmt import local_window
from chalicelib.domain.timeline import event
from chalicelib.services import customers as customer_service
from chalicelib.services.common import retrying
from chalicelib.services.messaging import add_message
from chalicelib.store import customers as customer_store
from chalicelib.store import jobs as job_store
from chalicelib.store import keys
from chalicelib.store import tenants as tenant_store
from chalicelib.store.db import ConditionFailed, Transaction
from chalicelib.store.records import get
from chalicelib.store.webhooks import FIRST_DELIVERY, Receipt, receipt_item

UPCOMING = ("scheduled", "dispatched")
ATTEMPTS = 3
DUPLICATE = "duplicate"
_IGNORED = object()  # a text with nobody to go to: nothing is written, not even its receipt


def receive(to: str, from_: str, body: str, sid: str) -> str | None:
    """Handle one inbound text; returns the reply to send, if any. Unknown numbers: no-op.

    Whatever a text changes (an opt-out, a confirmation, the message on the job) commits in one
    transaction with the delivery's receipt: Twilio's retry of a text that failed half-way finds
    nothing done and does it all, and a retry of one that succeeded finds the receipt.
    """
    word = keyword(body)
    if to == get_settings().twilio_default_from:
        return _at_shared_sender(to, from_, word, sid)
    tenant = tenant_store.find_by_sms_number(to)
    if tenant is None:
        return None

    def attempt() -> str | None:
        tx = Transaction()
        tx.put(receipt_item("twilio", sid, "sms"), condition=FIRST_DELIVERY, label=DUPLICATE)
        reply = _handle(tx, tenant, to, from_, word, body, sid)
        if reply is _IGNORED:
            return None
        try:
            tx.commit()
        except ConditionFailed as failed:
            if DUPLICATE in failed.labels and _handled_before(sid):
                return None  # Twilio retried a text we already handled
            raise
        return reply

    return retrying(attempt, ATTEMPTS, reraise=True)


def _handle(tx: Transaction, tenant: Tenant, to: str, from_: str, word: str, body: str, sid: str):
    """Add what the text does to `tx`; returns the reply (None: no reply), or _IGNORED."""
    opted_out = opt_out_choice(word)
    if opted_out is not None:
        # Twilio has already blocked (or unblocked) the pair, customer of ours or not.
        changed = customer_service.record_opt_out(tx, tenant, to, from_, opted_out, "keyword")
        if changed:
            _add_inbound(tx, tenant, changed[0], None, body, sid)
        return None
    customers = customer_store.find_by_phone(tenant.tenant_id, from_)
    if not customers:
        return _IGNORED
    customer = customers[0]
    if word in HELP_WORDS:
        _add_inbound(tx, tenant, customer, None, body, sid)
        return templates.render("help", tenant.templates, _values(tenant, customer))
    if word in CONFIRM_WORDS:
        return _confirm_next_visit(tx, tenant, customer, body, sid)
    _add_inbound(tx, tenant, customer, _most_relevant_open_job(tenant, customer), body, sid)
    return None


def _at_shared_sender(to: str, from_: str, word: str, sid: str) -> None:
    """A text to the shared default sender names no tenant. A STOP there blocks that sender for
    every tenant that texts from it (Twilio blocks the pair), so it is recorded for the pair;
    START lifts it. Anything else has no business to go to."""
    opted_out = opt_out_choice(word)
    if opted_out is None:
        return None
    tx = Transaction()
    tx.put(receipt_item("twilio", sid, "sms"), condition=FIRST_DELIVERY, label=DUPLICATE)
    customer_service.record_opt_out(tx, None, to, from_, opted_out, "keyword")
    try:
        tx.commit()
    except ConditionFailed:
        if not _handled_before(sid):
            raise
    return None


def _handled_before(sid: str) -> bool:
    return get(keys.webhook_dedupe("twilio", sid), Receipt) is not None


def _values(tenant: Tenant, customer: Customer, **more: str) -> dict[str, str]:
    return {
        "first_name": customer.first_name,
        "business_name": tenant.name,
        "business_phone": tenant.phone or "",
        **more,
    }


def _add_inbound(
    tx: Transaction, tenant: Tenant, customer: Customer, job_id: str | None, body: str, sid: str
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
    add_message(tx, tenant.tenant_id, message, CUSTOMER)
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
        # The job's next visits by start time: what is read does not grow with its history.
        page = job_store.visits_page(tenant.tenant_id, job.job_id, clock.iso(now), None, None, 20)
        for found in page.items:
            if found.status in UPCOMING and found.start > now:
                upcoming.append((found.start, job.job_id, found.model_dump(mode="json")))
    if not upcoming:
        return None
    _, job_id, visit = min(upcoming, key=lambda u: u[0])
    return job_id, visit


def _confirm_next_visit(
    tx: Transaction, tenant: Tenant, customer: Customer, body: str, sid: str
) -> str | None:
    found = _next_visit(tenant, customer)
    if found is None:
        _add_inbound(tx, tenant, customer, _most_relevant_open_job(tenant, customer), body, sid)
        return None
    job_id, visit = found
    _add_inbound(tx, tenant, customer, job_id, body, sid)
    _add_confirmation(tx, tenant.tenant_id, job_id, visit["visit_id"], via="sms")
    window = local_window(visit["window_start"], visit["window_end"], visit["timezone"])
    return templates.render(
        "visit_confirmed", tenant.templates, _values(tenant, customer, visit_window=window)
    )


def confirm_visit(tenant_id: str, job_id: str, visit_id: str, via: str) -> None:
    """The customer confirmed a visit: by replying C ("sms") or on the visit page ("page")."""
    tx = Transaction()
    _add_confirmation(tx, tenant_id, job_id, visit_id, via)
    tx.commit()


def _add_confirmation(tx: Transaction, tenant_id: str, job_id: str, visit_id: str, via: str):
    confirmed = event(job_id, "VisitConfirmed", CUSTOMER, visit_id=visit_id, via=via)
    tx.put(job_store.event_item(tenant_id, confirmed), label="VisitConfirmed")
