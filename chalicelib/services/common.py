"""Helpers every use case shares: loading what a caller may see, version checks, and the one
way a read-decide-write is tried again after losing a race."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import TypeVar

from chalicelib.domain.errors import Conflict, NotFound
from chalicelib.logs import logger
from chalicelib.store.db import ConditionFailed

T = TypeVar("T")

# Racing writers (two payments on one job, two notes' events…) each re-read and try again; a
# dozen rounds with growing, jittered pauses settle any realistic burst.
RACE_ATTEMPTS = 12


def found(thing: T | None, what: str) -> T:
    """Missing and another tenant's look the same from outside: 404."""
    if thing is None:
        raise NotFound(f"{what} not found")
    return thing


def check_version(current: int | None, if_match: int | None) -> None:
    if if_match is not None and current != if_match:
        raise Conflict(
            f"version {if_match} is stale; the current version is {current}",
            details=[{"current_version": current}],
            code="version_conflict",
        )


def retrying(
    attempt: Callable[[], T],
    attempts: int = RACE_ATTEMPTS,
    *,
    busy: str = "the job is being changed by someone else; try again",
    reraise: bool = False,
) -> T:
    """Run a read-decide-write attempt again when it lost a race (a stale version).

    After the last lost race: 409 `conflict` saying `busy`, or with `reraise` the last
    ConditionFailed itself (a consumer's message is delivered again; a caller may fall back).
    """
    for round_ in range(attempts):
        try:
            return attempt()
        except ConditionFailed as lost:
            if round_ == attempts - 1:
                if reraise:
                    raise
                break
            logger.info("lost a race; retrying", extra={"failed": lost.labels})
            time.sleep(random.uniform(0, 0.01 * 2 ** min(round_, 5)))  # noqa: S311 (jitter)
    raise Conflict(busy, code="conflict")
