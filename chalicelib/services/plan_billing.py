"""Service plans' billing: each day, the enrolments with something due are billed, charged,
retried or reminded; Stripe's events and a newly saved card move them on.

- **Billing date** (the tenant's zone): an invoice of kind `plan` on the enrolment's job, in
  the same transaction as the enrolment moving to its next billing date (so a second run for
  the period finds nothing to bill), then sent (numbered, the link texted).
- **Autopay**: the open period is charged off-session to the saved method on the tenant's
  account, with a Stripe idempotency key per enrolment, period, attempt and method: a repeated
  run gets Stripe's first answer again, never a second charge. The payment is recorded by
  Stripe's `payment_intent.succeeded` like any card payment; `after_stripe_event` then makes
  the enrolment active again and texts the receipt.
- **Failure** (a decline, or the bank wants the customer to authenticate): `past_due`, the
  customer texted the card link, the office told (a `PlanPaymentFailed` event on the job's
  timeline); charged again on the tenant's retry days; after the last, `paused` and the
  upcoming visits flagged `plan_paused` for dispatch. A saved card charges again at once.
- A dispute on a plan invoice pauses the enrolment too.
"""

from __future__ import annotations

from datetime import date, datetime

from chalicelib.domain import clock, currencies
from chalicelib.domain import invoices as invoice_rules
from chalicelib.domain import plans as rules
from chalicelib.domain.callers import SYSTEM, Caller
from chalicelib.domain.errors import Conflict, FieldlineError
from chalicelib.domain.invoices import BillLine, Invoice
from chalicelib.domain.plans import Enrolment
from chalicelib.domain.tenants import Tenant
from chalicelib.integrations import payments_stripe as stripe
from chalicelib.logs import logger
from chalicelib.services import customers, invoicing, jobs, messaging, plans, tenants
from chalicelib.services.common import check_version, retrying
from chalicelib.store import invoices as invoice_store
from chalicelib.store import jobs as job_store
from chalicelib.store import plans as store
from chalicelib.store import visits as visit_store
from chalicelib.store.db import Transaction

BILLING = "plan_billing"  # the actor of what the billing run does
FLAG_PAGE = 200
MAX_WRITES = 100  # a transaction's most
AUTOPAY_HOLD = "autopay"  # why a plan invoice's payment reminders wait


def run_due(now: datetime) -> dict[str, int]:
    """Everything due by now, every tenant's (one Query on the index of due enrolments)."""
    done: dict[str, int] = {}
    for tenant_id, enrolment in store.due(clock.iso(now)):
        try:
            for outcome in act(tenant_id, enrolment.customer_id, enrolment.enrolment_id, now):
                done[outcome] = done.get(outcome, 0) + 1
        except FieldlineError:
            logger.exception("plan not billed", extra={"enrolment_id": enrolment.enrolment_id})
            done["failed"] = done.get("failed", 0) + 1
    return done


def act(tenant_id: str, customer_id: str, enrolment_id: str, now: datetime) -> list[str]:
    """What is due on one enrolment today, in order: a renewal notice, the bill, its charge."""
    caller = _system(tenant_id)
    tenant = tenants.get_settings(caller)
    outcomes = []
    enrolment = plans.require(caller, customer_id, enrolment_id)
    on = rules.today(enrolment, now)
    if rules.is_renewal_notice_due(enrolment, on):
        outcomes.append(_announce_renewal(caller, tenant, enrolment))
    if rules.is_bill_due(plans.require(caller, customer_id, enrolment_id), on):
        outcomes.append(_bill(caller, tenant, customer_id, enrolment_id, on))
    enrolment = plans.require(caller, customer_id, enrolment_id)
    if enrolment.open_invoice_id and _draft(caller, enrolment) is not None:
        outcomes.append(_send(caller, enrolment))  # a run cut off between writing and sending
    if rules.is_charge_due(enrolment, on):
        outcomes.append(charge(caller, tenant, enrolment))
    return outcomes


# --- billing ----------------------------------------------------------------------------------


