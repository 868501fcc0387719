"""Delivery status callbacks from Twilio: a message's status only ever moves forward."""

from __future__ import annotations

from chalicelib.domain.callers import SYSTEM
from chalicelib.domain.messages import STATUS_ORDER
from chalicelib.services.messaging import message_event
from chalicelib.store import jobs as job_store
from chalicelib.store import messages as message_store
from chalicelib.store.db import Transaction

FAILED = ("failed", "undelivered")


def update_status(sid: str, status: str, error_code: str | None) -> None:
    found = message_store.message_by_provider_id(sid)
    if found is None or status not in STATUS_ORDER:
        return  # not ours, or a status we don't track (e.g. 'read'): acknowledge and move on
    tenant_id, message = found
    if STATUS_ORDER[status] <= STATUS_ORDER.get(message.status, 0):
        return  # a late or repeated callback never moves a message backwards
    message.status = status
    if error_code:
        message.error = f"twilio error {error_code}"
    tx = Transaction()
    tx.put(message_store.message_item(tenant_id, message), entity=message, label="message")
    if status in FAILED and message.job_id:
        failed = message_event(message, SYSTEM)
        tx.put(job_store.event_item(tenant_id, failed), label=failed.type)
    tx.commit()
