"""Chasing an unpaid invoice: the steps of the tenant's policy, when each is due, and when to
stop.

Each step is a day relative to the due date (default 3 before, on the day, then 3, 7, 14 and 30
after), texted at 10:00 in the tenant's zone (moved out of quiet hours like every automated
text). Steps already past when the invoice is sent are skipped, except the last, which is due
at once: it is the one that hands the invoice to collections. A promise to pay (a pause until
a date) skips the steps before that date; a last step before it waits for it.

A hold (the job was lost or cancelled) stops every step, the last one too, until the office
resumes the reminders; the pay link keeps working meanwhile, since the money is still owed.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from pydantic import BaseModel, Field

from chalicelib.domain.errors import Conflict, Invalid
from chalicelib.domain.invoices import Invoice
from chalicelib.domain.reminders import at_local, out_of_quiet_hours
from chalicelib.domain.tenants import DunningStep, QuietHours
from chalicelib.domain.timeline import TimelineEvent, event

SEND_AT = time(10, 0)
# Longest promise to pay the office may record.
MAX_PAUSE_DAYS = 90
# A wait may end a moment early or late; a step this close to due is due.
DUE_SLACK = timedelta(minutes=1)


class PlannedStep(BaseModel):
    index: int
    days_from_due: int
    channel: str
    day: date
    send_at: datetime
    last: bool


class Dunning(BaseModel):
    """An invoice's dunning: its execution, the steps done, a promise to pay, collections."""

    invoice_id: str
    job_id: str
    execution_name: str | None = None
    execution_arn: str | None = None
    sent_steps: list[int] = Field(default_factory=list)
    paused_until: date | None = None
    promised_at: datetime | None = None
    promised_by: str | None = None
    note: str | None = None
    collections_at: datetime | None = None
    # A hold is placed once (a job is closed once) and kept after it is resumed: a retried close
    # then knows the office already let the reminders go on.
    hold_reason: str | None = None
    held_at: datetime | None = None
    held_by: str | None = None
    resumed_at: datetime | None = None
    resumed_by: str | None = None
    version: int | None = None

    @property
    def held(self) -> bool:
        return self.hold_reason is not None and self.resumed_at is None


def plan(
    due_date: date, policy: list[DunningStep], timezone: str, quiet: QuietHours
) -> list[PlannedStep]:
    ordered = sorted(policy, key=lambda s: s.days_from_due)
    steps = []
    for index, step in enumerate(ordered):
        day = due_date + timedelta(days=step.days_from_due)
        send_at = out_of_quiet_hours(at_local(day, SEND_AT, timezone), quiet, timezone)
        steps.append(
            PlannedStep(
                index=index,
                days_from_due=step.days_from_due,
                channel=step.channel,
                day=day,
                send_at=send_at,
                last=index == len(ordered) - 1,
            )
        )
    return steps


def next_due(
    steps: list[PlannedStep],
    from_index: int,
    now: datetime,
    paused_until: date | None,
    timezone: str,
    quiet: QuietHours,
    skip_past: bool = False,
) -> tuple[int, datetime] | None:
    """The next step to take from `from_index` on, and when; None when none is left.

    `skip_past` (when planning) passes over steps whose moment has gone, but never the last.
    """
    for step in steps[from_index:]:
        send_at = step.send_at
        if paused_until is not None and step.day < paused_until:
            if not step.last:
                continue
            send_at = out_of_quiet_hours(at_local(paused_until, SEND_AT, timezone), quiet, timezone)
        if skip_past and send_at + DUE_SLACK < now:
            if not step.last:
                continue
            send_at = now
        return step.index, send_at
    return None


def stop_reason(invoice: Invoice) -> str | None:
    """Why chasing this invoice is over, if it is."""
    if invoice.disputed:
        return "disputed"
    if invoice.status in ("paid", "void", "uncollectible"):
        return invoice.status
    if invoice.status == "draft":
        return "not_sent"
    if invoice.balance_cents <= 0:
        return "paid"
    return None


def hold(
    dunning: Dunning, invoice: Invoice, reason: str, actor: str, now: datetime
) -> TimelineEvent:
    """No reminder goes out (nor to collections) until the office resumes them."""
    dunning.hold_reason, dunning.held_at, dunning.held_by = reason, now, actor
    return event(
        invoice.job_id,
        "DunningHeld",
        actor,
        invoice_id=invoice.invoice_id,
        number=invoice.number,
        reason=reason,
    )


def resume(dunning: Dunning, invoice: Invoice, actor: str, now: datetime) -> TimelineEvent:
    """Let the held reminders go on; 409 when nothing holds them."""
    if not dunning.held:
        raise Conflict("the invoice's reminders are not on hold", code="illegal_transition")
    dunning.resumed_at, dunning.resumed_by = now, actor
    return event(
        invoice.job_id,
        "DunningResumed",
        actor,
        invoice_id=invoice.invoice_id,
        number=invoice.number,
        reason=dunning.hold_reason,
    )


def check_pause(until: date, today: date) -> None:
    if until < today:
        raise Invalid("until is in the past", code="invalid_pause")
    if until > today + timedelta(days=MAX_PAUSE_DAYS):
        raise Invalid(f"a promise to pay lasts at most {MAX_PAUSE_DAYS} days", code="invalid_pause")


def collections_notice(number: int | None, customer_name: str, amount: str, due_date: date) -> str:
    what = f"Invoice #{number}" if number else "An invoice"
    return (
        f"{what} for {customer_name} ({amount}, due {due_date:%b} {due_date.day}) is still "
        "unpaid after the last reminder and has been marked for collection."
    )


def local_today(now: datetime, timezone: str) -> date:
    return now.astimezone(ZoneInfo(timezone)).date()


def send_to_collections(invoice: Invoice, actor: str, now: datetime) -> TimelineEvent:
    """After the last reminder: the invoice is handed to collections (`uncollectible`, which
    only paying in full leaves)."""
    previous = invoice.status
    invoice.status, invoice.updated_at = "uncollectible", now
    return event(
        invoice.job_id,
        "InvoiceSentToCollections",
        actor,
        invoice_id=invoice.invoice_id,
        number=invoice.number,
        previous=previous,
        currency=invoice.currency,
        balance_cents=invoice.balance_cents,
        due_date=invoice.due_date.isoformat() if invoice.due_date else None,
    )