def _bill(caller: Caller, tenant: Tenant, customer_id: str, enrolment_id: str, on: date) -> str:
    def attempt() -> Enrolment | None:
        enrolment = plans.require(caller, customer_id, enrolment_id)
        if not rules.is_bill_due(enrolment, on):
            return None  # billed by a run that got there first
        books = invoicing.open_books(caller, enrolment.job_id)
        line = BillLine(
            description=_period_label(enrolment),
            quantity=1,
            unit_price_cents=enrolment.price_cents,
            taxable=False,  # the plan's price is what the customer agreed to pay
        )
        invoice, created = invoice_rules.new_invoice(
            books.job, "plan", [line], 0, tenant.timezone, BILLING, due_days=0
        )
        period = rules.billed(enrolment, invoice.invoice_id)
        books.add(invoice)
        billed = plans.plan_event(
            enrolment, "PlanBilled", BILLING, invoice_id=invoice.invoice_id, period=str(period)
        )
        tx = plans.save(Transaction(), caller.tenant_id, enrolment)
        books.record(tx, "plan_billed", created, billed, invoices=[invoice]).commit()
        return enrolment

    enrolment = retrying(attempt)
    if enrolment is None:
        return "already_billed"
    _send(caller, enrolment)
    if enrolment.autopay:
        _hold_reminders(caller, enrolment)
    else:
        _hand_over(caller, enrolment)
    return "billed"


def _hold_reminders(caller: Caller, enrolment: Enrolment) -> None:
    """Autopay collects the invoice: its payment reminders wait (the customer is texted the
    card link instead), and go on if the plan is paused."""
    from chalicelib.services import dunning

    def attempt() -> None:
        invoice = _open_invoice(caller, enrolment)
        for chased, record in dunning.unheld_chased(caller.tenant_id, [invoice]):
            tx = Transaction()
            held = dunning.queue_hold(tx, caller, chased, record, AUTOPAY_HOLD)
            jobs.record_events(tx, caller, held).commit()

    retrying(attempt)


def _resume_reminders(caller: Caller, enrolment: Enrolment) -> None:
    """Autopay gave up: the invoice's payment reminders take over."""
    from chalicelib.services import dunning

    try:
        dunning.resume(caller, enrolment.job_id, enrolment.open_invoice_id)
    except Conflict:
        logger.info("plan invoice's reminders were not held", extra={"job_id": enrolment.job_id})


def _period_label(enrolment: Enrolment) -> str:
    end = rules.billing_date(
        enrolment.start_date, enrolment.billing_interval, enrolment.periods_billed + 1
    )
    return f"{enrolment.plan_name}: {enrolment.next_bill_on.isoformat()} to {end.isoformat()}"


def _draft(caller: Caller, enrolment: Enrolment) -> Invoice | None:
    invoice = jobs.load(caller, enrolment.job_id).child(
        "invoice", enrolment.open_invoice_id, Invoice
    )
    return invoice if invoice is not None and invoice.status == "draft" else None


def _send(caller: Caller, enrolment: Enrolment) -> str:
    invoicing.send(caller, enrolment.job_id, enrolment.open_invoice_id)
    return "sent"


def _hand_over(caller: Caller, enrolment: Enrolment) -> None:
    """Without autopay the sent invoice is the customer's to pay (and dunning's to chase)."""

    def attempt() -> None:
        current = plans.require(caller, enrolment.customer_id, enrolment.enrolment_id)
        if current.open_invoice_id == enrolment.open_invoice_id:
            rules.settled(current)
            plans.save(Transaction(), caller.tenant_id, current).commit()

    retrying(attempt)


# --- charging ---------------------------------------------------------------------------------


