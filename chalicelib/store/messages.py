"""Texts and emails: on their job's timeline (or the customer's, with no job), indexed by
status for the office and by the carrier's id for its delivery callbacks."""

from __future__ import annotations

from chalicelib.domain import clock
from chalicelib.domain.messages import Message
from chalicelib.store import db, keys
from chalicelib.store.models import Item
from chalicelib.store.records import Page, entity, page, record


def message_item(tenant_id: str, message: Message) -> Item:
    at = clock.iso(message.created_at)
    if message.job_id:
        key = keys.job_message(tenant_id, message.job_id, at, message.message_id)
    else:
        key = keys.customer_message(tenant_id, message.customer_id, message.message_id)
    gsi1 = (
        keys.messages_by_status_index(tenant_id, message.status),
        keys.message_status_sort(at, message.message_id),
    )
    gsi2 = None
    if message.provider_id:
        gsi2 = (keys.twilio_message_index(message.provider_id), keys.TWILIO_MESSAGE_SORT)
    return record(key, "message", tenant_id, message, gsi1=gsi1, gsi2=gsi2)


def messages_page(tenant_id: str, status: str, cursor: str | None, limit: int) -> Page:
    """A tenant's messages of one status, newest first (GSI1)."""
    items, next_cursor = page(
        Item.gsi1,
        keys.messages_by_status_index(tenant_id, status),
        None,
        tenant_id,
        cursor,
        limit,
        newest_first=True,
    )
    return Page([entity(item, Message) for item in items], next_cursor)


def message_by_provider_id(sid: str) -> tuple[str, Message] | None:
    """The tenant and the message the carrier knows by `sid` (GSI2, eventually consistent)."""
    with db.translate_errors():
        found = list(Item.gsi2.query(keys.twilio_message_index(sid), limit=1))
    if not found:
        return None
    return found[0].tenant_id, entity(found[0], Message)
