"""Leads and jobs: create, find, read with everything in them, change, annotate (closing a job
and its work is services/closing.py)."""

from __future__ import annotations

from typing import Any

from chalicelib.domain import clock
from chalicelib.domain import invoices as invoice_rules
from chalicelib.domain import jobs as rules
from chalicelib.domain.callers import Caller
from chalicelib.domain.errors import NotFound
from chalicelib.domain.ids import new_id
from chalicelib.domain.invoices import Invoice
from chalicelib.domain.jobs import Job
from chalicelib.domain.notes import Note
from chalicelib.domain.quotes import Quote, current_quote, office_view
from chalicelib.domain.timeline import TimelineEvent, event
from chalicelib.domain.visits import Visit
from chalicelib.services import customers, tenants
from chalicelib.services.common import check_version, found
from chalicelib.store import jobs as store
from chalicelib.store.db import Transaction
from chalicelib.store.jobs import JobCollection
from chalicelib.store.records import Page


def save(tx: Transaction, caller: Caller, job: Job, *events: TimelineEvent | None) -> Transaction:
    """Queue the job header and its timeline events: they commit together or not at all."""
    tx.put(store.job_item(caller.tenant_id, job), label="job", entity=job)
    for evt in events:
        if evt is not None:
            tx.put(store.event_item(caller.tenant_id, evt), label=evt.type)
    return tx


def create_lead(caller: Caller, fields: dict[str, Any]) -> Job:
    tenant = tenants.get_settings(caller)
    tx = Transaction()
    customer_fields = fields.pop("customer", None)
    if customer_fields is not None:
        customer = customers.new_customer(customer_fields, tenant.country)
        customers.add_to(tx, caller, customer)
        fields["customer_id"] = customer.customer_id
    else:
        customers.get(caller, fields["customer_id"])
    fields["currency"] = tenant.currency
    job, created = rules.new_lead(new_id(), actor=caller.user_id, **fields)
    save(tx, caller, job, created).commit()
    return job


def load(caller: Caller, job_id: str) -> JobCollection:
    """The job's whole collection in one query; 404 unless the caller may see it."""
    collection = store.load_collection(caller.tenant_id, job_id)
    if collection.header() is None or not may_see(caller, collection):
        raise NotFound("job not found")
    return collection


def may_see(caller: Caller, collection: JobCollection) -> bool:
    """Technicians see only jobs they have a visit on."""
    if not caller.is_technician:
        return True
    return any(
        caller.user_id in item.data.as_dict().get("technician_ids", [])
        for item in collection.by_type.get("visit", [])
    )


def get(caller: Caller, job_id: str) -> Job:
    return found(load(caller, job_id).header(), "job")


def detail(caller: Caller, job_id: str) -> dict[str, Any]:
    """The job as a client shows it: header, quote, visits, invoices, notes and balance."""
    collection = load(caller, job_id)
    job = collection.header()
    invoices = sorted(collection.children("invoice", Invoice), key=lambda i: i.invoice_id)
    quote = current_quote(collection.children("quote", Quote))
    return {
        **job.model_dump(),
        "quote": office_view(quote, with_prices=not caller.is_technician) if quote else None,
        "balance_cents": invoice_rules.outstanding_cents(invoices),
        "owed_back_cents": sum(i.owed_back_cents for i in invoices),
        "notes": [n.model_dump(mode="json") for n in collection.children("note", Note)],
        "visits": [
            v.model_dump(mode="json")
            for v in sorted(collection.children("visit", Visit), key=lambda v: v.start)
        ],
        "invoices": [invoice_rules.summary(i, clock.now()) for i in invoices],
    }


def list_jobs(
    caller: Caller, stage: str | None, customer_id: str | None, cursor: str | None, limit: int
) -> Page:
    if customer_id:
        return store.list_customer_jobs(caller.tenant_id, customer_id, stage, cursor, limit)
    return store.list_jobs(caller.tenant_id, stage, cursor, limit)


def update(caller: Caller, job_id: str, changes: dict[str, Any], if_match: int | None) -> Job:
    job = get(caller, job_id)
    check_version(job.version, if_match)
    # Validated as a whole: a null title or priority is a 422, never a job saved without one.
    job = Job.model_validate({**job.model_dump(), **changes})
    rules.touch(job)
    changed = event(job_id, "JobUpdated", caller.user_id, fields=sorted(changes))
    save(Transaction(), caller, job, changed).commit()
    return job


def add_note(caller: Caller, job_id: str, text: str) -> Note:
    job = get(caller, job_id)
    note = Note(
        note_id=new_id(), job_id=job_id, text=text, author_id=caller.user_id, created_at=clock.now()
    )
    rules.touch(job)
    added = event(job_id, "NoteAdded", caller.user_id, note_id=note.note_id)
    tx = Transaction()
    tx.put(store.child_item(caller.tenant_id, job_id, "NOTE", note.note_id, note), entity=note)
    save(tx, caller, job, added).commit()
    return note


def timeline(caller: Caller, job_id: str, cursor: str | None, limit: int) -> Page:
    load(caller, job_id)
    return store.timeline_page(caller.tenant_id, job_id, cursor, limit)