def charge(caller: Caller, tenant: Tenant, enrolment: Enrolment) -> str:
    """Charge the open period's balance to the saved method, then record what came of it."""
    invoice = _open_invoice(caller, enrolment)
    if invoice is None or invoice.balance_cents <= 0 or invoice.status == "paid":
        return _record(caller, tenant, enrolment, None, "nothing_owed")
    method = _method(caller, enrolment)
    if method is None:
        return _record(caller, tenant, enrolment, None, "no_saved_method")
    attempt_no = rules.attempt_number(enrolment)
    result = stripe.charge_saved_method(
        invoice.balance_cents,
        invoice.currency,
        {
            "tenant_id": caller.tenant_id,
            "job_id": invoice.job_id,
            "invoice_id": invoice.invoice_id,
            "invoice_number": str(invoice.number),
            "enrolment_id": enrolment.enrolment_id,
        },
        tenant.stripe_account_id,
        f"plan-{enrolment.enrolment_id}-{enrolment.open_period}-{attempt_no}-{method.id}",
        customer=method.stripe_customer_id,
        payment_method=method.id,
        method_type=method.type,
    )
    return _record(caller, tenant, enrolment, result, None)


def _record(
    caller: Caller,
    tenant: Tenant,
    charged: Enrolment,
    result: stripe.OffSessionCharge | None,
    failure: str | None,
) -> str:
    """The charge's outcome on the enrolment (and, for an intent Stripe took, a pending payment
    the webhook settles), under the versions read: a racing run records it once."""
    failed = failure or (result.failure if result and result.status == "failed" else None)

    def attempt() -> str:
        enrolment = plans.require(caller, charged.customer_id, charged.enrolment_id)
        if enrolment.open_invoice_id != charged.open_invoice_id or rules.attempt_number(
            enrolment
        ) != rules.attempt_number(charged):
            return "already_charged"
        if failure == "nothing_owed":
            rules.settled(enrolment)
            plans.save(Transaction(), caller.tenant_id, enrolment).commit()
            return "nothing_owed"
        if failed is None:
            rules.charging(enrolment)
            tx = plans.save(Transaction(), caller.tenant_id, enrolment)
            _pending_payment(tx, caller, enrolment, result)
            tx.commit()
            return "charged"
        status = rules.charge_failed(enrolment, failed, tenant.plan_retry_days)
        told = plans.plan_event(
            enrolment,
            "PlanPaymentFailed",
            BILLING,
            invoice_id=enrolment.open_invoice_id,
            intent_id=result.intent_id if result else None,
            reason=failed,
            decline_code=result.decline_code if result else None,
            attempt=enrolment.failed_attempts,
            retry_on=str(enrolment.retry_on) if enrolment.retry_on else None,
        )
        events = [told]
        if status == "paused":
            paused = plans.plan_event(enrolment, "PlanPaused", BILLING, reason="payment_failed")
            events.append(paused)
        tx = plans.save(Transaction(), caller.tenant_id, enrolment)
        jobs.record_events(tx, caller, *events).commit()
        return status

    outcome = retrying(attempt)
    if outcome in ("past_due", "paused"):
        _text_failure(caller, tenant, charged)
    if outcome == "paused":
        flag_upcoming_visits(caller, charged.job_id, True)
        _resume_reminders(caller, charged)
    return outcome


def _pending_payment(
    tx: Transaction, caller: Caller, enrolment: Enrolment, result: stripe.OffSessionCharge
) -> None:
    """The intent on the invoice, and a pending payment Stripe's event settles (indexed by the
    intent, as the pay page's are). Nothing when the event got there first."""
    books = invoicing.open_books(caller, enrolment.job_id)
    invoice = books.invoice(enrolment.open_invoice_id)
    if any(p.stripe_payment_intent_id == result.intent_id for p in books.payments):
        return
    invoice.payment_intent_id = result.intent_id
    invoice.payment_intent_amount_cents = invoice.balance_cents
    invoice.updated_at = clock.now()
    pending = invoice_rules.online_payment(
        invoice, result.intent_id, invoice.balance_cents, BILLING
    )
    tx.put(invoice_store.invoice_item(caller.tenant_id, invoice), label="invoice", entity=invoice)
    tx.put(invoice_store.payment_item(caller.tenant_id, pending), label="payment")
    started = invoice_rules.payment_started(pending, BILLING, off_session=True)
    invoicing.events_only(tx, caller.tenant_id, started)


