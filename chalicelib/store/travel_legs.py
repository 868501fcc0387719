"""Cached road travel times, one item per ordered pair of places, expiring by ttl."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from chalicelib.store import db, keys
from chalicelib.store.models import Item
from chalicelib.store.records import batch_get, record

Pair = tuple[str, str]  # (origin, destination) place keys


class TravelLeg(BaseModel):
    origin: str
    destination: str
    seconds: int


def get_legs(tenant_id: str, pairs: list[Pair]) -> dict[Pair, int]:
    """The cached seconds of those pairs that are cached (an expired item may still be read:
    DynamoDB deletes late, so the caller's ttl is checked here)."""
    now = datetime.now().astimezone()
    found = batch_get([keys.travel_leg(tenant_id, *pair) for pair in pairs])
    return {
        (item.data["origin"], item.data["destination"]): int(item.data["seconds"])
        for item in found
        if item.ttl is None or item.ttl > now
    }


def put_legs(tenant_id: str, seconds: dict[Pair, int], expires_at: datetime) -> None:
    """BatchWriteItem, 25 items a call (PynamoDB pages them and retries unprocessed ones)."""
    ttl = int(expires_at.timestamp())
    with db.translate_errors(), Item.batch_write() as batch:
        for (origin, destination), value in seconds.items():
            leg = TravelLeg(origin=origin, destination=destination, seconds=value)
            batch.save(
                record(
                    keys.travel_leg(tenant_id, origin, destination), "leg", tenant_id, leg, ttl=ttl
                )
            )
