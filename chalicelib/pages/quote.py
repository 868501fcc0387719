"""The quote page: the options with their lines and totals, approve one by typing a name, or
decline. Plain HTML forms (no script): approve and decline post back and are redirected to
the page (303), which then shows the decision. A quote a newer one replaced says so, and
points to the newer one."""

from __future__ import annotations

from chalice import Response

from chalicelib.domain import clock
from chalicelib.domain.errors import Conflict, Invalid, NotFound
from chalicelib.domain.quotes import Quote, QuoteOption
from chalicelib.domain.tenants import Tenant
from chalicelib.domain.timefmt import local_date
from chalicelib.pages import common
from chalicelib.pages.render import Html, html, join, layout, money, page, redirect
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
    content = _content(
        token, tenant, customer.name, opened.job.title, opened.quote, ERRORS.get(error or "")
    )
    title = f"Quote: {opened.job.title}"
    return page(
        layout(
            title,
            content,
            business=tenant.name,
            logo_url=tenant.logo_url,
            phone=tenant.phone,
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
    title = "This quote was replaced"
    text = html(
        "<p>$business sent you a newer quote for $job, which replaces this one."
        " This quote can no longer be approved or declined.</p>",
        business=tenant.name,
        job=opened.job.title,
    )
    newer = quotes.replacement(opened)
    if newer is not None:
        # Relative to /p/quotes/<token>: the newer quote's page, under any prefix.
        action = html(
            '<p><a class="button" id="newer-quote" href="$href">See the new quote</a></p>',
            href=quotes.token_for(opened.caller.tenant_id, newer),
        )
    else:
        action = html(
            "<p>Please use the link in $business's latest message.</p>", business=tenant.name
        )
    content = html(
        '<section class="card notice" id="superseded"><h1>$title</h1>\n$text\n$action</section>',
        title=title,
        text=text,
        action=action,
    )
    return page(
        layout(title, content, business=tenant.name, logo_url=tenant.logo_url, phone=tenant.phone),
        status=409,
    )


def _content(
    token: str, tenant: Tenant, customer_name: str, job_title: str, quote: Quote, error: str | None
) -> Html:
    parts: list[Html] = []
    if error:
        parts.append(
            html('<section class="card notice bad"><p class="error">$e</p></section>', e=error)
        )
    parts.append(_decision(tenant, quote))
    valid_until = local_date(quote.expires_at, tenant.timezone)
    parts.append(
        html(
            '<h1>$title</h1>\n<p class="muted">Quote for <span id="customer">$customer</span>'
            " from $business · valid until $until</p>",
            title=job_title,
            customer=customer_name,
            business=tenant.name,
            until=valid_until,
        )
    )
    if quote.message:
        parts.append(html('<p class="message">$m</p>', m=quote.message))
    for number, option in enumerate(quote.options, start=1):
        parts.append(_option(token, tenant, quote, option, number))
    if quote.status == "sent":
        parts.append(_decline_form(token))
    return join(parts)


def _decision(tenant: Tenant, quote: Quote) -> Html:
    if quote.status == "approved":
        chosen = quote.option(quote.approved_option_id or "")
        deposit = Html("")
        if chosen and chosen.deposit_cents:
            deposit = html(
                "<p>A deposit of $amount is due; $business will send you the invoice.</p>",
                amount=money(chosen.deposit_cents, quote.currency, tenant.locale),
                business=tenant.name,
            )
        return html(
            '<section class="card notice good" id="decision">\n'
            "<h2>Thank you, your quote is approved</h2>\n"
            "<p>You approved <strong>$option</strong> ($total), signed by $name on $when.</p>\n"
            "$deposit\n<p>$business will be in touch to schedule the work.</p>\n</section>",
            option=chosen.name if chosen else "",
            total=money(chosen.total_cents, quote.currency, tenant.locale) if chosen else "",
            name=quote.signed_by,
            when=local_date(quote.approved_at or clock.now(), tenant.timezone),
            deposit=deposit,
            business=tenant.name,
        )
    if quote.status == "declined":
        return html(
            '<section class="card notice" id="decision"><h2>You declined this quote</h2>\n'
            "<p>Thank you for letting $business know.</p></section>",
            business=tenant.name,
        )
    return Html("")


def _option(token: str, tenant: Tenant, quote: Quote, option: QuoteOption, number: int) -> Html:
    rows = join(
        html(
            '<tr><td>$description<span class="qty">$quantity × $unit</span></td>'
            '<td class="num">$amount</td></tr>',
            description=line.description,
            quantity=line.quantity,
            unit=money(line.unit_price_cents, quote.currency, tenant.locale),
            amount=money(line.amount_cents, quote.currency, tenant.locale),
        )
        for line in option.line_items
    )
    deposit = Html("")
    if option.deposit_cents:
        deposit = html(
            "<p>Deposit due on approval: <strong>$d</strong></p>",
            d=money(option.deposit_cents, quote.currency, tenant.locale),
        )
    badge = Html("")
    css = "card option"
    if option.status == "approved":
        badge, css = Html('<span class="badge good">Approved</span>'), "card option chosen"
    elif option.status == "declined":
        badge, css = Html('<span class="badge">Not chosen</span>'), "card option declined"
    form = _approve_form(token, tenant, quote, option, number) if quote.status == "sent" else ""
    return html(
        '<section class="$css" id="option-$number">\n<h2>$name $badge</h2>\n'
        '<table>\n<thead><tr><th>Item</th><th class="num">Amount</th></tr></thead>\n'
        "<tbody>\n$rows\n</tbody>\n<tfoot>\n"
        '<tr><td>Subtotal</td><td class="num">$subtotal</td></tr>\n'
        '<tr><td>Tax ($rate)</td><td class="num">$tax</td></tr>\n'
        '<tr class="total"><td>Total</td><td class="num">$total</td></tr>\n'
        "</tfoot>\n</table>\n$deposit\n$form\n</section>",
        css=css,
        number=number,
        name=option.name,
        badge=badge,
        rows=rows,
        subtotal=money(option.subtotal_cents, quote.currency, tenant.locale),
        rate=_percent(quote.tax_rate_bps),
        tax=money(option.tax_cents, quote.currency, tenant.locale),
        total=money(option.total_cents, quote.currency, tenant.locale),
        deposit=deposit,
        form=form,
    )


def _approve_form(
    token: str, tenant: Tenant, quote: Quote, option: QuoteOption, number: int
) -> Html:
    return html(
        '<form method="post" action="$token/approve" class="approve">\n'
        '<input type="hidden" name="option_id" value="$option_id">\n'
        '<label for="signed-by-$number">Type your full name to approve $name</label>\n'
        '<input type="text" id="signed-by-$number" name="signed_by" required maxlength="$max"'
        ' autocomplete="name">\n'
        '<p class="muted">By typing your name you approve $business doing this work for'
        " $total.</p>\n"
        '<button type="submit">Approve $name</button>\n</form>',
        token=token,
        option_id=option.option_id,
        number=number,
        name=option.name,
        max=MAX_SIGNATURE,
        business=tenant.name,
        total=money(option.total_cents, quote.currency, tenant.locale),
    )


def _decline_form(token: str) -> Html:
    return html(
        '<section class="card">\n<details>\n'
        "<summary>Not going ahead? Decline this quote</summary>\n"
        '<form method="post" action="$token/decline" class="decline">\n'
        '<label for="reason">Reason (optional)</label>\n'
        '<textarea id="reason" name="reason" maxlength="$max"></textarea>\n'
        '<button type="submit" class="secondary">Decline quote</button>\n</form>\n'
        "</details>\n</section>",
        token=token,
        max=MAX_REASON,
    )


def _percent(bps: int) -> str:
    whole, part = divmod(bps, 100)
    return f"{whole}.{part:02d}".rstrip("0").rstrip(".") + "%"