def _open_invoice(caller: Caller, enrolment: Enrolment) -> Invoice | None:
    if enrolment.open_invoice_id is None:
        return None
    return jobs.load(caller, enrolment.job_id).child("invoice", enrolment.open_invoice_id, Invoice)


def _method(caller: Caller, enrolment: Enrolment):
    """The method the enrolment names if it is still saved, else the customer's default."""
    from chalicelib.services import cards

    saved = cards.list_methods(caller.tenant_id, enrolment.customer_id)
    named = next((m for m in saved if m.id == enrolment.payment_method_id), None)
    return named or cards.default_method(caller.tenant_id, enrolment.customer_id)


# --- texts ------------------------------------------------------------------------------------


def _text_failure(caller: Caller, tenant: Tenant, enrolment: Enrolment) -> None:
    from chalicelib.services import cards

    link = cards.card_link(caller.tenant_id, enrolment.customer_id)
    _text(caller, tenant, enrolment, "plan_payment_failed", {"link": link})


def _text(
    caller: Caller, tenant: Tenant, enrolment: Enrolment, kind: str, values: dict[str, str]
) -> None:
    """Texts follow the change they tell of; a carrier's failure is recorded, never raised."""
    try:
        customer = customers.get(caller, enrolment.customer_id)
        amount = currencies.format_money(enrolment.price_cents, enrolment.currency, tenant.locale)
        values = {"job_title": enrolment.plan_name, "amount_due": amount, **values}
        messaging.text_from_template(tenant, customer, enrolment.job_id, kind, values, BILLING)
    except FieldlineError as exc:
        logger.warning("plan text not sent", extra={"kind": kind, "error": exc.message})


def _announce_renewal(caller: Caller, tenant: Tenant, enrolment: Enrolment) -> str:
    def attempt() -> bool:
        current = plans.require(caller, enrolment.customer_id, enrolment.enrolment_id)
        if not rules.is_renewal_notice_due(current, current.next_bill_on):
            return False
        rules.reminded(current)
        plans.save(Transaction(), caller.tenant_id, current).commit()
        return True

    if retrying(attempt):
        renews = enrolment.next_bill_on
        values = {
            "due_date": f"{renews:%b} {renews.day}",
            "link": plans.link_for(caller.tenant_id, enrolment),
        }
        _text(caller, tenant, enrolment, "plan_renewal", values)
    return "renewal_announced"


# --- what Stripe and the customer do ----------------------------------------------------------


def after_stripe_event(tenant_id: str, invoice: Invoice, type_: str) -> None:
    """A plan invoice's money moved (called once per applied Stripe event): paid → active
    again and a receipt; disputed → paused."""
    if invoice.kind != "plan":
        return
    caller = _system(tenant_id)
    enrolment = _enrolment_of(caller, invoice)
    if enrolment is None:
        return
    tenant = tenants.get_settings(caller)
    if type_ == "payment_intent.succeeded" and invoice.status == "paid":
        recovered = _settle(caller, enrolment, invoice)
        link = plans.link_for(tenant_id, enrolment)
        _text(caller, tenant, enrolment, "plan_receipt", {"link": link})
        if recovered:
            flag_upcoming_visits(caller, enrolment.job_id, False)
    elif invoice.disputed and _pause(caller, enrolment, "disputed"):
        flag_upcoming_visits(caller, enrolment.job_id, True)


def _enrolment_of(caller: Caller, invoice: Invoice) -> Enrolment | None:
    found = store.customer_enrolments(caller.tenant_id, invoice.customer_id)
    return next((e for e in found if e.job_id == invoice.job_id), None)


def _settle(caller: Caller, enrolment: Enrolment, invoice: Invoice) -> bool:
    """Whether the payment brought a past-due or paused enrolment back."""

    def attempt() -> bool:
        current = plans.require(caller, enrolment.customer_id, enrolment.enrolment_id)
        was = current.status
        if not rules.paid(current, invoice.invoice_id):
            return False
        tx = plans.save(Transaction(), caller.tenant_id, current)
        recovered = was in rules.COLLECTING and current.status == "active"
        if recovered:
            jobs.record_events(tx, caller, plans.plan_event(current, "PlanRecovered", BILLING))
        tx.commit()
        return recovered

    return retrying(attempt)


