"""The visit page (linked from reminders): when, who is coming, confirm or ask to reschedule.
Plain forms, no script; each post is redirected back to the page (303)."""

from __future__ import annotations

from chalice import Response

from chalicelib.domain.errors import Conflict, NotFound
from chalicelib.domain.timefmt import local_date
from chalicelib.pages import common
from chalicelib.pages.render import Html, html, join, layout, page, redirect
from chalicelib.services import visit_links
from chalicelib.services.visit_links import MAX_NOTE, OpenedVisit

KIND = "visit"
ERRORS = {
    "note": "Tell us which days or times suit you better.",
    "closed": "This visit can no longer be changed online.",
}
STATUS_TEXT = {
    "unscheduled": "We have not booked a time yet; we will text you when we do.",
    "en_route": "Your technician is on the way.",
    "on_site": "Your technician is there now.",
    "completed": "This visit is done. Thank you!",
    "cancelled": "This visit was cancelled.",
    "no_access": "We could not get in on this visit; we will be in touch.",
}


def show(token: str, error: str | None = None) -> Response:
    try:
        opened = visit_links.open_visit(token)
    except NotFound:
        return common.link_problem(token, KIND)
    tenant = opened.tenant
    content = _content(token, opened, ERRORS.get(error or ""))
    return page(
        layout(
            f"Your appointment: {opened.job.title}",
            content,
            business=tenant.name,
            logo_url=tenant.logo_url,
            phone=tenant.phone,
        )
    )


def confirm(token: str) -> Response:
    return _answer(token, lambda: visit_links.confirm(token))


def reschedule(token: str, raw_body: bytes | None) -> Response:
    note = (common.form(raw_body).get("note") or "").strip()
    if not note:
        return _back(token, "note")
    return _answer(token, lambda: visit_links.request_reschedule(token, note[:MAX_NOTE]))


def _answer(token: str, act) -> Response:
    try:
        act()
    except NotFound:
        return common.link_problem(token, KIND, root="../../")
    except Conflict:
        return _back(token, "closed")
    return _back(token)


def _back(token: str, error: str | None = None) -> Response:
    # Relative to /p/visits/<token>/<action>: back to /p/visits/<token>, under any prefix.
    return redirect(f"../{token}" + (f"?error={error}" if error else ""))


def _content(token: str, opened: OpenedVisit, error: str | None) -> Html:
    visit, tenant = opened.visit, opened.tenant
    parts: list[Html] = []
    if error:
        parts.append(
            html('<section class="card notice bad"><p class="error">$e</p></section>', e=error)
        )
    who = (
        f"{opened.technician_first_name} from {tenant.name}"
        if opened.technician_first_name
        else f"A technician from {tenant.name}"
    )
    when = opened.window if visit.status != "unscheduled" else "To be arranged"
    parts.append(
        html(
            "<h1>Your appointment</h1>\n"
            '<section class="card" id="visit">\n<h2>$title</h2>\n'
            '<p><strong>When:</strong> <span id="when">$when</span></p>\n'
            '<p><strong>Who:</strong> <span id="who">$who</span></p>\n'
            '<p class="muted">Times are local ($zone). $arrival</p>\n</section>',
            title=opened.job.title,
            when=when,
            who=who,
            zone=visit.timezone,
            arrival="We will text you when we are on the way.",
        )
    )
    if opened.confirmed_at:
        parts.append(
            html(
                '<section class="card notice good" id="confirmed"><h2>Confirmed — thank you'
                "</h2>\n<p>You confirmed on $day. See you then.</p></section>",
                day=local_date(opened.confirmed_at, visit.timezone),
            )
        )
    if opened.reschedule_requested_at:
        parts.append(
            html(
                '<section class="card notice" id="reschedule-requested"><h2>We got your request'
                "</h2>\n<p>$business will contact you to find a new time.</p></section>",
                business=tenant.name,
            )
        )
    if opened.answerable:
        parts.append(_forms(token, opened))
    elif visit.status in STATUS_TEXT:
        parts.append(
            html('<section class="card notice"><p>$t</p></section>', t=STATUS_TEXT[visit.status])
        )
    return join(parts)


def _forms(token: str, opened: OpenedVisit) -> Html:
    confirm = Html("")
    if opened.confirmed_at is None:
        confirm = html(
            '<form method="post" action="$token/confirm" class="confirm">\n'
            '<button type="submit">Confirm this time</button>\n</form>',
            token=token,
        )
    return html(
        '<section class="card">\n$confirm\n<details>\n<summary>Need a different time?</summary>\n'
        '<form method="post" action="$token/reschedule" class="reschedule">\n'
        '<label for="note">Which days or times suit you?</label>\n'
        '<textarea id="note" name="note" required maxlength="$max"></textarea>\n'
        '<button type="submit" class="secondary">Ask to reschedule</button>\n</form>\n'
        "</details>\n</section>",
        token=token,
        confirm=confirm,
        max=MAX_NOTE,
    )
