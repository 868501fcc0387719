"""Invoice dunning: one Step Functions execution per sent invoice (dunning.asl.json).

PlanDunning lays out the tenant's policy against the due date; the state machine then loops
Wait → DunningStep. Each step reads the invoice again: paid, void, disputed or already with
collections ends the execution; a promise to pay (`pause-reminders`) moves the next step past
its date; otherwise the customer is texted with the pay link. The last step hands the invoice
to collections and tells the office.

Losing or cancelling the job holds the reminders (in the close's own transaction): the next
step ends the execution without a text, and the step that claims a reminder, like the hand-over
to collections, checks the hold under the dunning record's version, so a hold racing a step
either lands first and stops it or comes after that reminder went. The office resumes them
(`resume-reminders`, a DunningResumed event): the consumer starts a new execution, which skips
the steps whose moment went by while they were held.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from chalicelib.config import get_settings
from chalicelib.domain import clock
from chalicelib.domain import dunning as rules
from chalicelib.domain.callers import SYSTEM, Caller
from chalicelib.domain.currencies import format_money
from chalicelib.domain.dunning import Dunning, PlannedStep
from chalicelib.domain.errors import Conflict, NotFound
from chalicelib.domain.ids import new_id
from chalicelib.domain.invoices import Invoice
from chalicelib.domain.messages import Message
from chalicelib.domain.tenants import Tenant
from chalicelib.domain.timeline import TimelineEvent, event
from chalicelib.integrations import workflows
from chalicelib.integrations.sms import SmsFailed, gateway
from chalicelib.logs import logger
from chalicelib.services import customers, invoicing, jobs, messaging, tenants
from chalicelib.services.common import retrying
from chalicelib.store import jobs as job_store
from chalicelib.store import keys
from chalicelib.store.db import Transaction
from chalicelib.store.records import get, record

ATTEMPTS = 3
REMINDERS_BUSY = "the invoice's reminders are being changed; try again"
# What an execution starts with (`ensure_running`), and a deferred one again.
EXECUTION_INPUT = ("tenant_id", "job_id", "invoice_id")


def system(tenant_id: str) -> Caller:
    return Caller(tenant_id=tenant_id, user_id=SYSTEM, role=SYSTEM)


def execution_name(invoice: Invoice, dunning: Dunning | None = None) -> str:
    # An invoice is sent once; its sending moment tells this dunning apart from any other, and
    # the moment its reminders were resumed tells the execution after a hold apart.
    sent = int(invoice.sent_at.timestamp()) if invoice.sent_at else 0
    parts: list[object] = ["dunning", invoice.invoice_id, sent]
    if dunning is not None and dunning.resumed_at is not None:
        parts.append(f"r{int(dunning.resumed_at.timestamp())}")
    return workflows.execution_name(*parts)


# --- the consumer's side ----------------------------------------------------------------------


def ensure_running(tenant_id: str, job_id: str, invoice_id: str) -> str:
    """Start the invoice's dunning (it was sent, or its reminders resumed) unless it is running
    already, held, or nothing is owed; a resumed one replaces the execution before the hold."""
    invoice = _invoice(system(tenant_id), job_id, invoice_id)
    if invoice is None or invoice.due_date is None or rules.stop_reason(invoice):
        return "not_needed"

    def attempt() -> str:
        dunning = _dunning(tenant_id, invoice_id) or Dunning(invoice_id=invoice_id, job_id=job_id)
        if dunning.held:
            return "held"
        name = execution_name(invoice, dunning)
        if dunning.execution_name == name:
            return "current"
        replaced = dunning.execution_arn
        started = workflows.start(
            workflows.DUNNING,
            name,
            {"tenant_id": tenant_id, "job_id": job_id, "invoice_id": invoice_id},
        )
        dunning.execution_name, dunning.execution_arn = name, started.execution_arn
        # Lost if a promise to pay was recorded meanwhile: keep it, add the execution.
        _save(tenant_id, dunning)
        if replaced and replaced != started.execution_arn:
            workflows.stop(replaced, "the reminders were resumed by a newer execution")
        return "started"

    return retrying(attempt, ATTEMPTS, reraise=True)


# --- the state machine's tasks ----------------------------------------------------------------


def plan(task: dict[str, Any]) -> dict[str, Any]:
    """PlanDunning: the policy's steps against the due date; the first one still ahead."""
    caller = system(task["tenant_id"])
    invoice = _invoice(caller, task["job_id"], task["invoice_id"])
    if invoice is None:
        return _done(task, "gone")
    if reason := rules.stop_reason(invoice):
        return _done(task, reason)
    dunning = _dunning(task["tenant_id"], invoice.invoice_id)
    if dunning is not None and dunning.held:
        return _done(task, "held")
    tenant = tenants.get_settings(caller)
    steps = rules.plan(
        invoice.due_date, tenant.dunning_policy, invoice.timezone, tenant.quiet_hours
    )
    started = workflows.started_at(task)
    state = {
        **task,
        "steps": [s.model_dump(mode="json") for s in steps],
        "started_at": clock.iso(started),
    }
    return _next(state, steps, 0, invoice, tenant, skip_past=True, now=started)


