"""One id generator: ULIDs are unique, opaque to clients and sort by creation time."""

from ulid import ULID


def new_id() -> str:
    return str(ULID()).lower()
