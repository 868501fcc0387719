"""Receipts of webhook deliveries: put with a does-not-exist condition in the same transaction
as the change a delivery causes, so a provider's retry changes nothing the second time."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from chalicelib.domain import clock
from chalicelib.store import keys
from chalicelib.store.models import Item
from chalicelib.store.records import record

# Stripe retries for three days and Twilio for less: a month covers both with room.
RECEIPT_DAYS = 30


class Receipt(BaseModel):
    provider: str
    event_id: str
    type: str
    received_at: datetime


def receipt_item(provider: str, event_id: str, type_: str) -> Item:
    receipt = Receipt(provider=provider, event_id=event_id, type=type_, received_at=clock.now())
    expires = int(clock.now().timestamp()) + RECEIPT_DAYS * 86400
    return record(
        keys.webhook_dedupe(provider, event_id), "webhook_event", None, receipt, ttl=expires
    )


FIRST_DELIVERY = Item.pk.does_not_exist()
