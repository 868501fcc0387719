"""The business's booking page, /p/book/{slug}: service → day → slot → details → confirmation.

Plain links and one form, no script: each step is the same URL with one more query parameter
(`service`, `date`, `start`); the details form posts to the page and, once booked, is redirected
(303) to the confirmation (`done`: the visit link's token, so a reload shows it again and never
books twice). A slot taken meanwhile sends the customer back to that day's times.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from chalice import Response

from chalicelib.domain import booking as rules
from chalicelib.domain import clock
from chalicelib.domain.errors import FieldlineError, NotFound
from chalicelib.domain.pricebook import Item
from chalicelib.domain.tenants import Tenant
from chalicelib.domain.timefmt import local_date, local_window
from chalicelib.pages import common
from chalicelib.pages.render import document, money, page, redirect
from chalicelib.services import booking, visit_links

DAYS_SHOWN = 14
ERRORS = {
    "slot_taken": "Sorry, that time was just taken. Please pick another.",
    "outside_service_area": "Sorry, we don't take online bookings at that address. Please call us.",
    "invalid_phone": "Please check the phone number.",
    "rate_limited": "Too many bookings from here for now. Please try again later or call us.",
    "validation_error": "Please fill in every field.",
}
FIELDS = ("name", "phone", "email", "line1", "city", "region", "postal_code")


def show(slug: str, query: dict[str, str]) -> Response:
    tenant, settings = booking.open_page(slug)
    if query.get("done"):
        return _confirmation(tenant, slug, query["done"])
    services = booking.bookable_services(tenant)
    chosen = next((s for s in services if s.item_id == query.get("service")), None)
    if chosen is None:
        links = [(_step(service=s.item_id), s) for s in services]
        return _render(tenant, slug, "service", services=links)
    day = _day(query.get("date"))
    if day is None:
        days = [
            (_step(service=chosen.item_id, date=d), label) for d, label in _days(tenant, settings)
        ]
        return _render(tenant, slug, "day", service=chosen, days=days)
    slots = booking.availability(slug, chosen.item_id, day)[1]
    start = next((s for s in slots if rules.rfc3339(s.start) == query.get("start")), None)
    if start is None:
        times = [
            (
                _step(service=chosen.item_id, date=day.isoformat(), start=rules.rfc3339(s.start)),
                f"{s.start:%I:%M %p}".lstrip("0"),
            )
            for s in slots
        ]
        return _render(
            tenant,
            slug,
            "slot",
            service=chosen,
            day_label=_label(day, tenant.timezone),
            change_day=_step(service=chosen.item_id),
            slots=times,
            error=ERRORS.get(query.get("error") or ""),
        )
    return _details(tenant, slug, chosen, rules.rfc3339(start.start), {})


def book(slug: str, raw_body: bytes | None, source_ip: str | None) -> Response:
    posted = common.form(raw_body)
    tenant, _ = booking.open_page(slug)
    fields = {name: common.one_line(posted.get(name)) for name in FIELDS}
    service_id, start = posted.get("service_id") or "", posted.get("start") or ""
    try:
        moment = datetime.fromisoformat(start)
        if moment.utcoffset() is None or not all(fields[f] for f in FIELDS if f != "email"):
            raise ValueError("incomplete")
    except ValueError:
        return _details_again(tenant, slug, service_id, start, fields, "validation_error")
    body: dict[str, Any] = {
        "service_id": service_id,
        "start": moment,
        "customer": {
            "name": fields["name"],
            "phone": fields["phone"],
            "email": fields["email"] or None,
            "address": {k: fields[k] for k in ("line1", "city", "region", "postal_code")},
        },
    }
    try:
        booked = booking.book(slug, body, source_ip)
    except FieldlineError as refused:
        if isinstance(refused, NotFound):
            raise  # the page turned off, or a service it no longer offers
        if refused.code == "slot_taken":
            day = rules.local_day_of(moment, tenant.timezone).isoformat()
            back = {"service": service_id, "date": day, "error": "slot_taken"}
            return redirect(f"{slug}?{urlencode(back)}")
        return _details_again(tenant, slug, service_id, start, fields, refused.code)
    token = booked.visit_url.rsplit("/", 1)[-1]
    return redirect(f"{slug}?{urlencode({'done': token})}")


# --- steps ------------------------------------------------------------------------------------


def _details(
    tenant: Tenant,
    slug: str,
    service: Item,
    start: str,
    values: dict[str, str],
    error: str | None = None,
    status: int = 200,
) -> Response:
    moment = datetime.fromisoformat(start)
    end = moment + timedelta(minutes=service.duration_minutes or 0)
    return _render(
        tenant,
        slug,
        "details",
        status=status,
        service=service,
        start=start,
        when=local_window(moment, end, tenant.timezone),
        values={name: values.get(name, "") for name in FIELDS},
        error=ERRORS.get(error or "", "Sorry, that did not work. Please try again."),
        show_error=error is not None,
    )


def _details_again(
    tenant: Tenant, slug: str, service_id: str, start: str, fields: dict[str, str], code: str
) -> Response:
    """The form again, with what was typed and what went wrong (422; 429 over the limit)."""
    try:
        service = booking.service(tenant, service_id)
        datetime.fromisoformat(start)
    except (NotFound, ValueError):
        return redirect(slug)  # a form no step made: start over
    status = 429 if code == "rate_limited" else 422
    return _details(tenant, slug, service, start, fields, code, status)


def _confirmation(tenant: Tenant, slug: str, token: str) -> Response:
    opened = visit_links.open_visit(token)  # a token not genuine, or another business's: 404
    if opened.tenant.tenant_id != tenant.tenant_id:
        raise NotFound("no such booking")
    visit = opened.visit
    return _render(
        tenant,
        slug,
        "done",
        job_title=opened.job.title,
        when=local_window(visit.start, visit.end, tenant.timezone),
        visit_path=f"../visits/{token}",
    )


def _render(tenant: Tenant, slug: str, step: str, status: int = 200, **values: Any) -> Response:
    body = document(
        "booking.html",
        f"Book with {tenant.name}",
        business=tenant.name,
        logo_url=tenant.logo_url,
        phone=tenant.phone,
        slug=slug,
        step=step,
        zone=tenant.timezone,
        price=lambda item: money(item.unit_price_cents, item.currency, tenant.locale),
        **{"error": None, **values},
    )
    return page(body, status=status)


def _days(tenant: Tenant, settings: rules.BookingSettings) -> list[tuple[str, str]]:
    """The next days a customer may pick (today included), as (date, "Mon Jun 3")."""
    today = rules.local_day_of(clock.now(), tenant.timezone)
    shown = min(DAYS_SHOWN, settings.horizon_days + 1)
    days = [today + timedelta(days=n) for n in range(shown)]
    return [(d.isoformat(), _label(d, tenant.timezone)) for d in days]


def _label(day: date, timezone: str) -> str:
    """A day as the page shows it: "Mon Jun 3" (noon: a day's date wherever DST moves)."""
    return local_date(datetime.combine(day, time(12), ZoneInfo(timezone)), timezone)


def _step(**query: str) -> str:
    """A link to a later step: this page with the choices so far (relative: `?service=…`)."""
    return "?" + urlencode(query)


def _day(text: str | None) -> date | None:
    try:
        return date.fromisoformat(text or "")
    except ValueError:
        return None
