"""Jobs and their item collection: header, children and timeline under one partition key."""

from __future__ import annotations

from datetime import datetime
from typing import TypeVar

from pydantic import BaseModel

from chalicelib.domain.clock import iso
from chalicelib.domain.jobs import Job
from chalicelib.domain.timeline import TimelineEvent
from chalicelib.domain.visits import Tally, Visit
from chalicelib.store import keys
from chalicelib.store.db import Transaction
from chalicelib.store.models import Item
from chalicelib.store.records import (
    Page,
    batch_get,
    entity,
    get,
    page,
    partition,
    partition_between,
    record,
)

E = TypeVar("E", bound=BaseModel)


def job_item(tenant_id: str, job: Job) -> Item:
    return record(
        keys.job(tenant_id, job.job_id),
        "job",
        tenant_id,
        job,
        gsi1=(
            keys.jobs_index(tenant_id),
            keys.jobs_by_stage_sort(job.stage, iso(job.updated_at), job.job_id),
        ),
        gsi2=(
            keys.customer_jobs_index(tenant_id, job.customer_id),
            keys.customer_jobs_sort(iso(job.created_at), job.job_id),
        ),
    )


def event_item(tenant_id: str, evt: TimelineEvent) -> Item:
    key = keys.timeline_event(tenant_id, evt.job_id, iso(evt.at), evt.event_id)
    return record(key, "event", tenant_id, evt)


def child_item(tenant_id: str, job_id: str, kind: str, child_id: str, child: BaseModel, **index):
    """A quote, visit, invoice, payment, note, photo or message in the job's collection."""
    key = keys.job_child(tenant_id, job_id, kind, child_id)
    return record(key, kind.lower(), tenant_id, child, **index)


def get_job(tenant_id: str, job_id: str) -> Job | None:
    return get(keys.job(tenant_id, job_id), Job)


def existing_jobs(tenant_id: str, job_ids: list[str]) -> set[str]:
    """Which of these job ids the tenant has (BatchGetItem, strongly consistent)."""
    found = batch_get([keys.job(tenant_id, job_id) for job_id in job_ids], consistent=True)
    return {item.data["job_id"] for item in found}


def check_unchanged(tx: Transaction, tenant_id: str, job: Job) -> None:
    """Add to `tx` that the job's header is still at the version read, without rewriting it."""
    key = keys.job(tenant_id, job.job_id)
    tx.check(key.pk, key.sk, Item.version == job.version, label="job")


class JobCollection:
    """A job as one operation reads it: the header (GetItem), then each kind of child on first
    use by its own sort-key prefix, strongly consistent. A payment never reads the visits, a
    visit's status change never the timeline: what an operation costs does not grow with the
    job's history. Writes stay guarded by the versions of what was read."""

    def __init__(self, tenant_id: str, job_id: str):
        self.tenant_id, self.job_id = tenant_id, job_id
        self._header = get_job(tenant_id, job_id)
        self._kinds: dict[str, list[Item]] = {}
        self._tally: Tally | None = None

    def header(self) -> Job | None:
        return self._header

    def children(self, type_: str, cls: type[E]) -> list[E]:
        return [entity(item, cls) for item in self._items(type_)]

    def child(self, type_: str, child_id: str, cls: type[E]) -> E | None:
        """One child by its id: a GetItem (or what an earlier read of its kind found)."""
        sk = keys.CHILD_PREFIXES[type_] + child_id
        if type_ in self._kinds:
            found = next((item for item in self._kinds[type_] if item.sk == sk), None)
            return entity(found, cls) if found is not None else None
        return get(keys.Key(keys.job_partition(self.tenant_id, self.job_id), sk), cls)

    def tally(self) -> Tally:
        """The job's visit counts; a job stored before they were kept is counted once."""
        if self._tally is None:
            self._tally = get(keys.job_tally(self.tenant_id, self.job_id), Tally)
        if self._tally is None:
            self._tally = Tally.of(self.children("visit", Visit))
        return self._tally

    def _items(self, type_: str) -> list[Item]:
        if type_ not in self._kinds:
            pk = keys.job_partition(self.tenant_id, self.job_id)
            self._kinds[type_] = partition(pk, keys.CHILD_PREFIXES[type_])
        return self._kinds[type_]


