"""Nightly payment reconciliation (reconciliation.asl.json).

PlanReconciliation lists the Stripe accounts to read (the platform's, and each tenant's
connected account); a distributed Map gives each account its own child execution, so one
account's failure stops no other. In it, ReconcilePage reads the balance history (newest first,
each transaction with its charge, refund or payout expanded) page after page for a time budget,
and the state machine loops while there is more since the stored cursor. Every transaction is
matched to our payment by its PaymentIntent:

- a succeeded charge whose payment is still pending is a webhook we lost: it is applied
  through the webhook's own code path (`stripe_webhook.apply_stripe_event`), so the invoice is paid
  exactly once and the real webhook, should it come, changes nothing;
- a charge with no payment, an amount that disagrees, a refund we never recorded are flagged;
- payouts are recorded with the payments they paid out.

Each transaction is one entry of its day's report; a mismatch seen for the first time is also
published on the bus as `ReconciliationMismatch`.
"""

from __future__ import annotations

import contextlib
import time
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

from chalicelib.domain import clock
from chalicelib.domain import invoices as invoice_rules
from chalicelib.domain import reconciliation as rules
from chalicelib.domain.callers import Caller
from chalicelib.domain.ids import new_id
from chalicelib.domain.invoices import SETTLED, Payment
from chalicelib.domain.reconciliation import Cursor, Entry, Mismatch
from chalicelib.domain.tenants import Tenant
from chalicelib.integrations import eventbus, reconciliation_stripe, workflows
from chalicelib.logs import logger
from chalicelib.services import stripe_webhook
from chalicelib.services.common import retrying
from chalicelib.store import db, keys
from chalicelib.store import invoices as invoice_store
from chalicelib.store import tenants as tenant_store
from chalicelib.store.db import Transaction
from chalicelib.store.records import entity, get, partition, record

# With no cursor yet (the first run), read this far back.
FIRST_LOOKBACK = timedelta(days=3)
# A task takes no new transaction (nor page) after this long, and hands the rest to the next
# task: with each Stripe call bounded (reconciliation_stripe.TIMEOUT_SECONDS) it returns well inside
# the function's 30 s even when a transaction needs a call or two of its own.
TASK_BUDGET_SECONDS = 10.0
CHARGES = ("charge", "payment")
REFUNDS = ("refund", "payment_refund")


# --- starting a run ---------------------------------------------------------------------------


def start_run(run_id: str) -> workflows.Started:
    """Start a run; the same run id (the nightly date) starts one execution only."""
    name = workflows.execution_name("reconciliation", run_id)
    return workflows.start(workflows.RECONCILIATION, name, {"run_id": run_id})


def start_nightly(now: datetime) -> workflows.Started:
    return start_run(f"nightly-{now.astimezone(UTC).date().isoformat()}")


def start_now() -> workflows.Started:
    return start_run(f"manual-{new_id()}")


# --- the state machine's tasks ----------------------------------------------------------------


def plan(task: dict[str, Any]) -> dict[str, Any]:
    """PlanReconciliation: the accounts to read, the platform's first."""
    accounts: list[str | None] = [None, *reconciliation_stripe.connected_accounts()]
    return {
        "run_id": task.get("run_id") or f"manual-{new_id()}",
        "accounts": [{"account": account} for account in accounts],
    }


def read_page(task: dict[str, Any]) -> dict[str, Any]:
    """ReconcilePage: the account's balance history down to the cursor, page after page, for
    `TASK_BUDGET_SECONDS`; `has_more` sends the state machine round for the rest."""
    account = task.get("account")
    cursor = task.get("cursor")
    if cursor is None:
        stored = get(keys.reconciliation_cursor(account), Cursor)
        cursor = stored.created if stored else int((clock.now() - FIRST_LOOKBACK).timestamp())
    deadline = time.monotonic() + TASK_BUDGET_SECONDS
    newest = task.get("newest") or cursor
    last_id = task.get("starting_after")
    run = _Run(task["run_id"], account)
    has_more = True
    while has_more and (run.taken == 0 or time.monotonic() < deadline):
        page = reconciliation_stripe.balance_page(account, last_id)
        has_more = page.has_more and bool(page.transactions)
        for txn in page.transactions:
            # `created` has one-second resolution: the cursor's own second is read again
            # (entries are idempotent), so nothing created in it is ever skipped.
            if int(txn["created"]) < cursor:
                has_more = False
                break
            if run.taken and time.monotonic() >= deadline:
                has_more = True  # out of time: the next task starts after `last_id`
                break
            run.reconcile(txn)
            newest = max(newest, int(txn["created"]))
            last_id = txn["id"]
    if not has_more:
        _save_cursor(account, newest)
    return {
        "run_id": task["run_id"],
        "account": account,
        "cursor": cursor,
        "newest": newest,
        "starting_after": last_id,
        "has_more": has_more,
        "read": task.get("read", 0) + run.entries,
    }


