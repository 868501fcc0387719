"""The job's ledger: what a job bills, and the stage that follows from its money.

One model, applied by every service that changes a job's money (services/invoicing.py):

- **Scope.** What the customer agreed to: the approved option of the job's current quote
  (`domain.quotes.scope`). A revision replaces it only once the customer approves it.
- **The final invoice bills the scope once**: the scope's lines, plus work added on site, less
  every non-void deposit and progress invoice of the job, paid or not, each credited on its own
  line. So deposits and progress bills are advances on the scope, never billed on top of it.
- **A draft final follows the job**: it is priced again whenever the scope or one of the
  invoices it credits changes. A sent invoice never changes; a correction is another invoice
  (a deposit or progress invoice made after the final was sent is extra work, not credited).
- **Stages follow the money.** Sending a final invoice makes the job `invoiced`; the job is
  `paid` while a final invoice is sent and every non-void invoice is paid. A refund, a lost
  dispute or a new invoice reopens it to `invoiced`; voiding the final takes it back to
  `completed`. Each move is a JobStageChanged event that says why (`cause`).
"""

from __future__ import annotations

from chalicelib.domain import jobs as job_rules
from chalicelib.domain.errors import Conflict
from chalicelib.domain.invoices import BillLine, Invoice, bill_lines, set_lines
from chalicelib.domain.jobs import Job
from chalicelib.domain.quotes import QuoteOption
from chalicelib.domain.timeline import TimelineEvent, event

ADVANCES = ("deposit", "progress")  # invoices the final credits
# Sent and not void: the final the customer has.
ISSUED = ("sent", "partially_paid", "paid", "uncollectible")


def scope_lines(option: QuoteOption) -> list[BillLine]:
    """The approved option's lines, as the customer approved them (with the price-book item
    and unit cost they were copied from, for job costing)."""
    return [BillLine(**line.model_dump(), kind="scope") for line in option.line_items]


def deposit_lines(option: QuoteOption) -> list[BillLine]:
    """The deposit the approved option asks for. Untaxed: the final invoice carries the tax."""
    return [
        BillLine(
            description=f"Deposit for {option.name}",
            quantity=1,
            unit_price_cents=option.deposit_cents or 0,
            taxable=False,
            kind="deposit",
        )
    ]


def credit_line(advance: Invoice) -> BillLine:
    """An earlier invoice of the job, taken off the final: its whole total (tax included)."""
    named = f"#{advance.number}" if advance.number is not None else "(not yet sent)"
    return BillLine(
        description=f"Less {advance.kind} invoice {named}",
        quantity=1,
        unit_price_cents=-advance.total_cents,
        taxable=False,
        kind="credit",
        credits_invoice_id=advance.invoice_id,
    )


def final_for(invoices: list[Invoice]) -> Invoice | None:
    """The job's one live final invoice (a void one is history)."""
    return next((i for i in invoices if i.kind == "final" and i.status != "void"), None)


def final_issued(invoices: list[Invoice]) -> bool:
    final = final_for(invoices)
    return final is not None and final.status in ISSUED


def advances(invoices: list[Invoice]) -> list[Invoice]:
    """The deposit and progress invoices a draft final credits, oldest first."""
    live = [i for i in invoices if i.kind in ADVANCES and i.status != "void"]
    return sorted(live, key=lambda i: i.invoice_id)


def final_lines(
    scope: QuoteOption | None, added: list[BillLine], invoices: list[Invoice]
) -> list[BillLine]:
    """Scope + work added on site − every deposit and progress invoice."""
    billed = scope_lines(scope) if scope else []
    return [*billed, *added, *(credit_line(advance) for advance in advances(invoices))]


def reprice_final(
    invoices: list[Invoice], scope: QuoteOption | None, actor: str
) -> TimelineEvent | None:
    """Bring a draft final up to date with the scope and the invoices it credits.

    Returns an InvoiceRepriced event when its lines changed; None when there is no draft final
    or nothing changed. A change that would take it below zero is refused (422).
    """
    final = final_for(invoices)
    if final is None or final.status != "draft":
        return None
    added = [line for line in bill_lines(final) if line.kind == "work"]
    lines = final_lines(scope, added, invoices)
    if lines == bill_lines(final):
        return None
    before = final.total_cents
    set_lines(final, lines)
    return event(
        final.job_id,
        "InvoiceRepriced",
        actor,
        invoice_id=final.invoice_id,
        currency=final.currency,
        previous_total_cents=before,
        total_cents=final.total_cents,
    )


def check_sendable(invoice: Invoice, invoices: list[Invoice]) -> None:
    """A final goes out only once every advance it credits is sent (or voided).

    A final crediting a draft would promise the customer a credit for a bill they never got;
    if the job were then closed, the draft could no longer be sent and its amount would be
    billed nowhere.
    """
    if invoice.kind != "final":
        return
    drafts = [advance for advance in advances(invoices) if advance.status == "draft"]
    if drafts:
        raise Conflict(
            f"the {drafts[0].kind} invoice this final credits is still a draft: send or void it "
            "first",
            code="advance_unsent",
            details=[{"invoice_id": draft.invoice_id, "kind": draft.kind} for draft in drafts],
        )


def check_voidable(invoice: Invoice, invoices: list[Invoice]) -> None:
    """An invoice a sent final credits can't be voided: the customer was charged less for it."""
    final = final_for(invoices)
    if final is None or final.status not in ISSUED or invoice is final:
        return
    if any(line.credits_invoice_id == invoice.invoice_id for line in final.line_items):
        raise Conflict(
            f"final invoice #{final.number} credits this invoice; bill the difference on a new "
            "invoice instead",
            code="illegal_transition",
        )


def money_stage(job: Job, invoices: list[Invoice]) -> str | None:
    """The stage the job's money puts it in, or None when money doesn't decide it (yet)."""
    if not job.is_open:
        return None
    if final_issued(invoices):
        counted = [i for i in invoices if i.status != "void"]
        return "paid" if all(i.status == "paid" for i in counted) else "invoiced"
    if job.stage in ("invoiced", "paid"):
        return "completed"  # the final was voided: the job waits for a new one
    return None


def follow_money(
    job: Job, invoices: list[Invoice], actor: str, cause: str, **data
) -> TimelineEvent | None:
    """Move the job to the stage its money says, forward or back, saying why."""
    stage = money_stage(job, invoices)
    if stage is None or stage == job.stage:
        return None
    previous, job.stage = job.stage, stage
    job_rules.touch(job)
    return event(
        job.job_id, "JobStageChanged", actor, previous=previous, stage=stage, cause=cause, **data
    )
