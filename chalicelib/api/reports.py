"""Reports: the day's payment reconciliation (with the day's tips apart)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, Field

from chalicelib.api.http import Api, caller
from chalicelib.api.schemas import Out, Strict
from chalicelib.domain import reconciliation as rules
from chalicelib.domain.callers import STAFF
from chalicelib.services import reconciliation

api = Api(__name__, "reports")


class ReconciliationQuery(Strict):
    date: date


class AmountOut(BaseModel):
    currency: str
    amount_cents: int


class TransactionOut(BaseModel):
    transaction_id: str
    type: str
    charge_id: str | None
    refund_id: str | None
    payment_intent_id: str | None
    payment_id: str | None
    job_id: str | None
    invoice_id: str | None
    amount_cents: int
    currency: str
    created_at: datetime


class MismatchOut(TransactionOut):
    kind: Literal[
        rules.AMOUNT_MISMATCH,
        rules.UNKNOWN_CHARGE,
        rules.UNKNOWN_REFUND,
        rules.REFUND_NOT_RECORDED,
        rules.REPAIR_FAILED,
    ]
    message: str
    expected_cents: int | None
    actual_cents: int | None


class PayoutOut(BaseModel):
    payout_id: str | None
    amount_cents: int
    currency: str
    arrival_date: date | None
    payment_ids: list[str]


class ReconciliationOut(Out):
    date: date
    transaction_count: int
    matched_count: int
    matched_amounts: list[AmountOut]
    tips: list[AmountOut] = Field(
        description="Customers' tips within the matched charges (not toward any invoice)"
    )
    repaired: list[TransactionOut] = Field(description="payments whose webhook was lost, applied")
    mismatches: list[MismatchOut]
    payouts: list[PayoutOut]


@api.route(
    "/reports/reconciliation",
    "GET",
    roles=STAFF,
    query=ReconciliationQuery,
    response=ReconciliationOut,
)
def reconciliation_report(query: ReconciliationQuery):
    """The day's reconciliation: matched count and amounts, repairs, payouts, mismatches."""
    return reconciliation.day_report(caller(), query.date)
