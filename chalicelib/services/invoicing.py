"""Invoices: write one from the job's scope, send it with the next number, void it, list
them across jobs, and age what is owed.

Every change to a job's money goes through `Books`: read the job's invoices, payments and
scope, let the domain change them, then `Books.record` applies the ledger's rules (the draft
final is re-priced, the stage follows the money: chalicelib/domain/ledger.py) and saves the
changed invoices, payments, job header and timeline events in one transaction. The job's
version serialises changes to its money, so "every invoice paid → job paid" is decided on a
consistent picture even when two payments race.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from functools import cached_property
from typing import Any

from chalicelib.config import get_settings
from chalicelib.domain import clock, currencies, ledger, links
from chalicelib.domain import invoices as rules
from chalicelib.domain import jobs as job_rules
from chalicelib.domain import quotes as quote_rules
from chalicelib.domain.callers import Caller
from chalicelib.domain.errors import Conflict, FieldlineError, Invalid, NotFound
from chalicelib.domain.invoices import Invoice, Payment
from chalicelib.domain.jobs import Job
from chalicelib.domain.money import LineItem
from chalicelib.domain.quotes import Quote, QuoteOption
from chalicelib.domain.timeline import TimelineEvent
from chalicelib.logs import logger
from chalicelib.services import customers, jobs, messaging, pricebook, tenants
from chalicelib.services.common import retrying
from chalicelib.store import counters
from chalicelib.store import invoices as invoice_store
from chalicelib.store import jobs as job_store
from chalicelib.store.db import Transaction
from chalicelib.store.jobs import JobCollection
from chalicelib.store.records import Page

COUNTER = "invoice"


def invoices_of(collection: JobCollection) -> list[Invoice]:
    return sorted(collection.children("invoice", Invoice), key=lambda i: i.invoice_id)


def payments_of(collection: JobCollection, invoice_id: str | None = None) -> list[Payment]:
    found = collection.children("payment", Payment)
    return sorted(
        (p for p in found if invoice_id is None or p.invoice_id == invoice_id),
        key=lambda p: p.payment_id,
    )


def find_invoice(collection: JobCollection, invoice_id: str) -> Invoice | None:
    return next((i for i in invoices_of(collection) if i.invoice_id == invoice_id), None)


def require_invoice(collection: JobCollection, invoice_id: str) -> Invoice:
    invoice = find_invoice(collection, invoice_id)
    if invoice is None:
        raise NotFound("invoice not found")
    return invoice


@dataclass
class Books:
    """One job's money as read for one change: its header, invoices, payments and scope.

    Services change the objects in place through the domain, then `record` the change.
    """

    caller: Caller
    collection: JobCollection
    job: Job
    invoices: list[Invoice]
    payments: list[Payment]

    @cached_property
    def scope(self) -> QuoteOption | None:
        found = quote_rules.scope(self.collection.children("quote", Quote))
        return found[1] if found else None

    def invoice(self, invoice_id: str) -> Invoice:
        found = next((i for i in self.invoices if i.invoice_id == invoice_id), None)
        if found is None:
            raise NotFound("invoice not found")
        return found

    def payments_of(self, invoice_id: str) -> list[Payment]:
        return [p for p in self.payments if p.invoice_id == invoice_id]

    def add(self, invoice: Invoice) -> None:
        self.invoices.append(invoice)

    def record(
        self,
        tx: Transaction,
        cause: str,
        *events: TimelineEvent | None,
        invoices: Iterable[Invoice] = (),
        payments: Iterable[Payment] = (),
    ) -> Transaction:
        """Queue the change with what the ledger makes of it: the draft final re-priced, the
        stage moved, then invoices, payments, job header and events in one transaction."""
        actor = self.caller.user_id
        changed = {invoice.invoice_id: invoice for invoice in invoices}
        repriced = ledger.reprice_final(self.invoices, self.scope, actor)
        if repriced is not None:
            final = ledger.final_for(self.invoices)
            changed[final.invoice_id] = final
        moved = ledger.follow_money(self.job, self.invoices, actor, cause)
        tenant_id = self.caller.tenant_id
        for invoice in changed.values():
            tx.put(invoice_store.invoice_item(tenant_id, invoice), label="invoice", entity=invoice)
        for payment in payments:
            tx.put(invoice_store.payment_item(tenant_id, payment), label="payment", entity=payment)
        job_rules.touch(self.job)
        return jobs.save(tx, self.caller, self.job, *events, repriced, moved)


def follow_scope(
    tx: Transaction, caller: Caller, collection: JobCollection, quotes: list[Quote]
) -> TimelineEvent | None:
    """The customer answered a quote (a revision approved): a draft final bills the new
    scope, in the answer's own transaction. The job header is the caller's to save."""
    invoices = invoices_of(collection)
    found = quote_rules.scope(quotes)
    repriced = ledger.reprice_final(invoices, found[1] if found else None, caller.user_id)
    if repriced is not None:
        final = ledger.final_for(invoices)
        tx.put(invoice_store.invoice_item(caller.tenant_id, final), label="invoice", entity=final)
    return repriced


def open_books(caller: Caller, job_id: str) -> Books:
    collection = jobs.load(caller, job_id)
    return books_of(caller, collection)


def books_of(caller: Caller, collection: JobCollection) -> Books:
    return Books(
        caller, collection, collection.header(), invoices_of(collection), payments_of(collection)
    )


# --- links and views -------------------------------------------------------------------------


def link_for(tenant_id: str, invoice: Invoice) -> str | None:
    """The customer's pay link; stable for an invoice because it expires a fixed time after
    sending, so every text and screen shows the same one."""
    if invoice.sent_at is None or invoice.status == "void":
        return None
    claims = links.LinkClaims(
        kind="invoice",
        tenant_id=tenant_id,
        job_id=invoice.job_id,
        object_id=invoice.invoice_id,
        expires_at=invoice.sent_at + rules.LINK_LIFETIME,
    )
    settings = get_settings()
    return f"{settings.public_base_url}/p/invoices/{links.sign(claims, settings.link_secrets)}"


def office_view(
    tenant_id: str, invoice: Invoice, payments: list[Payment] | None = None
) -> dict[str, Any]:
    shown = [p for p in payments or [] if p.status not in ("pending", "canceled")]
    return {
        **rules.summary(invoice, clock.now()),
        "link": link_for(tenant_id, invoice),
        "payments": [p.model_dump(mode="json") for p in shown],
    }


# --- writing an invoice ----------------------------------------------------------------------


def create(
    caller: Caller,
    job_id: str,
    kind: str,
    lines: list[dict[str, Any]] | None,
    due_days: int | None,
) -> dict[str, Any]:
    """A draft deposit, progress or final invoice (API.md "Invoices and payments"). A line is
    typed, or `{item_id, quantity}` copied from the price book as the invoice is written."""

    def attempt() -> Invoice:
        books = open_books(caller, job_id)
        if not books.job.is_open:
            raise Conflict(f"job is {books.job.stage}", code="illegal_transition")
        given = pricebook.line_items(caller.tenant_id, books.job.currency, lines or [])
        rules.check_lines(given)
        tenant = tenants.get_settings(caller)
        invoice, created = rules.new_invoice(
            books.job,
            kind,
            _bill(books, kind, given),
            tenant.tax_rate_bps,
            tenant.timezone,
            caller.user_id,
            rules.DEFAULT_DUE_DAYS if due_days is None else due_days,
        )
        books.add(invoice)
        books.record(Transaction(), "invoice_created", created, invoices=[invoice]).commit()
        return invoice

    invoice = retrying(attempt, attempts=3)
    return office_view(caller.tenant_id, invoice)


def _bill(books: Books, kind: str, given: list[LineItem]) -> list[rules.BillLine]:
    """What a new invoice bills: the lines typed, or what the ledger says for its kind."""
    work = rules.work_lines(given)
    live = [i for i in books.invoices if i.status != "void"]
    if kind == "final":
        if ledger.final_for(live) is not None:
            raise Conflict("the job already has a final invoice", code="already_invoiced")
        if books.scope is None and not work:
            raise Invalid(
                "no approved quote and no line_items: nothing to bill", code="nothing_to_bill"
            )
        return ledger.final_lines(books.scope, work, live)
    if kind == "deposit" and not work:
        if books.scope is None or not books.scope.deposit_cents:
            raise Invalid(
                "no approved quote asks for a deposit; give line_items", code="nothing_to_bill"
            )
        if any(i.kind == "deposit" and _is_quote_deposit(i) for i in live):
            raise Conflict("the quote's deposit is already invoiced", code="already_invoiced")
        return ledger.deposit_lines(books.scope)
    return work


def _is_quote_deposit(invoice: Invoice) -> bool:
    return any(line.kind == "deposit" for line in invoice.line_items)


def job_invoices(caller: Caller, job_id: str, cursor: str | None, limit: int) -> Page:
    found = jobs.children(caller, job_id, "invoice", Invoice, cursor, limit)
    return Page([office_view(caller.tenant_id, i) for i in found.items], found.next_cursor)


def get(caller: Caller, job_id: str, invoice_id: str) -> dict[str, Any]:
    books = open_books(caller, job_id)
    invoice = books.invoice(invoice_id)
    return office_view(caller.tenant_id, invoice, books.payments_of(invoice_id))


# --- sending: the next number, gap-free ------------------------------------------------------


def _give_back_unless_used(caller: Caller, job_id: str, invoice_id: str, number: int) -> None:
    """A commit cut off by a timeout may still have happened: the number goes back only when
    the invoice is read without it (if even that fails, a gap is better than a repeat)."""
    try:
        invoice = jobs.load(caller, job_id).child("invoice", invoice_id, Invoice)
    except FieldlineError:
        return
    if invoice is None or invoice.number != number:
        counters.give_back(caller.tenant_id, COUNTER, number)


def send(caller: Caller, job_id: str, invoice_id: str) -> dict[str, Any]:
    """Number the invoice, mark it sent, move a completed job to `invoiced`; then text the link.

    The number is taken from the tenant's counter first (store/counters.py: an atomic ADD, so
    a burst of sends never contends on one version) and kept for this send's retries; a send
    that cannot use it gives it back for the next one. Numbers have no gaps and no repeats.
    """

    def sendable() -> tuple[Books, Invoice]:
        books = open_books(caller, job_id)
        invoice = books.invoice(invoice_id)
        if invoice.status != "draft":
            raise Conflict(f"a {invoice.status} invoice cannot be sent", code="illegal_transition")
        if not books.job.is_open:
            raise Conflict(f"job is {books.job.stage}", code="illegal_transition")
        ledger.check_sendable(invoice, books.invoices)
        return books, invoice

    sendable()  # refused before a number is taken: only a race can hand one back
    number = counters.take(caller.tenant_id, COUNTER)

    def attempt() -> tuple[Job, Invoice]:
        books, invoice = sendable()
        events = rules.send(invoice, number, caller.user_id)
        books.record(Transaction(), "invoice_sent", *events, invoices=[invoice]).commit()
        return books.job, invoice

    try:
        job, invoice = retrying(attempt)
    except Exception:
        _give_back_unless_used(caller, job_id, invoice_id, number)
        raise
    tenant = tenants.get_settings(caller)
    customer = customers.get(caller, job.customer_id)
    link = link_for(caller.tenant_id, invoice)
    amount = currencies.format_money(invoice.balance_cents, invoice.currency, tenant.locale)
    values = {
        "job_title": job.title,
        "amount_due": amount,
        "due_date": f"{invoice.due_date:%b} {invoice.due_date.day}",
        "link": link,
    }
    subject = f"Invoice #{invoice.number} from {tenant.name}"
    messaging.notify_customer(
        tenant, customer, job.job_id, "invoice_link", values, caller.user_id, subject
    )
    return office_view(caller.tenant_id, invoice)


def void(caller: Caller, job_id: str, invoice_id: str, reason: str) -> dict[str, Any]:
    """Void an invoice nothing was kept on. Its open pay page is closed at Stripe first, so
    the customer can't pay a void invoice; an invoice a sent final credits stays."""
    from chalicelib.services import intents

    tenant = tenants.get_settings(caller)

    def attempt() -> Invoice:
        books = open_books(caller, job_id)
        invoice = books.invoice(invoice_id)
        ledger.check_voidable(invoice, books.invoices)
        voided = rules.void(invoice, reason, caller.user_id)
        closed = intents.close_open_intent(tenant, invoice, books.payments_of(invoice_id))
        tx = Transaction()
        books.record(tx, "invoice_voided", voided, invoices=[invoice], payments=closed).commit()
        return invoice

    invoice = retrying(attempt, attempts=3)
    return office_view(caller.tenant_id, invoice)


