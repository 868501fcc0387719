"""The one place every outbound text passes through: opt-out, templates, send with retries,
and the record on the job (message item + timeline event)."""

from __future__ import annotations

import time

from chalicelib.config import get_settings
from chalicelib.domain import clock, templates
from chalicelib.domain.customers import Customer
from chalicelib.domain.ids import new_id
from chalicelib.domain.messages import Message
from chalicelib.domain.tenants import Tenant
from chalicelib.domain.timeline import event
from chalicelib.integrations.sms import SmsFailed, gateway
from chalicelib.logs import logger
from chalicelib.services import customers
from chalicelib.store import jobs as job_store
from chalicelib.store import messages as message_store
from chalicelib.store.db import ConditionFailed, Transaction
from chalicelib.store.records import Page

SEND_ATTEMPTS = 3
BACKOFF_SECONDS = 0.25  # doubled each retry; Lambda time is money, so the budget stays short


def text_customer(
    tenant: Tenant, customer: Customer, job_id: str | None, kind: str, body: str, actor: str
) -> Message:
    """Text the customer (unless they opted out) and record the message on the job.

    A failed send is recorded as failed (the office sees it) rather than raised: the change
    that prompted the text has already happened and must not be undone by a carrier. A text
    the carrier refuses because the phone opted out (Twilio 21610: a STOP we never saw) is
    recorded as suppressed, together with the opt-out, so the next one is not even tried.
    """
    message = new_message(tenant, customer, job_id, kind, body)
    message.error = _suppression_reason(customer, message)
    if message.error:
        message.status = "suppressed"
        record_message(tenant.tenant_id, message, actor)
    elif send(message):
        _record_refused(tenant, message, actor)
    else:
        record_message(tenant.tenant_id, message, actor)
    return message


def _suppression_reason(customer: Customer, message: Message) -> str | None:
    if customer.sms_opted_out:
        return "the customer opted out of texts"
    if customers.opted_out_of(message.from_, message.to):
        return f"the customer opted out of texts from {message.from_}"
    return None


def _record_refused(tenant: Tenant, message: Message, actor: str) -> None:
    """The message and the opt-out the carrier told us of, in one transaction."""
    for attempt in range(1, SEND_ATTEMPTS + 1):
        tx = Transaction()
        customers.record_opt_out(tx, tenant, message.from_, message.to, True, "carrier")
        add_message(tx, tenant.tenant_id, message, actor)
        try:
            tx.commit()
            return
        except ConditionFailed:
            if attempt == SEND_ATTEMPTS:
                raise  # a customer rewritten again and again: the task or request is retried


def text_from_template(
    tenant: Tenant,
    customer: Customer,
    job_id: str | None,
    kind: str,
    values: dict[str, str],
    actor: str,
) -> Message:
    """The usual way to text: the tenant's template for `kind`, filled with `values`."""
    values = {
        "first_name": customer.first_name,
        "business_name": tenant.name,
        "business_phone": tenant.phone or "",
        **values,
    }
    body = templates.render(kind, tenant.templates, values)
    return text_customer(tenant, customer, job_id, kind, body, actor)


def notify_customer(
    tenant: Tenant,
    customer: Customer,
    job_id: str,
    kind: str,
    values: dict[str, str],
    actor: str,
    subject: str,
) -> Message:
    """Text the customer from the tenant's template, and email the same words when they have
    an address (quotes and invoices)."""
    message = text_from_template(tenant, customer, job_id, kind, values, actor)
    email_customer(tenant, customer, job_id, kind, subject, message.body, actor)
    return message


def new_message(
    tenant: Tenant, customer: Customer, job_id: str | None, kind: str, body: str
) -> Message:
    return Message(
        message_id=new_id(),
        job_id=job_id,
        customer_id=customer.customer_id,
        kind=kind,
        to=customer.phone,
        from_=tenant.twilio_from_number or get_settings().twilio_default_from,
        body=body,
        created_at=clock.now(),
    )


def send(message: Message) -> bool:
    """Send with a short exponential backoff on transient failures; permanent ones fail now.

    Returns True when the carrier refused because the recipient opted out (not retried: only
    the recipient's START lifts it); the message is then `suppressed`, with the reason.
    """
    callback = f"{get_settings().public_base_url}/webhooks/twilio/status"
    for attempt in range(1, SEND_ATTEMPTS + 1):
        try:
            message.provider_id = gateway().send(message.to, message.from_, message.body, callback)
            message.status = "sent"
            return False
        except SmsFailed as exc:
            message.status, message.error = "failed", str(exc)
            logger.warning("text not sent", extra={"kind": message.kind, "attempt": attempt})
            if exc.recipient_opted_out:
                message.status = "suppressed"
                return True
            if not exc.retryable or attempt == SEND_ATTEMPTS:
                return False
            time.sleep(BACKOFF_SECONDS * 2 ** (attempt - 1))
    return False


def record_message(tenant_id: str, message: Message, actor: str) -> None:
    tx = Transaction()
    add_message(tx, tenant_id, message, actor)
    tx.commit()


def add_message(tx: Transaction, tenant_id: str, message: Message, actor: str) -> None:
    """The message and, on a job, its timeline event, as writes of `tx`."""
    tx.put(message_store.message_item(tenant_id, message), entity=message, label="message")
    if message.job_id:
        evt = message_event(message, actor)
        tx.put(job_store.event_item(tenant_id, evt), label=evt.type)


EVENT_BY_STATUS = {
    "failed": "MessageFailed",
    "undelivered": "MessageFailed",
    "suppressed": "MessageSuppressed",
    "received": "MessageReceived",
}


def message_event(message: Message, actor: str):
    return event(
        message.job_id,
        EVENT_BY_STATUS.get(message.status, "MessageSent"),
        actor,
        message_id=message.message_id,
        kind=message.kind,
        status=message.status,
        error=message.error,
    )


def by_status(caller, status: str, cursor: str | None, limit: int) -> Page:
    return message_store.messages_page(caller.tenant_id, status, cursor, limit)


def email_customer(
    tenant: Tenant,
    customer: Customer,
    job_id: str | None,
    kind: str,
    subject: str,
    text: str,
    actor: str,
) -> Message | None:
    """Email the customer (plain text and HTML) when they have an address; recorded like a text."""
    from html import escape

    from chalicelib.integrations.email import EmailFailed, send_email

    if not customer.email:
        return None
    message = new_message(tenant, customer, job_id, kind, text)
    message.channel, message.to, message.from_ = "email", customer.email, tenant.email
    html = "".join(f"<p>{escape(line)}</p>" for line in text.split("\n") if line)
    try:
        send_email(customer.email, subject, text, html, tenant.email)
        message.status = "sent"
    except EmailFailed as exc:
        message.status, message.error = "failed", str(exc)
    record_message(tenant.tenant_id, message, actor)
    return message


def text_person(tenant: Tenant, to: str, kind: str, body: str) -> str:
    """Text someone who is not a customer (a team member's invitation): the same opt-out check
    and retries, recorded on no job. Returns the message's status."""
    message = Message(
        message_id=new_id(),
        kind=kind,
        to=to,
        from_=tenant.twilio_from_number or get_settings().twilio_default_from,
        body=body,
        created_at=clock.now(),
    )
    if customers.opted_out_of(message.from_, to):
        return "suppressed"
    send(message)
    return message.status
