"""Count DynamoDB calls with botocore's event hooks, per operation.

`install()` hooks every botocore client created afterwards (PynamoDB's, boto3's, Powertools'),
so it must run before the app makes its first call. `counting()` gives the calls made inside
a block, by operation, and the items those calls read (`Calls.items_read`).
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager

import botocore.session

_local = threading.local()
_installed = False
_forbidden: frozenset[str] = frozenset()


class ForbiddenCall(AssertionError):
    """The app issued an operation it must never issue (a Scan on a request path)."""


# Every call of the process, whichever thread made it (to prove no Scan ever runs).
ALL_CALLS: Counter = Counter()
_all_lock = threading.Lock()


def _record(event_name: str, **_: object) -> None:
    operation = event_name.rsplit(".", 1)[-1]
    if operation in _forbidden:
        raise ForbiddenCall(f"DynamoDB {operation} issued")
    with _all_lock:
        ALL_CALLS[operation] += 1
    counter: Counter | None = getattr(_local, "counter", None)
    if counter is not None:
        counter[operation] += 1


class Calls(Counter):
    """Calls by operation; `items_read` counts what the reads returned."""

    items_read = 0


def _record_items(event_name: str, parsed: dict | None = None, **_: object) -> None:
    """How many items a read returned (Query's Count, GetItem's Item, BatchGetItem's
    Responses): a read that grows with a job's history shows here first."""
    counter: Calls | None = getattr(_local, "counter", None)
    if counter is None or not isinstance(parsed, dict):
        return
    read = parsed.get("Count")
    if read is None and "Item" in parsed:
        read = 1
    if read is None and "Responses" in parsed:
        read = sum(len(items) for items in parsed["Responses"].values())
    counter.items_read += read or 0


def install(forbid: tuple[str, ...] = ()) -> None:
    """Hook every DynamoDB client created from now on; `forbid` operations raise instead."""
    global _installed, _forbidden
    _forbidden = frozenset(forbid)
    if _installed:
        return
    original = botocore.session.Session.create_client

    def create_client(self, service_name, *args, **kwargs):
        client = original(self, service_name, *args, **kwargs)
        if service_name == "dynamodb":
            client.meta.events.register("before-call.dynamodb.*", _record)
            client.meta.events.register("after-call.dynamodb.*", _record_items)
        return client

    botocore.session.Session.create_client = create_client
    _installed = True


@contextmanager
def counting() -> Iterator[Calls]:
    """Calls made by this thread inside the block, by operation name, and the items read."""
    counter = Calls()
    previous, _local.counter = getattr(_local, "counter", None), counter
    try:
        yield counter
    finally:
        _local.counter = previous
