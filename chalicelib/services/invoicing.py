"""Invoices: write one from the approved quote, send it with the next number, void it, list
them across jobs, and age what is owed.

Every change saves the invoice, the job header and the timeline events in one transaction;
the job's version serialises changes to its money, so "every invoice paid → job paid" is
decided on a consistent picture even when two payments race.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from datetime import date
from typing import Any, TypeVar

from chalicelib.config import get_settings
from chalicelib.domain import clock, links
from chalicelib.domain import invoices as rules
from chalicelib.domain import jobs as job_rules
from chalicelib.domain.callers import Caller
from chalicelib.domain.errors import Conflict, Invalid, NotFound
from chalicelib.domain.invoices import Invoice, Payment
from chalicelib.domain.jobs import Job
from chalicelib.domain.money import LineItem
from chalicelib.domain.timeline import TimelineEvent
from chalicelib.logs import logger
from chalicelib.services import customers, jobs, messaging, tenants
from chalicelib.store import db, keys
from chalicelib.store import jobs as job_store
from chalicelib.store.db import ConditionFailed, Transaction
from chalicelib.store.jobs import JobCollection
from chalicelib.store.models import Item
from chalicelib.store.records import Page, entity, page, record

T = TypeVar("T")

# Racing writers (two sends taking numbers, a payment and a webhook on one job) each re-read
# and try again; a handful of rounds settles any realistic burst.
RACE_ATTEMPTS = 10
COUNTER = "invoice"


# --- items -----------------------------------------------------------------------------------


def invoice_item(tenant_id: str, invoice: Invoice) -> Item:
    due = invoice.due_date.isoformat() if invoice.due_date else None
    number_index = None
    if invoice.number is not None:
        number_index = (
            keys.invoice_number_index(tenant_id, str(invoice.number)),
            keys.INVOICE_NUMBER_SORT,
        )
    return record(
        keys.job_child(tenant_id, invoice.job_id, "INV", invoice.invoice_id),
        "invoice",
        tenant_id,
        invoice,
        gsi1=(
            keys.invoices_by_status_index(tenant_id, invoice.status),
            keys.invoice_due_sort(due, invoice.invoice_id),
        ),
        gsi2=number_index,
    )


def payment_item(tenant_id: str, payment: Payment) -> Item:
    intent_index = None
    if payment.stripe_payment_intent_id:
        intent_index = (
            keys.stripe_intent_index(payment.stripe_payment_intent_id),
            keys.STRIPE_INTENT_SORT,
        )
    return record(
        keys.job_child(tenant_id, payment.job_id, "PAY", payment.payment_id),
        "payment",
        tenant_id,
        payment,
        gsi2=intent_index,
    )


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


def write(
    tx: Transaction,
    caller: Caller,
    job: Job,
    invoice: Invoice | None,
    *events: TimelineEvent | None,
    payments: tuple[Payment, ...] = (),
) -> Transaction:
    """Queue a change to the job's money: invoice, payments, job header and events together."""
    if invoice is not None:
        tx.put(invoice_item(caller.tenant_id, invoice), label="invoice", entity=invoice)
    for payment in payments:
        tx.put(payment_item(caller.tenant_id, payment), label="payment", entity=payment)
    job_rules.touch(job)
    return jobs.save(tx, caller, job, *events)


def settle_job(job: Job, invoices: list[Invoice], actor: str, **data) -> TimelineEvent | None:
    """The job follows its invoices: paid once the work is done and every invoice is paid."""
    if rules.job_is_paid(job, invoices):
        return job_rules.advance(job, "paid", actor, **data)
    return None


def retrying(attempt: Callable[[], T], attempts: int = RACE_ATTEMPTS) -> T:
    """Run a read-decide-write attempt again when it lost a race (a stale version)."""
    for round_ in range(attempts):
        try:
            return attempt()
        except ConditionFailed:
            if round_ == attempts - 1:
                break
            time.sleep(random.uniform(0, 0.01 * (round_ + 1)))  # noqa: S311 (jitter, not crypto)
    raise Conflict("the job's invoices are being changed; try again", code="conflict")


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
    return f"{settings.public_base_url}/p/invoices/{links.sign(claims, settings.link_secret)}"


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