def step(task: dict[str, Any]) -> dict[str, Any]:
    """DunningStep: take the step that is due, or say when the next one is."""
    tenant_id = task["tenant_id"]
    caller = system(tenant_id)
    invoice = _invoice(caller, task["job_id"], task["invoice_id"])
    if invoice is None:
        return _done(task, "gone")
    if reason := rules.stop_reason(invoice):
        return _done(task, reason)
    tenant = tenants.get_settings(caller)
    steps = [PlannedStep.model_validate(s) for s in task["steps"]]
    index = task["next"]
    now = _logical_now(task)
    dunning = _dunning(tenant_id, invoice.invoice_id)
    if dunning is not None and dunning.held:
        return _done(task, "held")
    paused = dunning.paused_until if dunning else None
    due = rules.next_due(steps, index, now, paused, invoice.timezone, tenant.quiet_hours)
    if due is None:
        return _done(task, "no_steps_left")
    due_index, due_at = due
    if due_index != index or due_at > now + rules.DUE_SLACK:
        # A promise to pay was recorded while this step waited: wait for the next one instead.
        return _wait(task, due_index, due_at)
    current = steps[index]
    claimed = _claim(tenant_id, invoice, index)
    if claimed == "held":
        return _done(task, "held")
    if claimed == "claimed":
        _remind(caller, tenant, invoice, current)
    if current.last:
        # Idempotent on its own (an invoice already with collections is left alone), so a
        # retried last step that had texted before failing still hands the invoice over.
        return _done(task, _to_collections(caller, tenant, invoice.job_id, invoice.invoice_id))
    return _next(task, steps, index + 1, invoice, tenant, skip_past=True, paused=paused, now=now)


