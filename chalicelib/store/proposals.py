"""Dispatch proposals: a plan of one day, kept until applied or expired (DynamoDB's ttl)."""

from __future__ import annotations

from datetime import datetime
from typing import TypeVar

from pydantic import BaseModel

from chalicelib.store import keys
from chalicelib.store.models import Item
from chalicelib.store.records import get, record

E = TypeVar("E", bound=BaseModel)


def proposal_item(
    tenant_id: str, proposal_id: str, proposal: BaseModel, expires_at: datetime
) -> Item:
    key = keys.dispatch_proposal(tenant_id, proposal_id)
    return record(key, "proposal", tenant_id, proposal, ttl=int(expires_at.timestamp()))


def get_proposal(tenant_id: str, proposal_id: str, cls: type[E]) -> E | None:
    """The proposal as stored: it may have expired, since DynamoDB deletes late."""
    return get(keys.dispatch_proposal(tenant_id, proposal_id), cls)