def approved_option(collection: JobCollection) -> dict[str, Any] | None:
    """The option the customer approved, read from the raw quote items.

    Quotes are their own module; reading the stored shape (rather than its classes) keeps
    invoicing working whatever else a quote grows.
    """
    for item in collection.by_type.get("quote", []):
        quote = item.data.as_dict()
        if quote.get("status") != "approved":
            continue
        chosen = quote.get("approved_option_id")
        for option in quote.get("options") or []:
            if option.get("status") == "approved" or (chosen and option.get("option_id") == chosen):
                return option
    return None


def _quote_lines(option: dict[str, Any]) -> list[LineItem]:
    return [
        LineItem(
            description=str(line.get("description") or "Work"),
            quantity=int(line.get("quantity") or 1),
            unit_price_cents=int(line.get("unit_price_cents") or 0),
            taxable=bool(line.get("taxable", True)),
        )
        for line in option.get("line_items") or []
    ]


def create(
    caller: Caller,
    job_id: str,
    kind: str,
    lines: list[LineItem] | None,
    due_days: int | None,
) -> dict[str, Any]:
    """A draft deposit, progress or final invoice (API.md "Invoices and payments")."""

    def attempt() -> Invoice:
        collection = jobs.load(caller, job_id)
        job = collection.header()
        if not job.is_open:
            raise Conflict(f"job is {job.stage}", code="illegal_transition")
        tenant = tenants.get_settings(caller)
        existing = [i for i in invoices_of(collection) if i.status != "void"]
        given = list(lines or [])
        rules.check_lines(given)
        option = approved_option(collection)
        option_id = None
        if kind == "deposit" and not given:
            deposit = int((option or {}).get("deposit_cents") or 0)
            if deposit <= 0:
                raise Invalid(
                    "no approved quote asks for a deposit; give line_items",
                    code="nothing_to_bill",
                )
            option_id = option.get("option_id")
            if any(i.kind == "deposit" and i.quote_option_id == option_id for i in existing):
                raise Conflict("the quote's deposit is already invoiced", code="already_invoiced")
            given = [rules.deposit_line(deposit, option.get("name"))]
        elif kind == "final":
            if any(i.kind == "final" for i in existing):
                raise Conflict("the job already has a final invoice", code="already_invoiced")
            approved = _quote_lines(option) if option else []
            option_id = option.get("option_id") if option else None
            if not approved and not given:
                raise Invalid(
                    "no approved quote and no line_items: nothing to bill",
                    code="nothing_to_bill",
                )
            given = rules.final_lines(approved, given, rules.deposits_received_cents(existing))
        invoice, created = rules.new_invoice(
            job,
            kind,
            given,
            tenant.tax_rate_bps,
            tenant.timezone,
            caller.user_id,
            rules.DEFAULT_DUE_DAYS if due_days is None else due_days,
            quote_option_id=option_id,
        )
        write(Transaction(), caller, job, invoice, created).commit()
        return invoice

    invoice = retrying(attempt, attempts=3)
    return office_view(caller.tenant_id, invoice)


def get(caller: Caller, job_id: str, invoice_id: str) -> dict[str, Any]:
    collection = jobs.load(caller, job_id)
    invoice = require_invoice(collection, invoice_id)
    return office_view(caller.tenant_id, invoice, payments_of(collection, invoice_id))


# --- sending: the next number, gap-free ------------------------------------------------------


def _counter_item(tenant_id: str) -> Item:
    key = keys.counter(tenant_id, COUNTER)
    with db.translate_errors():
        try:
            return Item.get(key.pk, key.sk, consistent_read=True)
        except Item.DoesNotExist:
            return Item(key.pk, key.sk, type="counter", tenant_id=tenant_id)


