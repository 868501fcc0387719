"""Timeline events: the job's append-only story, audit log and outbox in one."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from chalicelib.domain import clock
from chalicelib.domain.ids import new_id


class TimelineEvent(BaseModel):
    event_id: str
    job_id: str  # "" for an event of a customer's own (its data names the customer_id)
    type: str
    at: datetime
    actor: str
    data: dict[str, Any] = Field(default_factory=dict)


def event(job_id: str, type_: str, actor: str, **data: Any) -> TimelineEvent:
    return TimelineEvent(
        event_id=new_id(), job_id=job_id, type=type_, at=clock.now(), actor=actor, data=data
    )


def customer_event(customer_id: str, type_: str, actor: str, **data: Any) -> TimelineEvent:
    """An event of the customer's own, in no job (a card saved on file)."""
    return event("", type_, actor, customer_id=customer_id, **data)