# --- one run over one account -----------------------------------------------------------------


class _Run:
    def __init__(self, run_id: str, account: str | None):
        self.run_id, self.account = run_id, account
        self.tenants: dict[str, Tenant | None] = {}
        self.entries = 0
        self.taken = 0  # transactions looked at, ours or not

    def reconcile(self, txn: dict[str, Any]) -> None:
        self.taken += 1
        kind = txn.get("type")
        if kind in CHARGES:
            found = [self._charge(txn)]
        elif kind in REFUNDS:
            found = [self._refund(txn)]
        elif kind == "payout":
            found = self._payout(txn)
        else:
            return  # fees, adjustments, transfers: nothing of ours to match
        for tenant_id, entry in found:
            self._store(tenant_id, entry)

    # -- charges --

    def _charge(self, txn: dict[str, Any]) -> tuple[str | None, Entry]:
        charge = self._source(txn, reconciliation_stripe.charge)
        intent_id = _id_of(charge.get("payment_intent"))
        found = invoice_store.payment_by_intent(intent_id) if intent_id else None
        entry = self._entry(txn, status=rules.MATCHED, charge_id=charge.get("id"))
        entry.payment_intent_id = intent_id
        amount = int(charge.get("amount") or 0)
        if found is None:
            tenant_id = self._claimed_tenant(charge, intent_id)
            entry.status = rules.UNMATCHED
            entry.mismatches.append(
                Mismatch(
                    kind=rules.UNKNOWN_CHARGE,
                    message="a charge with no payment of ours",
                    actual_cents=amount,
                )
            )
            return tenant_id, entry
        tenant_id, payment = found
        _describe(entry, payment)
        if payment.status not in SETTLED and charge.get("status") == "succeeded":
            expected = payment.charged_cents  # a tip rides on the charge
            payment = self._repair(tenant_id, charge, intent_id, entry) or payment
            if amount != expected:
                entry.mismatches.append(
                    Mismatch(
                        kind=rules.AMOUNT_MISMATCH,
                        message="Stripe charged another amount than the payment asked for",
                        expected_cents=expected,
                        actual_cents=amount,
                    )
                )
        elif payment.charged_cents != amount:
            entry.mismatches.append(
                Mismatch(
                    kind=rules.AMOUNT_MISMATCH,
                    message="the payment records another amount than Stripe charged",
                    expected_cents=payment.charged_cents,
                    actual_cents=amount,
                )
            )
        entry.tip_cents = payment.tip_cents
        # Refunds are checked on their own balance transactions, each once.
        return tenant_id, entry

    def _repair(
        self, tenant_id: str, charge: dict[str, Any], intent_id: str, entry: Entry
    ) -> Payment | None:
        """Apply the succeeded payment exactly as its webhook would have."""
        intent = reconciliation_stripe.intent(intent_id, self.account)
        outcome = stripe_webhook.apply_stripe_event(
            {
                "id": f"reconciliation_{charge['id']}",
                "object": "event",
                "type": "payment_intent.succeeded",
                "account": self.account,
                "created": int(charge.get("created") or 0),
                "data": {"object": intent},
            }
        )
        repaired = invoice_store.payment_by_intent(intent_id)
        payment = repaired[1] if repaired else None
        if payment is not None and payment.status in SETTLED:
            entry.status = rules.REPAIRED
            logger.info("lost webhook repaired", extra={"outcome": outcome.get("outcome")})
        else:
            entry.mismatches.append(
                Mismatch(
                    kind=rules.REPAIR_FAILED,
                    message=f"the succeeded charge could not be applied ({outcome.get('outcome')})",
                    actual_cents=int(charge.get("amount") or 0),
                )
            )
        return payment

    # -- refunds --

    def _refund(self, txn: dict[str, Any]) -> tuple[str | None, Entry]:
        refund = self._source(txn, reconciliation_stripe.refund)
        charge_id = _id_of(refund.get("charge"))
        # The refund names its PaymentIntent; its charge is read only when it is needed (a
        # refund to repair or to place), not for every refund on the page.
        charge = cache(lambda: self._charge_of(refund, charge_id))
        intent_id = _id_of(refund.get("payment_intent")) or _id_of(charge().get("payment_intent"))
        found = invoice_store.payment_by_intent(intent_id) if intent_id else None
        entry = self._entry(txn, status=rules.MATCHED, charge_id=charge_id)
        entry.refund_id, entry.payment_intent_id = refund.get("id"), intent_id
        if found is None:
            entry.status = rules.UNMATCHED
            entry.mismatches.append(
                Mismatch(
                    kind=rules.UNKNOWN_REFUND,
                    message="a refund of a charge with no payment of ours",
                    actual_cents=int(refund.get("amount") or 0),
                )
            )
            return self._claimed_tenant(charge(), intent_id), entry
        tenant_id, payment = found
        _describe(entry, payment)
        if not _refund_recorded(payment, refund) and refund.get("status") == "succeeded":
            payment = self._repair_refund(charge(), refund, entry) or payment
        return tenant_id, entry

    def _charge_of(self, refund: dict[str, Any], charge_id: str | None) -> dict[str, Any]:
        charge = refund.get("charge")
        if isinstance(charge, dict):  # expanded by Stripe
            return charge
        return reconciliation_stripe.charge(charge_id, self.account) if charge_id else {}

    def _repair_refund(
        self, charge: dict[str, Any], refund: dict[str, Any], entry: Entry
    ) -> Payment | None:
        """Record a refund Stripe made and we never heard of (its webhook lost, or the request
        that asked for it cut off after Stripe answered), exactly as its webhook would."""
        outcome = stripe_webhook.apply_stripe_event(
            {
                "id": f"reconciliation_{refund['id']}",
                "object": "event",
                "type": "charge.refunded",
                "account": self.account,
                "created": int(refund.get("created") or 0),
                "data": {"object": {**charge, "refunds": {"data": [refund]}}},
            }
        )
        repaired = invoice_store.payment_by_intent(entry.payment_intent_id)
        payment = repaired[1] if repaired else None
        if payment is not None and _refund_recorded(payment, refund):
            entry.status = rules.REPAIRED
            logger.info("unrecorded refund repaired", extra={"outcome": outcome.get("outcome")})
        else:
            entry.status = rules.UNMATCHED
            entry.mismatches.append(
                _refund_not_recorded(payment, int(charge.get("amount_refunded") or 0))
            )
        return payment

    # -- payouts --

    def _payout(self, txn: dict[str, Any]) -> list[tuple[str | None, Entry]]:
        payout_id = _id_of(txn.get("source"))
        paid_out = reconciliation_stripe.payout_transactions(payout_id, self.account) or []
        by_tenant: dict[str | None, list[str]] = {}
        for inner in paid_out:
            if inner.get("type") not in CHARGES:
                continue
            charge = self._source(inner, reconciliation_stripe.charge)
            intent_id = _id_of(charge.get("payment_intent"))
            found = invoice_store.payment_by_intent(intent_id) if intent_id else None
            if found is not None:
                by_tenant.setdefault(found[0], []).append(found[1].payment_id)
        entries = []
        for tenant_id, payment_ids in by_tenant.items() or [(None, [])]:
            entry = self._entry(txn, status=rules.PAYOUT, tenant_id=tenant_id)
            entry.payout_id, entry.payment_ids = payout_id, sorted(payment_ids)
            arrival = txn.get("available_on")
            if arrival:
                entry.arrival_date = self._day(tenant_id, int(arrival))
            entry.amount_cents = abs(entry.amount_cents)
            entries.append((tenant_id, entry))
        return entries

    # -- helpers --

    def _source(self, txn: dict[str, Any], fetch) -> dict[str, Any]:
        source = txn.get("source")
        if isinstance(source, dict):  # expanded by Stripe
            return source
        return fetch(source, self.account)

    def _entry(
        self, txn: dict[str, Any], status: str, charge_id: str | None = None, tenant_id=None
    ) -> Entry:
        created = int(txn["created"])
        return Entry(
            transaction_id=txn["id"],
            type=str(txn.get("type")),
            status=status,
            day=self._day(tenant_id, created),
            account=self.account,
            created_at=datetime.fromtimestamp(created, UTC),
            amount_cents=int(txn.get("amount") or 0),
            currency=str(txn.get("currency") or "").upper(),
            charge_id=charge_id,
            run_id=self.run_id,
        )

    def _tenant(self, tenant_id: str | None) -> Tenant | None:
        if not tenant_id:
            return None
        if tenant_id not in self.tenants:
            self.tenants[tenant_id] = tenant_store.get_tenant(tenant_id)
        return self.tenants[tenant_id]

    def _day(self, tenant_id: str | None, created: int):
        tenant = self._tenant(tenant_id)
        zone = ZoneInfo(tenant.timezone) if tenant else UTC
        return datetime.fromtimestamp(created, UTC).astimezone(zone).date()

    def _claimed_tenant(self, charge: dict[str, Any], intent_id: str | None) -> str | None:
        """The tenant an unknown charge says it is for (the metadata we put on intents),
        believed only when it came through that tenant's own Stripe account."""
        metadata = dict(charge.get("metadata") or {})
        if not metadata.get("tenant_id") and intent_id:
            intent = reconciliation_stripe.intent(intent_id, self.account)
            metadata = dict(intent.get("metadata") or {})
        tenant = self._tenant(metadata.get("tenant_id"))
        if tenant is None or tenant.stripe_account_id != self.account:
            return None
        return tenant.tenant_id

    def _store(self, tenant_id: str | None, found: Entry) -> None:
        # The day was reckoned before the tenant was known for some entries: settle it now.
        found.day = self._day(tenant_id, int(found.created_at.timestamp()))
        kind = "PAYOUT" if found.status == rules.PAYOUT else "TXN"
        key = keys.reconciliation_entry(
            tenant_id, found.day.isoformat(), kind, found.transaction_id
        )

        def attempt() -> None:  # lost if another run wrote this entry meanwhile: merge again
            stored = get(key, Entry)
            entry, new = rules.merge(found, stored)
            tx = Transaction()
            tx.put(record(key, "reconciliation", tenant_id, entry), label="entry", entity=entry)
            tx.commit()
            self.entries += 1
            if new:
                _announce(tenant_id, entry, new)

        retrying(attempt, 3, reraise=True)


