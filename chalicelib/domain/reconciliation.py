"""Payment reconciliation: what Stripe's balance history says against what we recorded.

Each balance transaction becomes one entry of the day's report (the day it happened, in the
tenant's zone): matched, repaired (a lost webhook applied late), unmatched, or a payout. An
entry carries its mismatches: an amount that disagrees, a charge or refund with no payment of
ours, a refund we never recorded, a repair that did not take.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, Field

MATCHED, REPAIRED, UNMATCHED, PAYOUT = "matched", "repaired", "unmatched", "payout"
AMOUNT_MISMATCH = "amount_mismatch"
UNKNOWN_CHARGE = "unknown_charge"
UNKNOWN_REFUND = "unknown_refund"
REFUND_NOT_RECORDED = "refund_not_recorded"
REPAIR_FAILED = "repair_failed"


class Mismatch(BaseModel):
    kind: str
    message: str
    expected_cents: int | None = None
    actual_cents: int | None = None


class Entry(BaseModel):
    """One balance transaction (or one tenant's share of a payout) in a day's report."""

    transaction_id: str
    type: str
    status: str
    day: date
    account: str | None = None
    created_at: datetime
    amount_cents: int
    currency: str
    charge_id: str | None = None
    refund_id: str | None = None
    payment_intent_id: str | None = None
    payment_id: str | None = None
    job_id: str | None = None
    invoice_id: str | None = None
    tip_cents: int = 0  # of a charge: the customer's tip, within amount_cents
    payout_id: str | None = None
    arrival_date: date | None = None
    payment_ids: list[str] = Field(default_factory=list)
    mismatches: list[Mismatch] = Field(default_factory=list)
    run_id: str | None = None
    version: int | None = None


class Cursor(BaseModel):
    """How far one Stripe account's balance history has been read (Stripe's `created`)."""

    account: str | None = None
    created: int
    updated_at: datetime
    version: int | None = None


def merge(found: Entry, stored: Entry | None) -> tuple[Entry, list[Mismatch]]:
    """The entry to store and the mismatches not reported before (they get an event).

    A later run sees a repaired payment as plainly matched: the entry stays `repaired`, and a
    mismatch found once stays on the report.
    """
    if stored is None:
        return found, list(found.mismatches)
    known = {m.kind for m in stored.mismatches}
    new = [m for m in found.mismatches if m.kind not in known]
    merged = found.model_copy(
        update={
            "status": REPAIRED if stored.status == REPAIRED else found.status,
            "mismatches": [*stored.mismatches, *new],
            "payment_ids": sorted({*stored.payment_ids, *found.payment_ids}),
            "version": stored.version,
        }
    )
    return merged, new


def report(day: date, entries: list[Entry]) -> dict[str, Any]:
    """The day's report as the office reads it."""
    matched = [e for e in entries if e.status in (MATCHED, REPAIRED)]
    amounts: dict[str, int] = defaultdict(int)
    for entry in matched:
        amounts[entry.currency] += entry.amount_cents
    tips: dict[str, int] = defaultdict(int)
    for entry in matched:
        tips[entry.currency] += entry.tip_cents
    return {
        "date": day,
        "transaction_count": sum(1 for e in entries if e.status != PAYOUT),
        "matched_count": len(matched),
        "matched_amounts": [
            {"currency": currency, "amount_cents": cents}
            for currency, cents in sorted(amounts.items())
        ],
        "tips": [
            {"currency": currency, "amount_cents": cents}
            for currency, cents in sorted(tips.items())
            if cents
        ],
        "repaired": [_line(e) for e in entries if e.status == REPAIRED],
        "mismatches": [
            {**_line(e), "kind": m.kind, "message": m.message}
            | {"expected_cents": m.expected_cents, "actual_cents": m.actual_cents}
            for e in entries
            for m in e.mismatches
        ],
        "payouts": [
            {
                "payout_id": e.payout_id,
                "amount_cents": e.amount_cents,
                "currency": e.currency,
                "arrival_date": e.arrival_date,
                "payment_ids": e.payment_ids,
            }
            for e in entries
            if e.status == PAYOUT
        ],
    }


def _line(entry: Entry) -> dict[str, Any]:
    return {
        "transaction_id": entry.transaction_id,
        "type": entry.type,
        "charge_id": entry.charge_id,
        "refund_id": entry.refund_id,
        "payment_intent_id": entry.payment_intent_id,
        "payment_id": entry.payment_id,
        "job_id": entry.job_id,
        "invoice_id": entry.invoice_id,
        "amount_cents": entry.amount_cents,
        "currency": entry.currency,
        "created_at": entry.created_at,
    }
