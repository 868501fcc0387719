"""Invoices and payments in a job's collection, and the indexes that find them across jobs:
invoices by status (soonest due first) and by number, a payment by its Stripe PaymentIntent."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

from chalicelib.domain.invoices import Invoice, Payment
from chalicelib.store import db, keys
from chalicelib.store.models import Item
from chalicelib.store.records import Page, entity, page, record


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


def invoices_page(
    tenant_id: str, status: str, due_before: date | None, cursor: str | None, limit: int
) -> Page:
    """Invoices of one status across the tenant's jobs, soonest due first (GSI1)."""
    condition = None
    if due_before is not None:
        condition = Item.gsi1sk < keys.invoice_due_sort(due_before.isoformat())
    items, next_cursor = page(
        Item.gsi1,
        keys.invoices_by_status_index(tenant_id, status),
        condition,
        tenant_id,
        cursor,
        limit,
    )
    return Page([entity(item, Invoice) for item in items], next_cursor)


def every_invoice_with_status(tenant_id: str, status: str) -> Iterator[Invoice]:
    """Every invoice of one status, page after page (GSI1): one Query per page, never a scan."""
    with db.translate_errors():
        for item in Item.gsi1.query(keys.invoices_by_status_index(tenant_id, status)):
            yield entity(item, Invoice)


def payment_by_intent(intent_id: str) -> tuple[str, Payment] | None:
    """The tenant and the payment a Stripe PaymentIntent is for (GSI2; eventually consistent,
    so a payment saved a moment ago may not be found yet)."""
    with db.translate_errors():
        found = list(
            Item.gsi2.query(
                keys.stripe_intent_index(intent_id),
                Item.gsi2sk == keys.STRIPE_INTENT_SORT,
                limit=1,
            )
        )
    if not found:
        return None
    return found[0].tenant_id, entity(found[0], Payment)
