"""The quote page: the options with their lines and totals, approve one by typing a name, or
decline. Plain HTML forms (no script): approve and decline post back and are redirected to
the page (303), which then shows the decision. A quote a newer one replaced says so, and
points to the newer one."""

from __future__ import annotations

from chalice import Response

from chalicelib.domain import clock
from chalicelib.domain.errors import Conflict, Invalid, NotFound
from chalicelib.domain.tenants import Tenant
from chalicelib.domain.timefmt import local_date
from chalicelib.pages import common
from chalicelib.pages.render import document, money_in, page, redirect
from chalicelib.services import customers, quotes

KIND = "quote"
MAX_SIGNATURE = 200
MAX_REASON = 1000
# Errors travel back to the page as a code, never as text from the request.
ERRORS = {
    "signature": "Type your full name to approve.",
    "option": "Choose one of the options below.",
    "answered": "This quote has already been answered.",
    "busy": "The quote was being updated. Please try again.",
    "invoiced": "This work has already been invoiced. Please contact the business about changes.",
}


def show(token: str, error: str | None = None) -> Response:
    try:
        opened = quotes.open_link(token)
    except NotFound:
        return common.link_problem(token, KIND)
    tenant = common.business(opened.caller.tenant_id)
    if opened.is_superseded:
        return _replaced(opened, tenant)
    customer = customers.get(opened.caller, opened.job.customer_id)
    quote = opened.quote
    chosen = quote.option(quote.approved_option_id or "") if quote.status == "approved" else None
    return page(
        document(
            "quote.html",
            f"Quote: {opened.job.title}",
            business=tenant.name,
            logo_url=tenant.logo_url,
            phone=tenant.phone,
            token=token,
            quote=quote,
            chosen=chosen,
            approved_on=local_date(quote.approved_at or clock.now(), tenant.timezone),
            error=ERRORS.get(error or ""),
            customer_name=customer.name,
            job_title=opened.job.title,
            valid_until=local_date(quote.expires_at, tenant.timezone),
            tax_rate=_percent(quote.tax_rate_bps),
            money=money_in(quote.currency, tenant.locale),
            max_signature=MAX_SIGNATURE,
            max_reason=MAX_REASON,
        )
    )


def approve(token: str, raw_body: bytes | None, ip: str | None) -> Response:
    fields = common.form(raw_body)
    option_id = fields.get("option_id", "").strip()
    signed_by = common.one_line(fields.get("signed_by"))
    if not signed_by or len(signed_by) > MAX_SIGNATURE:
        return _back(token, "signature")
    if not option_id or len(option_id) > 64:
        return _back(token, "option")
    try:
        quotes.approve(token, option_id, signed_by, ip)
    except NotFound:
        return common.link_problem(token, KIND, root="../../")
    except Invalid:
        return _back(token, "option")
    except Conflict as conflict:
        return _back(token, _error_of(conflict))
    return _back(token)


def decline(token: str, raw_body: bytes | None) -> Response:
    reason = (common.form(raw_body).get("reason") or "").strip()[:MAX_REASON] or None
    try:
        quotes.decline(token, reason)
    except NotFound:
        return common.link_problem(token, KIND, root="../../")
    except Conflict as conflict:
        return _back(token, _error_of(conflict))
    return _back(token)


def _error_of(conflict: Conflict) -> str | None:
    """The page's word for a refused answer (a replaced quote's page says so by itself)."""
    if conflict.code == "quote_superseded":
        return None
    if conflict.code != "illegal_transition":
        return "busy"
    reasons = [d.get("reason") for d in conflict.details if isinstance(d, dict)]
    return "invoiced" if "job_invoiced" in reasons else "answered"


def _back(token: str, error: str | None = None) -> Response:
    # Relative to /p/quotes/<token>/<action>: back to /p/quotes/<token>, under any prefix.
    return redirect(f"../{token}" + (f"?error={error}" if error else ""))


# --- the page ---------------------------------------------------------------------------------


def _replaced(opened: quotes.OpenedLink, tenant: Tenant) -> Response:
    """409 like the API, in words: a newer quote replaced this one, and where to find it."""
    newer = quotes.replacement(opened)
    body = document(
        "quote_replaced.html",
        "This quote was replaced",
        business=tenant.name,
        logo_url=tenant.logo_url,
        phone=tenant.phone,
        job_title=opened.job.title,
        newer_token=quotes.token_for(opened.caller.tenant_id, newer) if newer else None,
    )
    return page(body, status=409)


def _percent(bps: int) -> str:
    whole, part = divmod(bps, 100)
    return f"{whole}.{part:02d}".rstrip("0").rstrip(".") + "%"
