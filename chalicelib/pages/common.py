"""What every customer page shares: telling an expired link from a bad one, the business
around the page, reading a posted form."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import parse_qs

from chalice import Response

from chalicelib.config import get_settings
from chalicelib.domain import clock, links
from chalicelib.domain.callers import CUSTOMER, Caller
from chalicelib.domain.errors import NotFound
from chalicelib.domain.tenants import Tenant
from chalicelib.pages import render
from chalicelib.services import tenants

# Verifying "as of" the epoch checks the signature and kind but not the expiry: how a page
# reads whose link it is once it knows the link is genuine but expired.
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MAX_FORM_FIELDS = 10

KIND_NAMES = {"quote": "quote", "invoice": "invoice", "visit": "appointment", "card": "card"}


def customer(tenant_id: str) -> Caller:
    return Caller(tenant_id=tenant_id, user_id=CUSTOMER, role=CUSTOMER)


def business(tenant_id: str) -> Tenant:
    return tenants.get_settings(customer(tenant_id))


def link_problem(token: str, kind: str, root: str = "../") -> Response:
    """An expired link says so and how to reach the business; anything else is a plain 404
    that tells nothing about what exists."""
    secrets = get_settings().link_secrets
    if not links.is_expired_link(token, kind, secrets, clock.now()):
        return render.not_found(root)
    claims = links.verify(token, kind, secrets, EPOCH)
    try:
        tenant = business(claims.tenant_id) if claims else None
    except NotFound:
        tenant = None
    if tenant is None:
        return render.not_found(root)
    what = KIND_NAMES[kind]
    text = f"Please contact {tenant.name} for a new link."
    return render.message_page(
        f"This {what} link has expired",
        text,
        status=410,
        business=tenant.name,
        phone=tenant.phone,
        root=root,
    )


def form(raw_body: bytes | None) -> dict[str, str]:
    """A form-encoded body as {name: first value}; anything unreadable is an empty form."""
    try:
        text = (raw_body or b"").decode("utf-8")
        fields = parse_qs(text, keep_blank_values=True, max_num_fields=MAX_FORM_FIELDS)
    except (UnicodeDecodeError, ValueError):
        return {}
    return {name: values[0] for name, values in fields.items()}


def one_line(text: str | None) -> str:
    return " ".join((text or "").split())
