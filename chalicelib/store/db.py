"""Connection, transactions and error translation for the one table."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from typing import Any

from pynamodb.connection import Connection
from pynamodb.exceptions import PynamoDBException, TransactWriteError
from pynamodb.expressions.condition import Condition
from pynamodb.expressions.update import Action
from pynamodb.transactions import TransactWrite

from chalicelib.config import get_settings
from chalicelib.domain.errors import BadRequest, Conflict, Unavailable
from chalicelib.store.models import Item

# DynamoDB answers these when it is overloaded or racing: the caller may safely retry.
RETRYABLE = {
    "ProvisionedThroughputExceededException",
    "ThrottlingException",
    "RequestLimitExceeded",
    "InternalServerError",
    "ServiceUnavailable",
    "TransactionInProgressException",
}


@lru_cache(maxsize=1)
def connection() -> Connection:
    settings = get_settings()
    return Connection(region=settings.aws_region, host=settings.aws_endpoint_url)


class Transaction:
    """A TransactWriteItems of up to 100 writes that either all happen or none do.

    Each write carries a label so a failed condition can name what it protects (for example
    the visit a technician is already booked on).
    """

    def __init__(self) -> None:
        self._writes: dict[str, list[tuple[str, Any]]] = {
            "check": [],
            "delete": [],
            "put": [],
            "update": [],
        }
        self._versioned: list[tuple[Any, Item]] = []

    def put(
        self, item: Item, condition: Condition | None = None, label: str = "", entity=None
    ) -> None:
        """Put an item; `entity` (the domain object it came from) gets the new version."""
        self._writes["put"].append((label or item.sk, (item, condition)))
        if entity is not None:
            self._versioned.append((entity, item))

    def update(
        self,
        item: Item,
        actions: list[Action],
        condition: Condition | None = None,
        label: str = "",
        versioned: bool = True,
    ) -> None:
        self._writes["update"].append((label or item.sk, (item, actions, condition, versioned)))

    def check(self, pk: str, sk: str, condition: Condition, label: str = "") -> None:
        self._writes["check"].append((label or sk, (pk, sk, condition)))

    def delete(self, pk: str, sk: str, condition: Condition | None = None, label: str = "") -> None:
        """Delete an item; unversioned, so `condition` says what must still hold."""
        self._writes["delete"].append((label or sk, (pk, sk, condition)))

    def commit(self) -> None:
        with translate_errors(self._labels()), TransactWrite(connection=connection()) as tx:
            for _, (pk, sk, condition) in self._writes["check"]:
                tx.condition_check(Item, pk, sk, condition=condition)
            for _, (pk, sk, condition) in self._writes["delete"]:
                tx.delete(Item(pk, sk), condition=condition, add_version_condition=False)
            for _, (item, condition) in self._writes["put"]:
                tx.save(item, condition=condition)
            for _, (item, actions, condition, versioned) in self._writes["update"]:
                tx.update(item, actions, condition=condition, add_version_condition=versioned)
        for entity, item in self._versioned:
            entity.version = item.version

    def _labels(self) -> list[str]:
        # TransactWrite sends checks, deletes, puts, updates in that order; reasons follow it.
        return [
            label
            for group in ("check", "delete", "put", "update")
            for label, _ in self._writes[group]
        ]


# A failed version check, or another transaction writing the same item at that moment
# (TransactionConflict): either way the caller lost a race, and may reload and retry.
LOST_RACE = ("ConditionalCheckFailed", "TransactionConflict")


class ConditionFailed(Conflict):
    """A write's condition failed; `labels` names the writes that failed."""

    def __init__(self, labels: list[str]):
        super().__init__(
            "the object was changed by someone else; reload and retry", code="version_conflict"
        )
        self.labels = labels


@contextmanager
def translate_errors(labels: list[str] | None = None) -> Iterator[None]:
    try:
        yield
    except TransactWriteError as exc:
        reasons = exc.cancellation_reasons or []
        failed = [
            label
            for label, reason in zip(labels or [], reasons, strict=False)
            if reason is not None and reason.code in LOST_RACE
        ]
        if failed:
            raise ConditionFailed(failed) from exc
        raise _unavailable(exc) from exc
    except PynamoDBException as exc:
        if _response_code(exc) == "ConditionalCheckFailedException":
            raise ConditionFailed(labels or []) from exc
        raise _unavailable(exc) from exc


def _response_code(exc: PynamoDBException) -> str | None:
    try:
        return exc.cause_response_code
    except AttributeError:  # a timeout carries `response=None`, which PynamoDB reads as a dict
        return None


def _unavailable(exc: PynamoDBException) -> Unavailable:
    code = _response_code(exc) or "ConnectionError"
    return Unavailable(f"storage is busy ({code}); retry shortly", code="storage_unavailable")


# --- cursors ---------------------------------------------------------------------------------

CURSOR_INFO = b"fieldline list cursor"


def encode_cursor(last_key: dict[str, Any] | None, tenant_id: str, scope: str) -> str | None:
    """An opaque cursor: the last key read, encrypted (a client reads no key in it) and
    authenticated (it cannot forge one), for one tenant and one list with its filters (`scope`):
    used anywhere else it is refused."""
    if not last_key:
        return None
    payload = json.dumps({"t": tenant_id, "s": _fingerprint(scope), "k": last_key})
    return _cursor_cipher(get_settings().link_secrets).encrypt(payload.encode()).decode()


def decode_cursor(cursor: str | None, tenant_id: str, scope: str) -> dict[str, Any] | None:
    if not cursor:
        return None
    from cryptography.fernet import InvalidToken

    try:
        payload = json.loads(_cursor_cipher(get_settings().link_secrets).decrypt(cursor.encode()))
    except (InvalidToken, ValueError, UnicodeError) as exc:
        raise BadRequest("the cursor is not valid", code="invalid_cursor") from exc
    if not isinstance(payload, dict) or (payload.get("t"), payload.get("s")) != (
        tenant_id,
        _fingerprint(scope),
    ):
        raise BadRequest("the cursor belongs to another list", code="invalid_cursor")
    return payload["k"]


def _fingerprint(scope: str) -> str:
    return hashlib.sha256(scope.encode()).hexdigest()[:24]


def sealing_cipher(info: bytes):
    """The same cipher for another purpose (`info` keeps the keys apart): what must be read
    back but never stored in the clear (outbound webhooks' signing secrets)."""
    return _cursor_cipher(get_settings().link_secrets, info)


@lru_cache(maxsize=8)
def _cursor_cipher(secrets: tuple[str, ...], info: bytes = CURSOR_INFO):
    """Fernet (AES-128-CBC and HMAC-SHA256) under a key derived from each link secret, newest
    first: new cursors use the newest, and one made before a rotation still opens."""
    from cryptography.fernet import Fernet, MultiFernet
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    def key(secret: str) -> bytes:
        derived = HKDF(hashes.SHA256(), length=32, salt=None, info=info).derive(secret.encode())
        return base64.urlsafe_b64encode(derived)

    return MultiFernet([Fernet(key(secret)) for secret in secrets])