def send(caller: Caller, job_id: str, invoice_id: str) -> dict[str, Any]:
    """Number the invoice, mark it sent, move a completed job to `invoiced`; then text the link.

    The number is the tenant's counter + 1, written in the same transaction as the invoice
    and conditioned on the counter's version: a number is taken only by an invoice that is
    saved with it, so numbers have no gaps and no duplicates (an `ADD` alone would burn a
    number whenever the invoice write then failed). Racing sends re-read and take the next.
    """

    def attempt() -> tuple[Job, Invoice]:
        collection = jobs.load(caller, job_id)
        job = collection.header()
        invoice = require_invoice(collection, invoice_id)
        if invoice.status != "draft":
            raise Conflict(f"a {invoice.status} invoice cannot be sent", code="illegal_transition")
        counter = _counter_item(caller.tenant_id)
        number = int(counter.counter or 0) + 1
        events = rules.send(invoice, number, caller.user_id)
        if invoice.kind == "final" and job.stage == "completed":
            events.append(job_rules.advance(job, "invoiced", caller.user_id, invoice_id=invoice_id))
        others = [i for i in invoices_of(collection) if i.invoice_id != invoice_id]
        events.append(settle_job(job, [*others, invoice], caller.user_id, invoice_id=invoice_id))
        tx = Transaction()
        tx.update(
            counter,
            [
                Item.counter.set(number),
                Item.type.set("counter"),
                Item.tenant_id.set(caller.tenant_id),
            ],
            label="invoice counter",
        )
        write(tx, caller, job, invoice, *events).commit()
        return job, invoice

    job, invoice = retrying(attempt)
    tenant = tenants.get_settings(caller)
    customer = customers.get(caller, job.customer_id)
    link = link_for(caller.tenant_id, invoice)
    amount = rules.format_amount(invoice.balance_cents, invoice.currency)
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
    def attempt() -> Invoice:
        collection = jobs.load(caller, job_id)
        job = collection.header()
        invoice = require_invoice(collection, invoice_id)
        voided = rules.void(invoice, reason, caller.user_id)
        # Voiding the last unpaid invoice of a finished job leaves it fully paid.
        others = [i for i in invoices_of(collection) if i.invoice_id != invoice_id]
        settled = settle_job(job, [*others, invoice], caller.user_id) if job.is_open else None
        write(Transaction(), caller, job, invoice, voided, settled).commit()
        return invoice

    invoice = retrying(attempt, attempts=3)
    return office_view(caller.tenant_id, invoice)


# --- across jobs -----------------------------------------------------------------------------


def list_invoices(
    caller: Caller, status: str | None, due_before: date | None, cursor: str | None, limit: int
) -> Page:
    """Invoices of one status (default `sent`), soonest due first; one Query on GSI1."""
    condition = None
    if due_before is not None:
        condition = Item.gsi1sk < keys.invoice_due_sort(due_before.isoformat())
    items, next_cursor = page(
        Item.gsi1,
        keys.invoices_by_status_index(caller.tenant_id, status or "sent"),
        condition,
        caller.tenant_id,
        cursor,
        limit,
    )
    shown = [office_view(caller.tenant_id, entity(item, Invoice)) for item in items]
    return Page(shown, next_cursor)


AGED_STATUSES = ("sent", "partially_paid")


def ar_aging(caller: Caller) -> dict[str, Any]:
    """What customers owe, by how late it is: one Query per open status, never a scan."""
    tenant = tenants.get_settings(caller)
    now = clock.now()
    buckets = {name: [0, 0] for name, *_ in rules.AGING_BUCKETS} | {"90+": [0, 0]}
    for status in AGED_STATUSES:
        index = keys.invoices_by_status_index(caller.tenant_id, status)
        with db.translate_errors():
            for item in Item.gsi1.query(index):
                invoice = entity(item, Invoice)
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
