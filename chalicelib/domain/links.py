"""Signed, expiring, tenant-scoped tokens for the links customers get (quote, invoice, visit).

A token is the claims as URL-safe JSON signed by itsdangerous: the customer needs no account,
and any change to the tenant, object or expiry breaks the signature. Each kind signs under its
own salt, so a quote's token is no invoice's. HMAC-SHA384 rather than SHA-256: its 48 bytes are
exactly 64 base64 characters, so a signature has one spelling (a SHA-256 one has spare bits in
its last character, and a few altered links would still verify).

Secrets rotate: `secrets` is a list, newest first (or one secret). New tokens are signed with
the newest; a token signed with any of them verifies until it expires, so links already texted
keep working after a new secret is put in front.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from itsdangerous import BadData, URLSafeSerializer

Secrets = str | Sequence[str]


@dataclass(frozen=True)
class LinkClaims:
    kind: str  # "quote", "invoice" or "visit"
    tenant_id: str
    job_id: str
    object_id: str
    expires_at: datetime


def serializer(secrets: Secrets, purpose: str) -> URLSafeSerializer:
    """itsdangerous' signer for one purpose (a salt) with the rotated secrets, newest first.

    itsdangerous takes its keys oldest first and signs with the last one.
    """
    keys = [secrets] if isinstance(secrets, str) else list(reversed(secrets))
    if not keys or not all(keys):
        raise ValueError("signing needs at least one non-empty secret")
    return URLSafeSerializer(keys, salt=purpose, signer_kwargs={"digest_method": hashlib.sha384})


def sign(claims: LinkClaims, secrets: Secrets) -> str:
    payload = {
        "t": claims.tenant_id,
        "j": claims.job_id,
        "o": claims.object_id,
        "e": int(claims.expires_at.timestamp()),
    }
    return serializer(secrets, _purpose(claims.kind)).dumps(payload)


def verify(token: str, kind: str, secrets: Secrets, now: datetime) -> LinkClaims | None:
    """The claims of a genuine, unexpired token of this kind; None for anything else."""
    claims = _genuine(token, kind, secrets)
    return claims if claims is not None and claims.expires_at > now else None


def is_expired_link(token: str, kind: str, secrets: Secrets, now: datetime) -> bool:
    """A genuine token past its expiry (the hosted page says 'expired' rather than 'not found')."""
    claims = _genuine(token, kind, secrets)
    return claims is not None and claims.expires_at <= now


def _genuine(token: str, kind: str, secrets: Secrets) -> LinkClaims | None:
    """The claims of a token signed for this kind with one of the secrets, expired or not."""
    try:
        payload = serializer(secrets, _purpose(kind)).loads(token)
        return LinkClaims(
            kind=kind,
            tenant_id=str(payload["t"]),
            job_id=str(payload["j"]),
            object_id=str(payload["o"]),
            expires_at=datetime.fromtimestamp(payload["e"], UTC),
        )
    # A link is whatever was typed: anything but our own token is simply not one.
    except (BadData, KeyError, TypeError, ValueError, OverflowError, OSError):
        return None


def _purpose(kind: str) -> str:
    return f"link:{kind}"
