"""Signed, expiring, tenant-scoped tokens for the links customers get (quote, invoice, visit).

A token is `base64url(json).hmac`: the customer needs no account, and any change to the
tenant, object or expiry breaks the signature.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import UTC, datetime


@dataclass(frozen=True)
class LinkClaims:
    kind: str  # "quote", "invoice" or "visit"
    tenant_id: str
    job_id: str
    object_id: str
    expires_at: datetime


def sign(claims: LinkClaims, secret: str) -> str:
    payload = {
        "k": claims.kind,
        "t": claims.tenant_id,
        "j": claims.job_id,
        "o": claims.object_id,
        "e": int(claims.expires_at.timestamp()),
    }
    body = _b64(json.dumps(payload, separators=(",", ":")).encode())
    return f"{body}.{_mac(body, secret)}"


def verify(token: str, kind: str, secret: str, now: datetime) -> LinkClaims | None:
    """The claims of a genuine, unexpired token of this kind; None for anything else."""
    body, _, mac = token.partition(".")
    if not body or not _genuine(body, mac, secret):
        return None
    try:
        payload = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
        claims = LinkClaims(
            kind=payload["k"],
            tenant_id=payload["t"],
            job_id=payload["j"],
            object_id=payload["o"],
            expires_at=datetime.fromtimestamp(payload["e"], UTC),
        )
    except (ValueError, KeyError, TypeError):
        return None
    if claims.kind != kind or claims.expires_at <= now:
        return None
    return claims


def is_expired_link(token: str, kind: str, secret: str, now: datetime) -> bool:
    """A genuine token past its expiry (the hosted page says 'expired' rather than 'not found')."""
    body, _, mac = token.partition(".")
    if not body or not _genuine(body, mac, secret):
        return False
    payload = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    return payload.get("k") == kind and payload.get("e", 0) <= now.timestamp()


def _genuine(body: str, mac: str, secret: str) -> bool:
    # Bytes, not str: compare_digest raises on a non-ASCII str, and a link is whatever was typed.
    return hmac.compare_digest(mac.encode(), _mac(body, secret).encode())


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _mac(body: str, secret: str) -> str:
    return hmac.new(secret.encode(), b"link:" + body.encode(), hashlib.sha256).hexdigest()
