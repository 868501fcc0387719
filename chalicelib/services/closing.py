"""Losing or cancelling a job closes its work: visits, draft invoices, payment reminders.

The job's stage changes in the first transaction, together with as much of its work as fits
(TransactWriteItems takes at most 100 writes): each draft invoice voided, each chased
invoice's reminders held, each open visit cancelled with its technicians' days giving its time
back (under their versions, the one way visits are written: `scheduling.queue_visits`). A job
with more work (a long recurring series) is closed in further transactions. Every one of them
also writes the job header under its version, so a change racing the close (an assignment, a
new visit, an invoice sent) either commits first, and the close's transaction fails, reads
again and closes that too, or finds the job closed and is refused (409 illegal_transition).
Once the job is closed nothing new can be booked or billed on it, so the batches converge.

Retrying is safe: closing a job already closed the same way finishes whatever an interrupted
try left and answers with the job; only a different close (lose after cancel) is 409.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from chalicelib.domain import invoices as invoice_rules
from chalicelib.domain import jobs as job_rules
from chalicelib.domain import ledger
from chalicelib.domain import visits as visit_rules
from chalicelib.domain.callers import Caller
from chalicelib.domain.dunning import Dunning
from chalicelib.domain.errors import Conflict
from chalicelib.domain.invoices import Invoice
from chalicelib.domain.jobs import Job
from chalicelib.domain.tenants import Tenant
from chalicelib.domain.timeline import TimelineEvent
from chalicelib.domain.visits import Visit
from chalicelib.services import dunning, invoicing, jobs, scheduling, tenants
from chalicelib.services.common import check_version, retrying
from chalicelib.store import invoices as invoice_store
from chalicelib.store.db import Transaction
from chalicelib.store.jobs import JobCollection

# Besides its work, each transaction writes the job header (and, the first, its stage change).
MAX_WRITES = scheduling.MAX_TRANSACTION_WRITES
# Lost races in a row before the close gives up with 409 conflict (progress resets the count).
MAX_LOST_RACES = scheduling.MAX_ATTEMPTS


@dataclass
class Work:
    """What a closed job still has open, in the order it is closed."""

    drafts: list[Invoice] = field(default_factory=list)
    chased: list[tuple[Invoice, Dunning]] = field(default_factory=list)
    visits: list[Visit] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.drafts) + len(self.chased) + len(self.visits)


def close(caller: Caller, job_id: str, stage: str, reason: str, if_match: int | None) -> Job:
    """Lose or cancel the job and close its work; a retry finishes what an earlier try left."""
    tenant = tenants.get_settings(caller)

    def close_a_batch() -> tuple[Job, bool]:
        """Returns the job and whether nothing is left to close."""
        collection = jobs.load(caller, job_id)
        job = collection.header()
        closed = _close_header(caller, job, stage, reason, if_match)
        left = _work_left(caller, collection)
        if closed is None and not left:
            return job, True
        # Room besides the header, the visit tally and the stage change (the first time)
        batch = _take(left, tenant, room=MAX_WRITES - 2 - (closed is not None))
        _queue(caller, tenant, collection, closed, batch).commit()
        return job, len(batch) == len(left)

    while True:  # each batch gets its own rounds of lost races
        job, done = retrying(close_a_batch, MAX_LOST_RACES, reraise=True)
        if done:
            return job


def _work_left(caller: Caller, collection: JobCollection) -> Work:
    invoices = invoicing.invoices_of(collection)
    open_visits = visit_rules.open_work(collection.children("visit", Visit))
    return Work(
        drafts=[i for i in invoices if i.status == "draft" and _voidable(i, invoices)],
        chased=dunning.unheld_chased(caller.tenant_id, invoices),
        visits=sorted(open_visits, key=lambda v: (v.start, v.visit_id)),
    )


def _close_header(
    caller: Caller, job: Job, stage: str, reason: str, if_match: int | None
) -> TimelineEvent | None:
    """The stage change; None when an earlier try already closed the job this way."""
    if job.stage == stage:
        return None
    check_version(job.version, if_match)
    return job_rules.close(job, stage, reason, caller.user_id)


def _voidable(invoice: Invoice, invoices: list[Invoice]) -> bool:
    """A draft that a sent final already credits stays: voiding it would lose what it bills."""
    try:
        ledger.check_voidable(invoice, invoices)
    except Conflict:
        return False
    return True


def _take(left: Work, tenant: Tenant, room: int) -> Work:
    """As much of the work as fits in `room` writes: invoices first, then visits by time."""
    batch = Work()
    for invoice in left.drafts:  # the invoice and its InvoiceVoided event
        if room < 2:
            return batch
        batch.drafts.append(invoice)
        room -= 2
    for chased in left.chased:  # the dunning record and its DunningHeld event
        if room < 2:
            return batch
        batch.chased.append(chased)
        room -= 2
    days: set[tuple[str, str]] = set()
    for visit in left.visits:  # the visit, its VisitCancelled event, each day not yet written
        freed = set(visit_rules.bookings(visit, tenant.timezone)) - days
        if 2 + len(freed) > room:
            return batch
        batch.visits.append(visit)
        days |= freed
        room -= 2 + len(freed)
    return batch


def _queue(
    caller: Caller,
    tenant: Tenant,
    collection: JobCollection,
    closed: TimelineEvent | None,
    batch: Work,
) -> Transaction:
    """One transaction: the job header (its stage change the first time) and the batch."""
    job = collection.header()
    actor, cause = caller.user_id, f"job_{job.stage}"
    tx = Transaction()
    events: list[TimelineEvent | None] = [closed]
    for invoice in batch.drafts:
        events.append(invoice_rules.void(invoice, f"job {job.stage}: {job.closed_reason}", actor))
        label = f"invoice {invoice.invoice_id}"
        tx.put(invoice_store.invoice_item(caller.tenant_id, invoice), label=label, entity=invoice)
    for invoice, record in batch.chased:
        events.append(dunning.queue_hold(tx, caller, invoice, record, cause))
    changes: list[tuple[Visit | None, Visit]] = []
    for visit in batch.visits:
        after = visit.model_copy(deep=True)
        events.append(visit_rules.cancel_with_job(after, job.stage, job.closed_reason, actor))
        changes.append((visit, after))
    scheduling.queue_visits(tx, caller, tenant, changes, collection)
    job_rules.touch(job)
    return jobs.save(tx, caller, job, *events)
