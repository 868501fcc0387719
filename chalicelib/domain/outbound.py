"""Outbound webhooks: what a subscriber receives, how it is signed, and when it is retried.

Pure rules (no I/O): the event's public type, the payload and its bytes, the
`Fieldline-Signature` header, the retry schedule, and which receiver addresses are refused
(the server-side request forgery guard; resolving the host is integrations/outbound_http.py's).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import re
from datetime import datetime, timedelta
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, Field

from chalicelib.domain.errors import Invalid

# A receiver that answers within this many seconds has answered (else: retried).
TIMEOUT_SECONDS = 10
# Retries: 30 s, 1 min, 2 min, ... doubling up to an hour apart, for 24 h after the first try.
FIRST_RETRY = timedelta(seconds=30)
LONGEST_RETRY = timedelta(hours=1)
RETRY_WINDOW = timedelta(hours=24)
# After a rotation the previous secret keeps signing (a second v1) for this long.
ROTATION_GRACE = timedelta(hours=24)
ALL = "*"
TYPE_PATTERN = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$")
_WORD = re.compile(r"[A-Z][a-z0-9]*")
LOCAL_RECEIVER = ipaddress.ip_address("127.0.0.1")


class Subscription(BaseModel):
    subscription_id: str
    url: str
    events: list[str]
    description: str | None = None
    # The signing secrets, sealed (store/subscriptions.py): never stored or listed in the clear.
    sealed_secret: str
    sealed_previous: str | None = None
    previous_until: datetime | None = None
    created_at: datetime
    version: int | None = None

    def sealed_secrets(self, now: datetime) -> list[str]:
        """The secrets that sign now: the current one, and the previous one in its grace."""
        live = [self.sealed_secret]
        if self.sealed_previous and self.previous_until and now < self.previous_until:
            live.append(self.sealed_previous)
        return live


DeliveryStatus = Literal["pending", "delivered", "failed"]


class Delivery(BaseModel):
    delivery_id: str
    subscription_id: str
    event_id: str
    job_id: str | None
    type: str
    sequence: int | None
    status: DeliveryStatus = "pending"
    attempts: int = 0
    last_status_code: int | None = None
    last_error: str | None = None
    first_attempt_at: datetime | None = None
    next_attempt_at: datetime | None = None
    delivered_at: datetime | None = None
    created_at: datetime
    replay_of: str | None = None
    payload: dict[str, Any] = Field(default_factory=dict)
    version: int | None = None


class Lane(BaseModel):
    """How far one subscription has been sent one timeline (the timeline sort key of the last
    event settled: delivered, failed, or not wanted)."""

    subscription_id: str
    lane_id: str
    cursor: str
    version: int | None = None


def timeline_of(event: dict[str, Any]) -> dict[str, str] | None:
    """Which timeline an event is in: its job's, or (an event of no job, such as a card saved)
    its customer's own; None for an event of neither (the platform's)."""
    if event.get("job_id"):
        return {"job_id": event["job_id"]}
    inner = event.get("data")
    customer_id = inner.get("customer_id") if isinstance(inner, dict) else None
    return {"customer_id": customer_id} if customer_id else None


def lane_id(timeline: dict[str, str]) -> str:
    return timeline.get("job_id") or f"customer-{timeline['customer_id']}"


def tried(delivery: Delivery, status_code: int | None, error: str, now: datetime, scale: float):
    """The delivery after one attempt: delivered on a 2xx, else due again or failed."""
    first = delivery.first_attempt_at or now
    attempts = delivery.attempts + 1
    changes: dict[str, Any] = {
        "attempts": attempts,
        "last_status_code": status_code,
        "last_error": error or None,
        "first_attempt_at": first,
    }
    if status_code is not None and 200 <= status_code < 300:
        changes.update(status="delivered", delivered_at=now, next_attempt_at=None)
    else:
        due = next_attempt(attempts, first, now, scale)
        changes.update(status="pending" if due else "failed", next_attempt_at=due)
    return delivery.model_copy(update=changes)


def event_type(name: str) -> str:
    """The timeline's `InvoicePaid` is the subscriber's `invoice.paid`: the last word is what
    happened, the words before it what it happened to (`PaymentMethodSaved` →
    `payment_method.saved`, `JobStageChanged` → `job_stage.changed`)."""
    words = [w.lower() for w in _WORD.findall(name)] or [name.lower()]
    return words[0] if len(words) == 1 else f"{'_'.join(words[:-1])}.{words[-1]}"


def wants(events: list[str], type_: str) -> bool:
    return ALL in events or type_ in events


def check_event_filter(events: list[str]) -> list[str]:
    """`["*"]` or dotted lower-case types; duplicates dropped, order kept."""
    unique = list(dict.fromkeys(events))
    if ALL in unique and len(unique) > 1:
        raise Invalid("`*` already means every event")
    for name in unique:
        if name != ALL and not TYPE_PATTERN.match(name):
            raise Invalid(f"'{name}' is not an event type like invoice.paid")
    return unique


def payload(event: dict[str, Any], sequence: int | None, resources: dict[str, Any]) -> dict:
    """The body a subscriber receives for one timeline event: the event (its id, type, time,
    actor and what happened) and the resources it is about as they are now."""
    return {
        "id": event["event_id"],
        "type": event_type(event["type"]),
        "created": event["at"],
        "sequence": sequence,
        "job_id": event.get("job_id") or None,
        "data": {"event": event, **resources},
    }


def body_bytes(document: dict[str, Any]) -> bytes:
    """The exact bytes sent (and signed): compact JSON, keys sorted."""
    return json.dumps(document, separators=(",", ":"), sort_keys=True, default=str).encode()


def signature(secrets: list[str], timestamp: int, body: bytes) -> str:
    """`t=<unix>,v1=<hex>[,v1=<hex>]`: HMAC-SHA256 of `<t>.<body>` with each live secret (the
    current one first; during a rotation's grace the previous one too, as Stripe does)."""
    signed = f"{timestamp}.".encode() + body
    parts = [f"t={timestamp}"]
    for secret in secrets:
        parts.append("v1=" + hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest())
    return ",".join(parts)


def next_attempt(attempts: int, first_attempt: datetime, now: datetime, scale: float = 1.0):
    """When to try again after `attempts` failed tries, or None: the 24 h are over and the
    delivery has failed. `scale` shrinks the schedule (the local stage's fast clock)."""
    delay = min(FIRST_RETRY * 2 ** max(attempts - 1, 0), LONGEST_RETRY) / scale
    due = now + delay
    return due if due - first_attempt <= RETRY_WINDOW / scale else None


# --- the server-side request forgery guard -------------------------------------------------


def receiver(url: str, allow_local: bool) -> tuple[str, str, int]:
    """(scheme, host, port) of a receiver URL, or 422 `unsafe_webhook_url`.

    Deployed stages take only `https://` URLs without credentials; the local stage also takes
    `http://127.0.0.1:<port>` (a receiver on the developer's machine)."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise _unsafe(url, "is not a URL") from exc
    host = parts.hostname or ""
    if parts.username or parts.password:
        raise _unsafe(url, "carries credentials")
    if not host:
        raise _unsafe(url, "names no host")
    if parts.scheme == "https":
        return "https", host, port or 443
    if parts.scheme == "http" and allow_local and host == "127.0.0.1" and port:
        return "http", host, port
    raise _unsafe(url, "is not https")


def refused_address(address: str, allow_local: bool = False) -> str | None:
    """Why a receiver may not be at this IP address (None: it may)."""
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped  # ::ffff:169.254.169.254 is the metadata service too
    if allow_local and ip == LOCAL_RECEIVER:
        return None  # the local stage's receivers on the developer's machine
    if ip.is_loopback:
        return "a loopback address"
    if ip.is_link_local:  # 169.254.169.254 (instance metadata), fe80::/10
        return "a link-local address"
    if ip.is_private or ip.is_reserved or ip.is_multicast or ip.is_unspecified:
        return "a private or reserved address"
    if not ip.is_global:  # 100.64.0.0/10 (carrier-grade NAT), fd00:ec2::254 and the like
        return "not a public address"
    return None


def _unsafe(url: str, why: str) -> Invalid:
    message = f"the receiver URL {why}"
    return Invalid(message, [{"field": "url", "message": message}], code="unsafe_webhook_url")


def unsafe_address(address: str, why: str) -> Invalid:
    message = f"the receiver's host resolves to {why} ({address})"
    return Invalid(message, [{"field": "url", "message": message}], code="unsafe_webhook_url")