# --- across jobs -----------------------------------------------------------------------------


def list_invoices(
    caller: Caller, status: str | None, due_before: date | None, cursor: str | None, limit: int
) -> Page:
    """Invoices of one status (default `sent`), soonest due first; one Query on GSI1."""
    tenant_id = caller.tenant_id
    found = invoice_store.invoices_page(tenant_id, status or "sent", due_before, cursor, limit)
    return Page([office_view(tenant_id, i) for i in found.items], found.next_cursor)


AGED_STATUSES = ("sent", "partially_paid")


def ar_aging(caller: Caller) -> dict[str, Any]:
    """What customers owe, by how late it is: one Query per open status, never a scan."""
    tenant = tenants.get_settings(caller)
    now = clock.now()
    buckets = {name: [0, 0] for name, *_ in rules.AGING_BUCKETS} | {"90+": [0, 0]}
    for status in AGED_STATUSES:
        for invoice in invoice_store.every_invoice_with_status(caller.tenant_id, status):
            if invoice.balance_cents <= 0:
                continue
            if invoice.currency != tenant.currency:
                logger.warning("invoice in another currency left out of aging")
                continue
            bucket = buckets[rules.aging_bucket(invoice.days_past_due(now))]
            bucket[0] += 1
            bucket[1] += invoice.balance_cents
    return {
        "as_of": rules.local_date(now, tenant.timezone),
        "currency": tenant.currency,
        "buckets": [
            {"name": name, "invoice_count": count, "balance_cents": cents}
            for name, (count, cents) in buckets.items()
        ],
        "invoice_count": sum(count for count, _ in buckets.values()),
        "total_cents": sum(cents for _, cents in buckets.values()),
    }


def events_only(tx: Transaction, tenant_id: str, *events: TimelineEvent | None) -> Transaction:
    """Timeline events for a change that does not touch the job header (a new pay intent)."""
    for evt in events:
        if evt is not None:
            tx.put(job_store.event_item(tenant_id, evt), label=evt.type)
    return tx
