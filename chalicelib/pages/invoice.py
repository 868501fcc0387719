"""The invoice page: lines, payments so far, balance, and a card form (Stripe.js) while money
is owed. Paid shows a receipt, void says so, a payment on its way refreshes until Stripe's
webhook has settled it.

The card form is the one part of the customer's pages that needs JavaScript: Stripe.js (the
card Element and `confirmCardPayment`, on the tenant's connected account) and static/pay.js.
The local stage loads localstripe's Stripe.js stand-in instead, plus static/localstripe-bridge.js
(see there) so the whole payment runs offline.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from chalice import Response

from chalicelib.config import get_settings
from chalicelib.domain import clock, links
from chalicelib.domain.errors import NotFound, Unavailable
from chalicelib.domain.tenants import Tenant
from chalicelib.domain.timefmt import local_date
from chalicelib.pages import common, render
from chalicelib.pages.render import Html, asset, html, join, layout, money, page
from chalicelib.services import customers, invoicing, jobs, payments

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


def show(token: str, waited: str | None = None) -> Response:
    claims = links.verify(token, KIND, get_settings().link_secrets, clock.now())
    if claims is None:
        return common.link_problem(token, KIND)
    try:
        tenant = common.business(claims.tenant_id)
        view = payments.public_invoice(token)
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
    content, scripts, policy, refreshing = _content(tenant, customer.name, view)
    title = f"Invoice {_number(view)}: {view['job_title']}"
    body = layout(
        title,
        content,
        business=tenant.name,
        logo_url=tenant.logo_url,
        phone=tenant.phone,
        scripts=scripts,
        refresh=_refresh(waited) if refreshing else None,
    )
    return page(body, policy=policy)


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


def _refresh(waited: str | None) -> tuple[int, str]:
    times = min(int(waited), 10) if waited and waited.isdigit() else 0
    return min(2 ** (times + 1), MAX_REFRESH_SECONDS), f"?waited={times + 1}"


def _number(view: dict[str, Any]) -> str:
    return f"#{view['number']}" if view.get("number") else ""


def _content(
    tenant: Tenant, customer_name: str, view: dict[str, Any]
) -> tuple[Html, Html, str | None, bool]:
    currency = view["currency"]
    parts = [
        html(
            '<h1>Invoice $number</h1>\n<p class="muted">$title · for <span id="customer">'
            "$customer</span> · from $business</p>",
            number=_number(view),
            title=view["job_title"],
            customer=customer_name,
            business=tenant.name,
        )
    ]
    scripts, policy, refreshing = Html(""), None, False
    paid = view["status"] == "paid"
    if paid:
        parts.append(
            html(
                '<section class="card notice good" id="receipt"><h2>Paid — thank you</h2>\n'
                "<p>$business received $amount.</p></section>",
                business=tenant.name,
                amount=money(view["amount_paid_cents"], currency, tenant.locale),
            )
        )
    elif view["payment_processing"]:
        refreshing = True
        parts.append(
            Html(
                '<section class="card notice" id="processing"><h2>Your payment is on its way'
                "</h2>\n<p>We are confirming it with the bank. This page updates by itself."
                "</p></section>"
            )
        )
    elif view["due_date"]:
        due = view["due_date"]
        parts.append(
            html(
                '<p class="$css">$label $date</p>',
                css="error" if view["overdue"] else "muted",
                label="Overdue since" if view["overdue"] else "Due",
                date=f"{due:%a %b} {due.day}, {due.year}",
            )
        )
    parts.append(_lines(view, tenant.locale))
    parts.append(_payments(tenant, view))
    if not paid and view["payment_processing"] is False and view["balance_cents"] > 0:
        form = _pay_form(tenant, view)
        if form is not None:
            section, scripts, policy = form
            parts.append(section)
        else:
            parts.append(
                html(
                    '<section class="card notice"><p>To pay this invoice, please contact'
                    " $business.</p></section>",
                    business=tenant.name,
                )
            )
    return join(parts), scripts, policy, refreshing


def _lines(view: dict[str, Any], locale: str) -> Html:
    currency = view["currency"]
    rows = join(
        html(
            '<tr><td>$description<span class="qty">$quantity × $unit</span></td>'
            '<td class="num">$amount</td></tr>',
            description=line["description"],
            quantity=line["quantity"],
            unit=money(line["unit_price_cents"], currency, locale),
            amount=money(line["amount_cents"], currency, locale),
        )
        for line in view["line_items"]
    )
    return html(
        '<section class="card" id="lines">\n<table>\n'
        '<thead><tr><th>Item</th><th class="num">Amount</th></tr></thead>\n'
        "<tbody>\n$rows\n</tbody>\n<tfoot>\n"
        '<tr><td>Subtotal</td><td class="num">$subtotal</td></tr>\n'
        '<tr><td>Tax</td><td class="num">$tax</td></tr>\n'
        '<tr><td>Total</td><td class="num">$total</td></tr>\n'
        '<tr><td>Paid</td><td class="num">$paid</td></tr>\n'
        '<tr class="total"><td>Balance due</td><td class="num" id="balance">$balance</td></tr>\n'
        "</tfoot>\n</table>\n</section>",
        rows=rows,
        subtotal=money(view["subtotal_cents"], currency, locale),
        tax=money(view["tax_cents"], currency, locale),
        total=money(view["total_cents"], currency, locale),
        paid=money(view["amount_paid_cents"] - view["refunded_cents"], currency, locale),
        balance=money(max(view["balance_cents"], 0), currency, locale),
    )


def _payments(tenant: Tenant, view: dict[str, Any]) -> Html:
    if not view["payments"]:
        return Html("")
    currency = view["currency"]
    rows = join(
        html(
            '<tr><td>$when<span class="qty">$method$refund</span></td>'
            '<td class="num">$amount</td></tr>',
            when=local_date(p["paid_at"], tenant.timezone),
            method=METHOD_NAMES.get(p["method"], p["method"]),
            refund=f" · {money(p['refunded_cents'], currency, tenant.locale)} refunded"
            if p["refunded_cents"]
            else "",
            amount=money(p["amount_cents"], currency, tenant.locale),
        )
        for p in view["payments"]
    )
    return html(
        '<section class="card" id="payments"><h2>Payments</h2>\n<table>\n<tbody>\n$rows\n'
        "</tbody>\n</table>\n</section>",
        rows=rows,
    )


def _pay_form(tenant: Tenant, view: dict[str, Any]) -> tuple[Html, Html, str] | None:
    settings = get_settings()
    key = settings.stripe_publishable_key
    if not view["client_secret"] or not key:
        return None
    stripe_js = settings.stripe_js_url
    origin = _origin(stripe_js)
    real_stripe = origin == STRIPE_JS_ORIGIN
    amount = money(view["balance_cents"], view["currency"], tenant.locale)
    bank = Html("")
    if real_stripe:
        # Financial Connections (bank login) runs only in Stripe's real Stripe.js.
        bank = html(
            '<section class="card" id="bank" hidden>\n<h2>Or pay from your bank account</h2>\n'
            '<label for="bank-name">Account holder name</label>\n'
            '<input type="text" id="bank-name" autocomplete="name" maxlength="200">\n'
            '<label for="bank-email">Email for the receipt</label>\n'
            '<input type="text" id="bank-email" autocomplete="email" maxlength="254">\n'
            '<p id="bank-errors" class="error" role="alert"></p>\n'
            '<button type="button" id="bank-button" class="secondary">Pay $amount by bank'
            " account</button>\n</section>",
            amount=amount,
        )
    section = html(
        '<section class="card" id="pay">\n<h2>Pay $amount by card</h2>\n'
        '<form id="pay-form" hidden data-key="$key" data-client-secret="$secret"'
        ' data-account="$account">\n'
        '<div id="card-element"></div>\n'
        '<p id="card-errors" class="error" role="alert"></p>\n'
        '<button type="submit" id="pay-button">Pay $amount</button>\n</form>\n'
        '<p id="pay-status" class="muted" role="status"></p>\n'
        "<noscript><p>Paying by card needs JavaScript. You can also pay $business by phone."
        "</p></noscript>\n</section>\n$bank",
        amount=amount,
        key=key,
        secret=view["client_secret"],
        account=view.get("stripe_account") or "",
        business=tenant.name,
        bank=bank,
    )
    scripts = [html('<script src="$src"></script>', src=stripe_js)]
    connect, frames = list(STRIPE_CONNECT), list(STRIPE_FRAMES)
    if not real_stripe:
        # localstripe's stand-in renders plain inputs (no frames) and talks to its own origin;
        # the bridge asks the local stage to do what Stripe's servers would.
        connect, frames = ["'self'", origin], []
        scripts.append(
            html(
                '<script src="$src" data-confirm-url="$confirm"></script>',
                src=asset("../", "localstripe-bridge.js"),
                confirm=LOCAL_CONFIRM_URL,
            )
        )
    scripts.append(html('<script src="$src"></script>', src=asset("../", "pay.js")))
    extra = {"script-src": ["'self'", origin], "connect-src": connect}
    if frames:
        extra["frame-src"] = frames
    return section, join(scripts), render.csp(extra)


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"
