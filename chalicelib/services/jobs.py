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
from chalicelib.domain.visits import Tally, Visit
from chalicelib.services import customers, tenants
from chalicelib.services.common import check_version, found, retrying
from chalicelib.store import jobs as store
from chalicelib.store.db import Transaction
from chalicelib.store.jobs import JobCollection
from chalicelib.store.records import Page


def save(tx: Transaction, caller: Caller, job: Job, *events: TimelineEvent | None) -> Transaction:
    """Queue the job header and its timeline events: they commit together or not at all."""
    tx.put(store.job_item(caller.tenant_id, job), label="job", entity=job)
    return record_events(tx, caller, *events)


def record_events(tx: Transaction, caller: Caller, *events: TimelineEvent | None) -> Transaction:
    """Queue timeline events alone: a change that leaves the job's own fields as they were
    (a note, a visit's status) does not rewrite the header, so it races nobody."""
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
    tally = Tally()
    tx.put(store.tally_item(caller.tenant_id, job.job_id, tally), entity=tally)
    save(tx, caller, job, created).commit()
    return job


def load(caller: Caller, job_id: str) -> JobCollection:
    """The job's header (its children are read as they are asked for); 404 unless the caller
    may see it."""
    collection = store.load_collection(caller.tenant_id, job_id)
    if collection.header() is None or not may_see(caller, collection):
        raise NotFound("job not found")
    return collection


def may_see(caller: Caller, collection: JobCollection) -> bool:
    """Technicians see only jobs they have a visit on."""
    return not caller.is_technician or collection.tally().names(caller.user_id)


def get(caller: Caller, job_id: str) -> Job:
    return found(load(caller, job_id).header(), "job")


NEXT_VISITS = 10
LATEST_NOTES = 10


def detail(caller: Caller, job_id: str) -> dict[str, Any]:
    """The job as a client shows it, the same size however long its history: header, current
    quote, invoices, balance, visit counts, the next visits and the latest notes. The rest is
    paged: /jobs/{id}/visits, /notes, /quotes, /invoices, /timeline."""
    collection = load(caller, job_id)
    job = collection.header()
    invoices = sorted(collection.children("invoice", Invoice), key=lambda i: i.invoice_id)
    quote = current_quote(collection.children("quote", Quote))
    tally = collection.tally()
    now = clock.iso(clock.now())
    upcoming = store.visits_page(caller.tenant_id, job_id, now, None, None, NEXT_VISITS).items
    return {
        **job.model_dump(),
        "quote": office_view(quote, with_prices=not caller.is_technician) if quote else None,
        "balance_cents": invoice_rules.outstanding_cents(invoices),
        "owed_back_cents": sum(i.owed_back_cents for i in invoices),
        "visit_count": tally.live,
        "open_visit_count": tally.unfinished,
        "notes": [
            n.model_dump(mode="json")
            for n in store.latest(caller.tenant_id, job_id, "note", Note, LATEST_NOTES)
        ],
        "visits": [v.model_dump(mode="json") for v in _visible(caller, upcoming)],
        "invoices": [invoice_rules.summary(i, clock.now()) for i in invoices],
    }


def _visible(caller: Caller, visits: list[Visit]) -> list[Visit]:
    if not caller.is_technician:
        return visits
    return [v for v in visits if caller.user_id in v.technician_ids]


def visits(
    caller: Caller,
    job_id: str,
    start_from: str | None,
    start_to: str | None,
    cursor: str | None,
    limit: int,
) -> Page:
    load(caller, job_id)
    found_page = store.visits_page(caller.tenant_id, job_id, start_from, start_to, cursor, limit)
    return Page(_visible(caller, found_page.items), found_page.next_cursor)


def children(caller: Caller, job_id: str, type_: str, cls, cursor: str | None, limit: int) -> Page:
    """One kind of the job's children (notes, quotes, invoices), oldest first, page by page."""
    load(caller, job_id)
    return store.children_page(caller.tenant_id, job_id, type_, cls, cursor, limit)


def list_jobs(
    caller: Caller, stage: str | None, customer_id: str | None, cursor: str | None, limit: int
) -> Page:
    if customer_id:
        return store.list_customer_jobs(caller.tenant_id, customer_id, stage, cursor, limit)
    return store.list_jobs(caller.tenant_id, stage, cursor, limit)


def update(caller: Caller, job_id: str, changes: dict[str, Any], if_match: int | None) -> Job:
    """Change the job's own fields. Without If-Match, a race with another writer (a payment
    moving the stage, say) is retried here: the client asked for no version check."""

    def attempt() -> Job:
        job = get(caller, job_id)
        check_version(job.version, if_match)
        # Validated as a whole: a null title or priority is a 422, never a job saved without one.
        job = Job.model_validate({**job.model_dump(), **changes})
        rules.touch(job)
        changed = event(job_id, "JobUpdated", caller.user_id, fields=sorted(changes))
        save(Transaction(), caller, job, changed).commit()
        return job

    return attempt() if if_match is not None else retrying(attempt)


def add_note(caller: Caller, job_id: str, text: str) -> Note:
    """Notes are appended: nothing else is rewritten, so notes posted at once all land."""
    get(caller, job_id)
    note = Note(
        note_id=new_id(), job_id=job_id, text=text, author_id=caller.user_id, created_at=clock.now()
    )
    added = event(job_id, "NoteAdded", caller.user_id, note_id=note.note_id)
    tx = Transaction()
    tx.put(store.child_item(caller.tenant_id, job_id, "NOTE", note.note_id, note), entity=note)
    record_events(tx, caller, added).commit()
    return note


def timeline(caller: Caller, job_id: str, cursor: str | None, limit: int) -> Page:
    load(caller, job_id)
    return store.timeline_page(caller.tenant_id, job_id, cursor, limit)
