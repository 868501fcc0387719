"""The job: the aggregate that travels from lead to paid. Rules set its stage, never a client."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from chalicelib.domain import clock
from chalicelib.domain.errors import Conflict
from chalicelib.domain.timeline import TimelineEvent, event

FLOW = ("lead", "quoted", "approved", "scheduled", "in_progress", "completed", "invoiced", "paid")
# Closed for good: nothing more is quoted, scheduled or billed. `paid` is not closed: it follows
# the money (chalicelib/domain/ledger.py), so a refund or a new invoice reopens it, and
# follow-up (warranty) visits can still be booked on a paid job.
CLOSED = ("lost", "cancelled")
STAGES = (*FLOW, "lost", "cancelled", "on_hold")
PRIORITIES = ("low", "normal", "high", "emergency")


class Job(BaseModel):
    job_id: str
    customer_id: str
    title: str
    currency: str = "USD"
    description: str | None = None
    source: str | None = None
    priority: str = "normal"
    tags: list[str] = Field(default_factory=list)
    stage: str = "lead"
    closed_reason: str | None = None
    # Work done before the business moved to Fieldline (POST /imports/jobs): what the other
    # product said the job came to and whether it was paid. Information only: no invoice bills
    # it, so the ledger (domain/ledger.py, which reads invoices alone) never counts it.
    imported_total_cents: int | None = None
    imported_status: str | None = None
    created_at: datetime
    updated_at: datetime
    version: int | None = None

    @property
    def is_open(self) -> bool:
        return self.stage not in CLOSED

    @property
    def is_settled(self) -> bool:
        """Billed and paid in full: the stage a refund, a lost dispute or a new invoice leaves."""
        return self.stage == "paid"


def new_lead(
    job_id: str, customer_id: str, title: str, actor: str, **fields
) -> tuple[Job, TimelineEvent]:
    moment = clock.now()
    job = Job(
        job_id=job_id,
        customer_id=customer_id,
        title=title,
        created_at=moment,
        updated_at=moment,
        **fields,
    )
    return job, event(job_id, "LeadCreated", actor, customer_id=customer_id, title=title)


def advance(job: Job, stage: str, actor: str, **data) -> TimelineEvent | None:
    """Move the job forward along the flow; never backwards, never out of a closed stage.

    Returns the JobStageChanged event, or None when the job is already at or past `stage`
    (late or repeated signals are harmless).
    """
    if not job.is_open:
        raise Conflict(f"job is {job.stage}", code="illegal_transition")
    if job.stage in FLOW and FLOW.index(job.stage) >= FLOW.index(stage):
        return None
    return _move(job, stage, actor, **data)


def close(job: Job, stage: str, reason: str, actor: str) -> TimelineEvent:
    """Lose or cancel: allowed at any point before the job is paid (then money goes back by
    refunds, and the job reopens to `invoiced`)."""
    if not job.is_open or job.is_settled:
        raise Conflict(f"job is already {job.stage}", code="illegal_transition")
    job.closed_reason = reason
    return _move(job, stage, actor, reason=reason)


def touch(job: Job) -> None:
    job.updated_at = clock.now()


def _move(job: Job, stage: str, actor: str, **data) -> TimelineEvent:
    previous, job.stage = job.stage, stage
    touch(job)
    return event(job.job_id, "JobStageChanged", actor, previous=previous, stage=stage, **data)
