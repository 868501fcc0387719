"""Texts (and later emails) exchanged with customers, recorded on the job."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

# Delivery moves forward only: a late 'sent' never undoes 'delivered'.
STATUS_ORDER = {
    "suppressed": 0,
    "queued": 1,
    "sending": 2,
    "sent": 3,
    "delivered": 4,
    "undelivered": 4,
    "failed": 4,
    "received": 4,
}


class Message(BaseModel):
    message_id: str
    job_id: str | None = None
    customer_id: str | None = None
    direction: str = "outbound"
    channel: str = "sms"
    kind: str  # quote_link, invoice_link, on_my_way, reminder, dunning, reply, inbound
    to: str
    from_: str | None = None
    body: str
    status: str = "queued"
    provider_id: str | None = None
    error: str | None = None
    created_at: datetime
    version: int | None = None
