"""Online booking's own items: the booking page's owner (by slug), and the rate-limit counters.

The rate limit is a fixed-window counter per subject (an IP, a phone): one atomic UpdateItem
ADD per request, whose answer says how many requests the window has seen, on an item DynamoDB
expires once the window is over. Written here rather than taken from a library: the usual
Python limiter (`limits`, which slowapi and Flask-Limiter use) keeps its counters in memory,
Redis, Memcached, MongoDB or etcd, none of which the stage runs; the one table is the store
every Lambda instance shares, and one ADD is the whole algorithm. The window is in the key, so
a counter DynamoDB has not deleted yet (TTL deletes within about two days) never counts in a
later window.
"""

from __future__ import annotations

from datetime import UTC, datetime

from chalicelib.domain.tenants import Tenant
from chalicelib.store import keys
from chalicelib.store.counters import add_one
from chalicelib.store.tenants import BOOKING_SLUG, get_tenant, owner_of

# A window's item outlives its window a little: DynamoDB deletes expired items within days,
# and a counter read after its window has ended is simply a new window's key.
TTL_SLACK_SECONDS = 3600


def tenant_by_slug(slug: str) -> Tenant | None:
    """The business whose booking page is `slug` (its claim, then its settings)."""
    tenant_id = owner_of(BOOKING_SLUG, slug)
    tenant = get_tenant(tenant_id) if tenant_id else None
    return tenant if tenant is not None and tenant.booking_slug == slug else None


def count_request(tenant_id: str, subject: str, now: datetime, window_seconds: int) -> int:
    """Count one request of `subject` in the current window; returns the window's count."""
    window = int(now.timestamp()) // window_seconds
    key = keys.rate_window(tenant_id, subject, window)
    expires = datetime.fromtimestamp((window + 1) * window_seconds + TTL_SLACK_SECONDS, UTC)
    return add_one(key, "rate_window", tenant_id, expires)
