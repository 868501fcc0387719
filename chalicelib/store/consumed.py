"""That a consumer of the event bus has handled a timeline event: claimed before acting, so a
duplicate delivery does nothing; released when acting failed, so the retry acts."""

from __future__ import annotations

from datetime import datetime

from chalicelib.store import keys
from chalicelib.store.db import ConditionFailed, translate_errors
from chalicelib.store.models import Item


def claim(tenant_id: str, consumer: str, event_id: str, expires: datetime) -> bool:
    """True for the first claim of this event by this consumer; False for a duplicate."""
    key = keys.consumed_event(tenant_id, consumer, event_id)
    item = Item(key.pk, key.sk, type="consumed", tenant_id=tenant_id, ttl=expires)
    try:
        with translate_errors(["claim"]):
            item.save(condition=Item.pk.does_not_exist())
    except ConditionFailed:
        return False
    return True


def release(tenant_id: str, consumer: str, event_id: str) -> None:
    key = keys.consumed_event(tenant_id, consumer, event_id)
    with translate_errors(["claim"]):
        Item(key.pk, key.sk).delete(add_version_condition=False)
