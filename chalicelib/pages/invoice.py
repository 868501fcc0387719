"""The invoice page: lines, payments so far, balance, and a card form (Stripe.js) while money
is owed. Paid shows a receipt, void says so, a payment on its way refreshes until Stripe's
webhook has settled it.

The card form is the one part of the customer's pages that needs JavaScript: Stripe.js (the
card Element and `confirmCardPayment`, on the tenant's connected account) and static/pay.js.
The local stage loads localstripe's Stripe.js stand-in instead, plus static/localstripe-bridge.js
(see there) so the whole payment runs offline.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from chalice import Response

from chalicelib.config import get_settings
from chalicelib.domain import clock, links
from chalicelib.domain.errors import Invalid, NotFound, Unavailable
from chalicelib.pages import common, render
from chalicelib.pages.render import asset, document, money_in, page
from chalicelib.services import customers, invoicing, jobs, payments
from chalicelib.services.pay_page import TipChoice

KIND = "invoice"
STRIPE_JS_ORIGIN = "https://js.stripe.com"
# Where Stripe.js itself talks and frames from (Stripe's documented CSP for Elements).
STRIPE_CONNECT = ["https://api.stripe.com"]
STRIPE_FRAMES = ["https://js.stripe.com", "https://hooks.stripe.com"]
# While a payment is on its way the page reloads itself: after 2 s, then 4, 8, ... at most
# every minute, so a webhook that never comes does not keep a phone busy.
MAX_REFRESH_SECONDS = 60
# The local stage's stand-in for what Stripe's servers do when Stripe.js confirms a card,
# relative to /p/invoices/<token>.
LOCAL_CONFIRM_URL = "../../dev/stripe/confirm-card"
METHOD_NAMES = {
    "card": "Card",
    "us_bank_account": "Bank account",
    "cash": "Cash",
    "check": "Check",
    "other": "Other",
}


def show(
    token: str, waited: str | None = None, tip_percent: str | None = None, tip: str | None = None
) -> Response:
    """The invoice page; `tip_percent` (a preset) or `tip` (an amount) come from its tip form."""
    claims = links.verify(token, KIND, get_settings().link_secrets, clock.now())
    if claims is None:
        return common.link_problem(token, KIND)
    tip_refused = False
    try:
        try:
            view = payments.public_invoice(token, _tip_choice(tip_percent, tip))
        except Invalid:  # a tip the rules refuse: the page without it, saying so
            tip_refused = True
            view = payments.public_invoice(token)
        tenant = common.business(claims.tenant_id)  # after: opening the page may learn its status
        caller = common.customer(claims.tenant_id)
        customer = customers.get(caller, jobs.get(caller, claims.job_id).customer_id)
    except NotFound:
        return _void_or_missing(claims)
    except Unavailable:  # Stripe (or the table) did not answer; nothing was changed
        return render.message_page(
            "This invoice cannot be shown right now",
            "Please reload this page in a minute.",
            status=503,
        )
    paid = view["status"] == "paid"
    processing = not paid and bool(view["payment_processing"])
    owed = not paid and view["payment_processing"] is False and view["balance_cents"] > 0
    pay = _pay_form(view) if owed else None
    body = document(
        "invoice.html",
        f"Invoice {_number(view)}: {view['job_title']}",
        business=tenant.name,
        logo_url=tenant.logo_url,
        phone=tenant.phone,
        refresh=_refresh(waited) if processing else None,
        view=view,
        number=_number(view),
        customer_name=customer.name,
        due=_due(view),
        timezone=tenant.timezone,
        method_names=METHOD_NAMES,
        money=money_in(view["currency"], tenant.locale),
        pay=pay,
        contact=owed,
        # Owed, and the business's Stripe account does not take charges (yet): no card form.
        cards_off=owed and not tenant.takes_cards,
        tip_refused=tip_refused,
    )
    return page(body, policy=pay.policy if pay else None)


def _void_or_missing(claims: links.LinkClaims) -> Response:
    """The public JSON answers 404 for a void invoice; the page says it was voided."""
    caller = common.customer(claims.tenant_id)
    try:
        invoice = invoicing.find_invoice(jobs.load(caller, claims.job_id), claims.object_id)
        tenant = common.business(claims.tenant_id)
    except NotFound:
        return render.not_found()
    if invoice is None or invoice.status != "void":
        return render.not_found()
    return render.message_page(
        f"Invoice #{invoice.number} was voided" if invoice.number else "This invoice was voided",
        f"Nothing is owed on this invoice. Questions? Contact {tenant.name}.",
        status=200,
        business=tenant.name,
        phone=tenant.phone,
    )


# --- the page ---------------------------------------------------------------------------------


def _tip_choice(percent: str | None, amount: str | None) -> TipChoice | None:
    """The tip form's answer: an amount typed in wins over the preset buttons."""
    if amount and amount.strip():
        return TipChoice(amount=amount.strip()[:20])
    if percent and percent.isdigit() and int(percent) > 0:
        return TipChoice(percent=int(percent))
    if percent and not percent.isdigit():
        raise Invalid("the tip is not a percent", code="invalid_tip")
    return None


def _refresh(waited: str | None) -> tuple[int, str]:
    times = min(int(waited), 10) if waited and waited.isdigit() else 0
    return min(2 ** (times + 1), MAX_REFRESH_SECONDS), f"?waited={times + 1}"


def _number(view: dict[str, Any]) -> str:
    return f"#{view['number']}" if view.get("number") else ""


def _due(view: dict[str, Any]) -> str | None:
    due = view["due_date"]
    return f"{due:%a %b} {due.day}, {due.year}" if due else None


@dataclass(frozen=True)
class Script:
    src: str
    confirm_url: str | None = None


@dataclass(frozen=True)
class PayForm:
    key: str  # Stripe's publishable key
    bank: bool  # offer a bank account too (only Stripe's real Stripe.js can)
    scripts: list[Script]
    policy: str  # the page's Content-Security-Policy, with what Stripe.js needs


def _pay_form(view: dict[str, Any]) -> PayForm | None:
    """The card form while money is owed; None when the page cannot take a payment."""
    return stripe_form(view["client_secret"])


def stripe_form(client_secret: str | None) -> PayForm | None:
    """Stripe.js (or the local stage's stand-in and its bridge), then static/pay.js, and the
    Content-Security-Policy they need; None without a client secret or a publishable key. The
    card-on-file page (pages/cards.py) uses it too: its form says `data-intent="setup"`."""
    settings = get_settings()
    key = settings.stripe_publishable_key
    if not client_secret or not key:
        return None
    stripe_js = settings.stripe_js_url
    origin = _origin(stripe_js)
    real_stripe = origin == STRIPE_JS_ORIGIN
    scripts = [Script(stripe_js)]
    connect, frames = list(STRIPE_CONNECT), list(STRIPE_FRAMES)
    if not real_stripe:
        # localstripe's stand-in renders plain inputs (no frames) and talks to its own origin;
        # the bridge asks the local stage to do what Stripe's servers would.
        connect, frames = ["'self'", origin], []
        scripts.append(Script(asset("../", "localstripe-bridge.js"), LOCAL_CONFIRM_URL))
    scripts.append(Script(asset("../", "pay.js")))
    extra = {"script-src": ["'self'", origin], "connect-src": connect}
    if frames:
        extra["frame-src"] = frames
    return PayForm(key, real_stripe, scripts, render.csp(extra))


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"
