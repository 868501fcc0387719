"""Recurring visits' series: the rule, and the index of series with visits still to write."""

from __future__ import annotations

from chalicelib.domain.clock import iso
from chalicelib.domain.recurrence import Series
from chalicelib.store import db, keys
from chalicelib.store.models import Item
from chalicelib.store.records import entity, get, record


def series_item(tenant_id: str, series: Series) -> Item:
    """Indexed for the nightly extension while it has visits to write."""
    to_extend = None
    if not series.ended:
        written = iso(series.written_until)
        sort = keys.series_extend_sort(written, tenant_id, series.series_id)
        to_extend = (keys.SERIES_TO_EXTEND, sort)
    key = keys.series(tenant_id, series.job_id, series.series_id)
    return record(key, "series", tenant_id, series, gsi1=to_extend)


def get_series(tenant_id: str, job_id: str, series_id: str) -> Series | None:
    return get(keys.series(tenant_id, job_id, series_id), Series)


def to_extend(written_before_iso: str, limit: int = 500) -> list[tuple[str, Series]]:
    """Series whose visits are written only up to before this moment, oldest horizon first."""
    condition = Item.gsi1sk < keys.series_extend_sort(written_before_iso)
    with db.translate_errors():
        found = Item.gsi1.query(keys.SERIES_TO_EXTEND, condition, limit=limit)
        return [(item.tenant_id, entity(item, Series)) for item in found]
