"""The visit page (linked from reminders): when, who is coming, confirm or ask to reschedule.
Plain forms, no script; each post is redirected back to the page (303)."""

from __future__ import annotations

from chalice import Response

from chalicelib.domain.errors import Conflict, NotFound
from chalicelib.domain.timefmt import local_date
from chalicelib.pages import common
from chalicelib.pages.render import document, page, redirect
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
    tenant, visit = opened.tenant, opened.visit
    confirmed = opened.confirmed_at
    return page(
        document(
            "visit.html",
            f"Your appointment: {opened.job.title}",
            business=tenant.name,
            logo_url=tenant.logo_url,
            phone=tenant.phone,
            token=token,
            error=ERRORS.get(error or ""),
            job_title=opened.job.title,
            when=opened.window if visit.status != "unscheduled" else "To be arranged",
            who=_who(opened),
            zone=visit.timezone,
            confirmed_on=local_date(confirmed, visit.timezone) if confirmed else None,
            reschedule_requested=bool(opened.reschedule_requested_at),
            answerable=opened.answerable,
            status_text=STATUS_TEXT.get(visit.status),
            max_note=MAX_NOTE,
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


def _who(opened: OpenedVisit) -> str:
    name = opened.tenant.name
    first_name = opened.technician_first_name
    return f"{first_name} from {name}" if first_name else f"A technician from {name}"