def _describe(entry: Entry, payment: Payment) -> None:
    entry.payment_id, entry.job_id, entry.invoice_id = (
        payment.payment_id,
        payment.job_id,
        payment.invoice_id,
    )


def _refund_recorded(payment: Payment, refund: dict[str, Any]) -> bool:
    meta = refund.get("metadata") or {}
    return invoice_rules.find_refund(payment, meta.get("refund_id"), refund.get("id")) is not None


def _refund_not_recorded(payment: Payment | None, refunded_cents: int) -> Mismatch:
    return Mismatch(
        kind=rules.REFUND_NOT_RECORDED,
        message="Stripe refunded more than the payment records",
        expected_cents=payment.refunded_cents if payment else 0,
        actual_cents=refunded_cents,
    )


def _id_of(value: Any) -> str | None:
    if isinstance(value, dict):
        return value.get("id")
    return value or None


def _announce(tenant_id: str | None, entry: Entry, mismatches: list[Mismatch]) -> None:
    events = [
        eventbus.BusEvent(
            "ReconciliationMismatch",
            {
                "tenant_id": tenant_id,
                "day": entry.day.isoformat(),
                "kind": mismatch.kind,
                "message": mismatch.message,
                "expected_cents": mismatch.expected_cents,
                "actual_cents": mismatch.actual_cents,
                "transaction_id": entry.transaction_id,
                "charge_id": entry.charge_id,
                "refund_id": entry.refund_id,
                "payment_intent_id": entry.payment_intent_id,
                "payment_id": entry.payment_id,
                "job_id": entry.job_id,
                "invoice_id": entry.invoice_id,
                "amount_cents": entry.amount_cents,
                "currency": entry.currency,
                "account": entry.account,
            },
        )
        for mismatch in mismatches
    ]
    for refused in eventbus.publish(events):
        logger.error("mismatch not announced", extra={"code": refused.code})


def _save_cursor(account: str | None, newest: int) -> None:
    key = keys.reconciliation_cursor(account)

    def attempt() -> None:
        stored = get(key, Cursor)
        if stored is not None and stored.created >= newest:
            return
        cursor = Cursor(
            account=account,
            created=newest,
            updated_at=clock.now(),
            version=stored.version if stored else None,
        )
        tx = Transaction()
        tx.put(record(key, "reconciliation_cursor", None, cursor), label="cursor", entity=cursor)
        tx.commit()

    # Other runs kept saving the cursor: theirs stands, and the next run reads a little more.
    with contextlib.suppress(db.ConditionFailed):
        retrying(attempt, 3, reraise=True)


# --- the report -------------------------------------------------------------------------------


def day_report(caller: Caller, day) -> dict[str, Any]:
    """GET /reports/reconciliation?date=: one Query over the day's entries."""
    items = partition(keys.reconciliation_day(caller.tenant_id, day.isoformat()))
    entries = [entity(item, Entry) for item in items if item.type == "reconciliation"]
    return rules.report(day, entries)
