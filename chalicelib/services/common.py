"""Helpers every use case shares: loading what a caller may see, and version checks."""

from __future__ import annotations

from typing import TypeVar

from chalicelib.domain.errors import Conflict, NotFound

T = TypeVar("T")


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
