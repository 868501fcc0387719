"""Jobs and their item collection: header, children and timeline under one partition key."""

from __future__ import annotations

from collections import defaultdict
from typing import TypeVar

from pydantic import BaseModel

from chalicelib.domain.clock import iso
from chalicelib.domain.jobs import Job
from chalicelib.domain.timeline import TimelineEvent
from chalicelib.store import keys
from chalicelib.store.models import Item
from chalicelib.store.records import Page, entity, get, page, partition, record

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


class JobCollection:
    """Everything stored under one job, read with one query, grouped by item type."""

    def __init__(self, items: list[Item]):
        self.by_type: dict[str, list[Item]] = defaultdict(list)
        for item in items:
            self.by_type[item.type].append(item)

    def header(self) -> Job | None:
        jobs = self.by_type.get("job")
        return entity(jobs[0], Job) if jobs else None

    def children(self, type_: str, cls: type[E]) -> list[E]:
        return [entity(item, cls) for item in self.by_type.get(type_, [])]


def load_collection(tenant_id: str, job_id: str) -> JobCollection:
    return JobCollection(partition(keys.job_partition(tenant_id, job_id)))


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
