"""Dispatch proposals: a plan of one day, kept until applied or expired (DynamoDB's ttl).

A plan of a 1,000-visit day is some 300 KB of JSON, near DynamoDB's 400 KB item limit, so the
plan's fields are stored compressed (zlib, base64) in one attribute of the one item: the
proposal stays one item, written under its version in one transaction as before (about 20 KB
for 1,000 visits; tests/integration/test_replan.py checks). Items stored before the packing
carry the plan's fields as they are, and read the same.
"""

from __future__ import annotations

import base64
import json
import zlib
from datetime import datetime
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict

from chalicelib.store import keys
from chalicelib.store.models import Item
from chalicelib.store.records import get, record

E = TypeVar("E", bound=BaseModel)

PACKED_FIELDS = (
    "routes",
    "unassigned",
    "skipped_technicians",
    "visit_versions",
    "day_versions",
    "changes",
)


class _Packed(BaseModel):
    """The proposal as stored: its header as is, its plan compressed."""

    model_config = ConfigDict(extra="allow")

    version: int | None = None
    plan_zlib: str | None = None


def proposal_item(
    tenant_id: str, proposal_id: str, proposal: BaseModel, expires_at: datetime
) -> Item:
    key = keys.dispatch_proposal(tenant_id, proposal_id)
    return record(key, "proposal", tenant_id, _pack(proposal), ttl=int(expires_at.timestamp()))


def get_proposal(tenant_id: str, proposal_id: str, cls: type[E]) -> E | None:
    """The proposal as stored: it may have expired, since DynamoDB deletes late."""
    packed = get(keys.dispatch_proposal(tenant_id, proposal_id), _Packed)
    return None if packed is None else cls.model_validate(_unpack(packed))


def _pack(proposal: BaseModel) -> _Packed:
    fields = proposal.model_dump(mode="json")
    plan = {name: fields.pop(name) for name in PACKED_FIELDS if name in fields}
    text = json.dumps(plan, separators=(",", ":")).encode()
    return _Packed(**fields, plan_zlib=base64.b64encode(zlib.compress(text, 6)).decode())


def _unpack(packed: _Packed) -> dict[str, Any]:
    fields = packed.model_dump(exclude={"plan_zlib"})
    if packed.plan_zlib is not None:
        fields |= json.loads(zlib.decompress(base64.b64decode(packed.plan_zlib)))
    return fields
