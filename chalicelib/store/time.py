"""Time entries, and the marker of a technician's open shift."""

from __future__ import annotations

from datetime import datetime

from chalicelib.domain import clock
from chalicelib.domain.timesheets import TimeEntry
from chalicelib.store import db, keys
from chalicelib.store.db import Transaction
from chalicelib.store.models import Item
from chalicelib.store.records import entity, get, record


def entry_item(tenant_id: str, entry: TimeEntry) -> Item:
    return record(
        keys.time_entry(tenant_id, entry.entry_id),
        "time_entry",
        tenant_id,
        entry,
        gsi2=(
            keys.tenant_time_index(tenant_id),
            keys.time_sort(clock.iso(entry.start), entry.entry_id),
        ),
    )


def get_entry(tenant_id: str, entry_id: str) -> TimeEntry | None:
    return get(keys.time_entry(tenant_id, entry_id), TimeEntry)


def entries_starting_between(tenant_id: str, low: datetime, high: datetime) -> list[TimeEntry]:
    """Entries that start in [low, high) (GSI2, one Query paged by DynamoDB; eventually
    consistent, as every index read is)."""
    condition = Item.gsi2sk.between(keys.time_sort(clock.iso(low)), keys.time_sort(clock.iso(high)))
    with db.translate_errors():
        items = Item.gsi2.query(keys.tenant_time_index(tenant_id), condition)
        return [entity(item, TimeEntry) for item in items]


def open_shift_id(tenant_id: str, user_id: str) -> str | None:
    key = keys.open_clock(tenant_id, user_id)
    with db.translate_errors():
        try:
            return Item.get(key.pk, key.sk, consistent_read=True).data["entry_id"]
        except Item.DoesNotExist:
            return None


def open_shift(tx: Transaction, tenant_id: str, user_id: str, entry_id: str) -> None:
    """The marker of an open shift; the transaction fails if one is already open."""
    key = keys.open_clock(tenant_id, user_id)
    item = Item(key.pk, key.sk, type="open_clock", tenant_id=tenant_id, data={"entry_id": entry_id})
    tx.put(item, Item.pk.does_not_exist(), label="clocked in")


def close_shift(tx: Transaction, tenant_id: str, user_id: str) -> None:
    key = keys.open_clock(tenant_id, user_id)
    tx.delete(key.pk, key.sk, Item.pk.exists(), label="clocked in")