def tally_item(tenant_id: str, job_id: str, tally: Tally) -> Item:
    return record(keys.job_tally(tenant_id, job_id), "tally", tenant_id, tally)


def load_collection(tenant_id: str, job_id: str) -> JobCollection:
    return JobCollection(tenant_id, job_id)


def visits_page(
    tenant_id: str,
    job_id: str,
    start_from: str | None,
    start_to: str | None,
    cursor: str | None,
    limit: int,
) -> Page:
    """A job's visits by start time, one page at a time (GSI2)."""
    condition = None
    if start_from and start_to:
        condition = Item.gsi2sk.between(start_from, start_to + "~")
    elif start_from:
        condition = Item.gsi2sk >= start_from
    elif start_to:
        condition = Item.gsi2sk <= start_to + "~"
    items, next_cursor = page(
        Item.gsi2, keys.job_visits_index(tenant_id, job_id), condition, tenant_id, cursor, limit
    )
    return Page([entity(item, Visit) for item in items], next_cursor)


def events_since(tenant_id: str, job_id: str, moment: datetime) -> list[TimelineEvent]:
    """The timeline from a moment on (its keys sort by time): a visit's answers since it last
    changed, without reading the job's whole history."""
    pk, low = keys.job_partition(tenant_id, job_id), keys.TIMELINE_PREFIX + iso(moment)
    items = partition_between(pk, low, keys.TIMELINE_PREFIX + "~")
    return [entity(item, TimelineEvent) for item in items]


def latest(tenant_id: str, job_id: str, type_: str, cls: type[E], limit: int) -> list[E]:
    """The newest children of one kind (ids sort by time), newest first."""
    items, _ = page(
        None,
        keys.job_partition(tenant_id, job_id),
        Item.sk.startswith(keys.CHILD_PREFIXES[type_]),
        tenant_id,
        None,
        limit,
        newest_first=True,
    )
    return [entity(item, cls) for item in items]


def children_page(
    tenant_id: str, job_id: str, type_: str, cls: type[E], cursor: str | None, limit: int
) -> Page:
    items, next_cursor = page(
        None,
        keys.job_partition(tenant_id, job_id),
        Item.sk.startswith(keys.CHILD_PREFIXES[type_]),
        tenant_id,
        cursor,
        limit,
    )
    return Page([entity(item, cls) for item in items], next_cursor)


def list_jobs(tenant_id: str, stage: str | None, cursor: str | None, limit: int) -> Page:
    prefix = keys.jobs_by_stage_sort(stage) if stage else "STAGE#"
    items, next_cursor = page(
        Item.gsi1,
        keys.jobs_index(tenant_id),
        Item.gsi1sk.startswith(prefix),
        tenant_id,
        cursor,
        limit,
        newest_first=True,
    )
    return Page([entity(item, Job) for item in items], next_cursor)


def list_customer_jobs(
    tenant_id: str, customer_id: str, stage: str | None, cursor: str | None, limit: int
) -> Page:
    items, next_cursor = page(
        Item.gsi2,
        keys.customer_jobs_index(tenant_id, customer_id),
        Item.gsi2sk.startswith(keys.customer_jobs_sort()),
        tenant_id,
        cursor,
        limit,
        newest_first=True,
        filter_condition=(Item.data["stage"] == stage) if stage else None,
    )
    return Page([entity(item, Job) for item in items], next_cursor)


def timeline_page(tenant_id: str, job_id: str, cursor: str | None, limit: int) -> Page:
    items, next_cursor = page(
        None,
        keys.job_partition(tenant_id, job_id),
        Item.sk.startswith(keys.TIMELINE_PREFIX),
        tenant_id,
        cursor,
        limit,
    )
    return Page([entity(item, TimelineEvent) for item in items], next_cursor)