def _next(
    state: dict[str, Any],
    steps: list[PlannedStep],
    from_index: int,
    invoice: Invoice,
    tenant: Tenant,
    skip_past: bool,
    paused: date | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    if paused is None:
        dunning = _dunning(state["tenant_id"], invoice.invoice_id)
        paused = dunning.paused_until if dunning else None
    due = rules.next_due(
        steps,
        from_index,
        now or clock.now(),
        paused,
        invoice.timezone,
        tenant.quiet_hours,
        skip_past,
    )
    if due is None:
        return _done(state, "no_steps_left")
    index, at = due
    return _wait(state, index, at)


def _wait(state: dict[str, Any], index: int, at: datetime) -> dict[str, Any]:
    """Wait for step `index` at `at`; past this execution's year, a fresh execution started the
    day before plans again instead."""
    started = state.get("started_at")  # None: an execution planned before deferral existed
    if started and workflows.beyond_horizon(at, datetime.fromisoformat(started)):
        restart = {name: state[name] for name in EXECUTION_INPUT}
        deferred = workflows.defer(workflows.DUNNING, state["invoice_id"], restart, at)
        return {**state, "done": False, **deferred}
    return {**state, "next": index, "send_at": clock.iso(at), "done": False}


def _logical_now(task: dict[str, Any]) -> datetime:
    """Now, as far as the step is concerned: at least the moment its wait ended.

    In AWS the two agree. The local stage's clock shortens waits (FIELDLINE_TIME_SCALE)
    without moving the wall clock, so the wait's end is the truer "now" there.
    """
    waited_until = datetime.fromisoformat(task["send_at"].replace("Z", "+00:00"))
    return max(clock.now(), waited_until)


def _done(task: dict[str, Any], outcome: str) -> dict[str, Any]:
    return {**task, "done": True, "outcome": outcome}


def _claim(tenant_id: str, invoice: Invoice, index: int) -> str:
    """Record the step as taken before taking it: a retried task never texts twice, and a
    hold written meanwhile fails the claim's version check, so it is seen on the next read.

    Returns `claimed` (text now), `taken` (an earlier try did) or `held`.
    """

    def attempt() -> str:
        dunning = _dunning(tenant_id, invoice.invoice_id) or Dunning(
            invoice_id=invoice.invoice_id, job_id=invoice.job_id
        )
        if dunning.held:
            return "held"
        if index in dunning.sent_steps:
            return "taken"
        dunning.sent_steps = sorted({*dunning.sent_steps, index})
        _save(tenant_id, dunning)
        return "claimed"

    return retrying(attempt, ATTEMPTS, reraise=True)


def _remind(caller: Caller, tenant: Tenant, invoice: Invoice, current: PlannedStep) -> None:
    # Every step goes by text for now; an `email` step is texted too until email exists.
    job = jobs.load(caller, invoice.job_id).header()
    customer = customers.get(caller, job.customer_id)
    if customer.sms_opted_out:
        logger.info("dunning step not texted: the customer opted out")
        return
    due = invoice.due_date
    values = {
        "job_title": job.title,
        "amount_due": format_money(invoice.balance_cents, invoice.currency, tenant.locale),
        "due_date": f"{due:%a %b} {due.day}",
        "link": invoicing.link_for(caller.tenant_id, invoice) or "",
    }
    messaging.text_from_template(tenant, customer, invoice.job_id, "dunning", values, SYSTEM)


def _to_collections(caller: Caller, tenant: Tenant, job_id: str, invoice_id: str) -> str:
    """Mark the invoice for collection (with its timeline event), then tell the office.

    Returns the step's outcome: `collections`, or `held` when the job was closed meanwhile.
    """

    def attempt() -> tuple[Invoice, str] | str:
        books = invoicing.open_books(caller, job_id)
        invoice = books.invoice(invoice_id)
        dunning = _dunning(caller.tenant_id, invoice_id)
        if dunning is not None and dunning.held:
            return "held"
        if rules.stop_reason(invoice):
            return "collections"  # paid (or voided) at the last moment, or handed over already
        handed = rules.send_to_collections(invoice, SYSTEM, clock.now())
        tx = Transaction()
        if dunning is not None:
            # Written back unchanged: a hold placed since the read fails the hand-over.
            tx.put(_item(caller.tenant_id, dunning), label="dunning", entity=dunning)
        books.record(tx, "invoice_uncollectible", handed, invoices=[invoice]).commit()
        return invoice, customers.get(caller, books.job.customer_id).name

    outcome = retrying(attempt)
    if isinstance(outcome, str):
        return outcome
    invoice, customer_name = outcome
    notice = rules.collections_notice(
        invoice.number,
        customer_name,
        format_money(invoice.balance_cents, invoice.currency, tenant.locale),
        invoice.due_date,
    )
    tell_office(tenant, job_id, "collections", notice)
    return "collections"


def tell_office(tenant: Tenant, job_id: str, kind: str, body: str) -> Message:
    """A note for the office on the job; texted to the business's phone when it has one."""
    settings = get_settings()
    message = Message(
        message_id=new_id(),
        job_id=job_id,
        direction="internal",
        channel="sms" if tenant.phone else "office",
        kind=kind,
        to=tenant.phone or "office",
        from_=tenant.twilio_from_number or settings.twilio_default_from,
        body=body,
        status="sent",
        created_at=clock.now(),
    )
    if tenant.phone:
        try:
            message.provider_id = gateway().send(message.to, message.from_, body, None)
        except SmsFailed as exc:
            message.status, message.error = "failed", str(exc)
    messaging.record_message(tenant.tenant_id, message, SYSTEM)
    return message


# --- a promise to pay -------------------------------------------------------------------------


def pause(
    caller: Caller, job_id: str, invoice_id: str, until: date, note: str | None
) -> dict[str, Any]:
    """Record the customer's promise to pay by `until`: no reminders before that date."""
    collection = jobs.load(caller, job_id)
    invoice = invoicing.require_invoice(collection, invoice_id)
    reason = rules.stop_reason(invoice)
    if reason:
        raise Conflict(
            f"a {reason.replace('_', ' ')} invoice has no reminders to pause",
            code="illegal_transition",
        )
    rules.check_pause(until, rules.local_today(clock.now(), invoice.timezone))

    def attempt() -> dict[str, Any]:
        dunning = _dunning(caller.tenant_id, invoice_id) or Dunning(
            invoice_id=invoice_id, job_id=job_id
        )
        dunning.paused_until, dunning.note = until, note
        dunning.promised_at, dunning.promised_by = clock.now(), caller.user_id
        promised = event(
            job_id,
            "PaymentPromised",
            caller.user_id,
            invoice_id=invoice_id,
            number=invoice.number,
            until=until.isoformat(),
            note=note,
        )
        tx = Transaction()
        tx.put(_item(caller.tenant_id, dunning), label="dunning", entity=dunning)
        tx.put(job_store.event_item(caller.tenant_id, promised), label="PaymentPromised")
        tx.commit()  # lost to a dunning step claimed meanwhile: read again
        return {**dunning.model_dump(), "number": invoice.number}

    return retrying(attempt, ATTEMPTS, busy=REMINDERS_BUSY)


# --- held while the job is closed --------------------------------------------------------------


def unheld_chased(tenant_id: str, invoices: list[Invoice]) -> list[tuple[Invoice, Dunning]]:
    """The invoices still chased whose reminders were never held, each with its dunning record
    (a new one when the execution has not started yet)."""
    found = []
    for invoice in invoices:
        if invoice.due_date is None or rules.stop_reason(invoice):
            continue
        dunning = _dunning(tenant_id, invoice.invoice_id) or Dunning(
            invoice_id=invoice.invoice_id, job_id=invoice.job_id
        )
        if dunning.hold_reason is None:
            found.append((invoice, dunning))
    return found


def queue_hold(
    tx: Transaction, caller: Caller, invoice: Invoice, dunning: Dunning, reason: str
) -> TimelineEvent:
    """Hold the invoice's reminders in `tx` (under the record's version); the DunningHeld event
    is the caller's to save with the job."""
    held = rules.hold(dunning, invoice, reason, caller.user_id, clock.now())
    tx.put(_item(caller.tenant_id, dunning), label=f"dunning {invoice.invoice_id}", entity=dunning)
    return held


def resume(caller: Caller, job_id: str, invoice_id: str) -> dict[str, Any]:
    """The office lets held reminders go on; the DunningResumed event restarts the dunning."""
    invoice = invoicing.require_invoice(jobs.load(caller, job_id), invoice_id)

    def attempt() -> dict[str, Any]:
        dunning = _dunning(caller.tenant_id, invoice_id) or Dunning(
            invoice_id=invoice_id, job_id=job_id
        )
        resumed = rules.resume(dunning, invoice, caller.user_id, clock.now())
        tx = Transaction()
        tx.put(_item(caller.tenant_id, dunning), label="dunning", entity=dunning)
        tx.put(job_store.event_item(caller.tenant_id, resumed), label=resumed.type)
        tx.commit()  # lost if a step or a promise to pay changed the record meanwhile: read again
        return {**dunning.model_dump(), "number": invoice.number}

    return retrying(attempt, ATTEMPTS, busy=REMINDERS_BUSY)


# --- storage ----------------------------------------------------------------------------------


def _invoice(caller: Caller, job_id: str, invoice_id: str) -> Invoice | None:
    try:
        return invoicing.find_invoice(jobs.load(caller, job_id), invoice_id)
    except NotFound:
        return None


def _dunning(tenant_id: str, invoice_id: str) -> Dunning | None:
    return get(keys.workflow(tenant_id, workflows.DUNNING, invoice_id), Dunning)


def _item(tenant_id: str, dunning: Dunning):
    key = keys.workflow(tenant_id, workflows.DUNNING, dunning.invoice_id)
    return record(key, "workflow", tenant_id, dunning)


def _save(tenant_id: str, dunning: Dunning) -> None:
    tx = Transaction()
    tx.put(_item(tenant_id, dunning), label="dunning", entity=dunning)
    tx.commit()
