"""The one place every outbound text passes through: send, then record it on the job."""

from __future__ import annotations

from chalicelib.config import get_settings
from chalicelib.domain import clock
from chalicelib.domain.customers import Customer
from chalicelib.domain.ids import new_id
from chalicelib.domain.messages import Message
from chalicelib.domain.tenants import Tenant
from chalicelib.domain.timeline import event
from chalicelib.integrations.sms import SmsFailed, gateway
from chalicelib.logs import logger
from chalicelib.store import jobs as job_store
from chalicelib.store import keys
from chalicelib.store.db import Transaction
from chalicelib.store.records import record


def text_customer(
    tenant: Tenant, customer: Customer, job_id: str | None, kind: str, body: str, actor: str
) -> Message:
    """Text the customer and record the message and its timeline event together.

    A failed send is recorded as failed (the office sees it) rather than raised: the change
    that prompted the text has already happened and must not be undone by a carrier.
    """
    settings = get_settings()
    message = Message(
        message_id=new_id(),
        job_id=job_id,
        customer_id=customer.customer_id,
        kind=kind,
        to=customer.phone,
        from_=tenant.twilio_from_number or settings.twilio_default_from,
        body=body,
        created_at=clock.now(),
    )
    try:
        message.provider_id = gateway().send(
            message.to, message.from_, body, f"{settings.public_base_url}/webhooks/twilio/status"
        )
        message.status = "sent"
    except SmsFailed as exc:
        logger.warning("text not sent", extra={"kind": kind, "error": str(exc)})
        message.status, message.error = "failed", str(exc)
    record_message(tenant.tenant_id, message, actor)
    return message


def record_message(tenant_id: str, message: Message, actor: str) -> None:
    tx = Transaction()
    tx.put(message_item(tenant_id, message), entity=message, label="message")
    if message.job_id:
        type_ = "MessageSent" if message.status != "failed" else "MessageFailed"
        evt = event(
            message.job_id,
            type_,
            actor,
            message_id=message.message_id,
            kind=message.kind,
            status=message.status,
        )
        tx.put(job_store.event_item(tenant_id, evt), label=type_)
    tx.commit()


def message_item(tenant_id: str, message: Message):
    if message.job_id:
        at = clock.iso(message.created_at)
        key = keys.job_message(tenant_id, message.job_id, at, message.message_id)
    else:
        key = keys.customer_message(tenant_id, message.customer_id, message.message_id)
    gsi2 = (keys.twilio_message_index(message.provider_id), "MSG") if message.provider_id else None
    return record(key, "message", tenant_id, message, gsi2=gsi2)