def _pause(caller: Caller, enrolment: Enrolment, reason: str) -> bool:
    def attempt() -> bool:
        current = plans.require(caller, enrolment.customer_id, enrolment.enrolment_id)
        if current.status in ("paused", "cancelled"):
            return False
        rules.pause(current, reason)
        tx = plans.save(Transaction(), caller.tenant_id, current)
        paused = plans.plan_event(current, "PlanPaused", BILLING, reason=reason)
        jobs.record_events(tx, caller, paused)
        tx.commit()
        return True

    return retrying(attempt)


def card_saved(tenant_id: str, customer_id: str, method_id: str) -> list[str]:
    """A new card (`PaymentMethodSaved`): every enrolment of the customer being collected is
    charged again at once, on that card."""
    caller = _system(tenant_id)
    tenant = tenants.get_settings(caller)
    outcomes = []
    for enrolment in store.customer_enrolments(tenant_id, customer_id):
        retried = _retry_on_new_card(caller, enrolment, method_id)
        if retried is not None:
            outcomes.append(charge(caller, tenant, retried))
    return outcomes


def _retry_on_new_card(caller: Caller, enrolment: Enrolment, method_id: str) -> Enrolment | None:
    def attempt() -> Enrolment | None:
        current = plans.require(caller, enrolment.customer_id, enrolment.enrolment_id)
        if not rules.retry_now(current, rules.today(current, clock.now()), method_id):
            return None
        plans.save(Transaction(), caller.tenant_id, current).commit()
        return current

    return retrying(attempt)


def resume(
    caller: Caller, customer_id: str, enrolment_id: str, if_match: int | None = None
) -> Enrolment:
    """The office takes a paused plan back (409 from any other state): active, its visits no
    longer flagged, and with autopay the open period charged at once on the saved method, as a
    retry is (a failure pauses it again)."""
    tenant = tenants.get_settings(caller)
    enrolment = plans.get(caller, customer_id, enrolment_id)
    can_charge = _method(caller, enrolment) is not None

    def attempt() -> Enrolment:
        current = plans.require(caller, customer_id, enrolment_id)
        check_version(current.version, if_match)
        rules.resume(current, rules.today(current, clock.now()), can_charge)
        tx = plans.save(Transaction(), caller.tenant_id, current)
        resumed = plans.plan_event(current, "PlanResumed", caller.user_id)
        jobs.record_events(tx, caller, resumed).commit()
        return current

    resumed = attempt() if if_match is not None else retrying(attempt)
    flag_upcoming_visits(caller, resumed.job_id, False)
    if rules.is_charge_due(resumed, rules.today(resumed, clock.now())):
        charge(caller, tenant, resumed)
    return plans.require(caller, customer_id, enrolment_id)


# --- the board --------------------------------------------------------------------------------


def flag_upcoming_visits(caller: Caller, job_id: str, paused: bool) -> int:
    """Flag (or unflag) the plan's upcoming visits `plan_paused` for dispatch, each under its
    version (a quarter's visits at most: the series writes no further ahead)."""
    tenant = tenants.get_settings(caller)

    def attempt() -> int:
        upcoming = job_store.visits_page(
            caller.tenant_id, job_id, clock.iso(clock.now()), None, None, FLAG_PAGE
        ).items
        changed = [v for v in upcoming if rules.flag_visit(v, paused)]
        for start in range(0, len(changed), MAX_WRITES):
            tx = Transaction()
            for visit in changed[start : start + MAX_WRITES]:
                item = visit_store.visit_item(caller.tenant_id, visit, tenant.timezone)
                tx.put(item, label=f"visit {visit.visit_id}", entity=visit)
            tx.commit()
        return len(changed)

    return retrying(attempt)


def _system(tenant_id: str) -> Caller:
    return Caller(tenant_id=tenant_id, user_id=BILLING, role=SYSTEM)
