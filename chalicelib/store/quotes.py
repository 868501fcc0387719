"""Quotes in a job's collection (a job reads its quotes by their sort-key prefix)."""

from __future__ import annotations

from chalicelib.domain.quotes import Quote
from chalicelib.store.jobs import child_item
from chalicelib.store.models import Item


def quote_item(tenant_id: str, quote: Quote) -> Item:
    return child_item(tenant_id, quote.job_id, "QUOTE", quote.quote_id, quote)
