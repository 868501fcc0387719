"""The application's own EventBridge bus: whatever the timeline tells, integrations may hear.

Events go out as `source=fieldline`, `detail-type=<EventName>`, with the full payload as the
detail. PutEvents takes at most 10 entries a call and may refuse some of them (throttling,
an internal error) while accepting the rest; `publish` retries just the refused ones a few
times and hands back whatever still failed, so the caller decides what to redeliver.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from chalicelib.config import get_settings
from chalicelib.integrations.aws import client
from chalicelib.logs import logger

SOURCE = "fieldline"
MAX_BATCH = 10  # PutEvents' limit on entries per call
PUT_ATTEMPTS = 3
# Between attempts; a test replaces it to run without real sleeps.
pause: Callable[[float], None] = time.sleep


@dataclass(frozen=True)
class BusEvent:
    detail_type: str
    detail: dict[str, Any]
    at: datetime | None = None


@dataclass(frozen=True)
class Refused:
    """An event the bus still refused after every attempt: its position in the input."""

    index: int
    code: str
    message: str


def publish(events: list[BusEvent]) -> list[Refused]:
    """Put the events on the bus in batches of at most 10; retry refused entries.

    Returns the events that could not be put (none, normally), in input order.
    """
    refused: list[Refused] = []
    for start in range(0, len(events), MAX_BATCH):
        batch = events[start : start + MAX_BATCH]
        for failure in _put_batch(batch):
            refused.append(Refused(start + failure.index, failure.code, failure.message))
    return refused


def _put_batch(batch: list[BusEvent]) -> list[Refused]:
    entries = [_entry(evt) for evt in batch]
    pending = list(range(len(batch)))
    failures: dict[int, Refused] = {}
    for attempt in range(PUT_ATTEMPTS):
        if attempt:
            pause(0.1 * 2**attempt)
        try:
            response = client("events").put_events(Entries=[entries[i] for i in pending])
        except Exception as exc:  # a throttled or unreachable bus: every entry of the call
            logger.warning("put_events failed", extra={"error": str(exc)})
            failures = {i: Refused(i, "PutEventsFailed", str(exc)) for i in pending}
            continue
        failures = {}
        for i, result in zip(pending, response.get("Entries", []), strict=False):
            if result.get("ErrorCode"):
                failures[i] = Refused(i, result["ErrorCode"], result.get("ErrorMessage", ""))
        if not response.get("FailedEntryCount") and not failures:
            return []
        pending = sorted(failures)
    for failure in failures.values():
        logger.warning("event not put on the bus", extra={"code": failure.code})
    return sorted(failures.values(), key=lambda f: f.index)


def _entry(evt: BusEvent) -> dict[str, Any]:
    entry = {
        "Source": SOURCE,
        "DetailType": evt.detail_type,
        "Detail": json.dumps(evt.detail, separators=(",", ":"), default=str),
        "EventBusName": get_settings().event_bus_name,
    }
    if evt.at is not None:
        entry["Time"] = evt.at
    return entry
