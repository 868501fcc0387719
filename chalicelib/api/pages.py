"""The customer's pages (HTML) behind the links Fieldline texts: /p/quotes, /p/invoices,
/p/visits, and their stylesheet and script. Public: the signed token in the path is the key.

Every route is raw (it returns HTML, and forms post form-encoded bodies); a page never answers
with the JSON error body, even when something breaks.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

from chalice import Response

from chalicelib.api.http import Api, source_ip
from chalicelib.domain.errors import FieldlineError, NotFound
from chalicelib.logs import logger
from chalicelib.pages import booking, cards, invitation, invoice, quote, render, visit

api = Api(__name__, "customer pages")

FORM = ["application/x-www-form-urlencoded"]
# Static files are addressed by their content's hash (?v=...), so a year is safe.
IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "public, max-age=300"


def _always_html(root: str) -> Callable:
    """A page that fails still answers with a page (and the page's headers)."""

    def wrap(handler: Callable) -> Callable:
        @functools.wraps(handler)
        def run(request, **params: str) -> Response:
            try:
                return handler(request, **params)
            except NotFound:
                return render.not_found(root)
            except FieldlineError as error:  # e.g. the table or Stripe unavailable (503)
                logger.warning("customer page not shown", extra={"error": error.message})
                return _sorry(error.status, root)
            except Exception:
                logger.exception("customer page failed")
                return _sorry(500, root)

        return run

    return wrap


def _sorry(status: int, root: str) -> Response:
    return render.message_page(
        "Something went wrong",
        "Sorry, this page could not be shown. Please try again in a minute.",
        status=status,
        root=root,
    )


def _error_code(request) -> str | None:
    return (request.query_params or {}).get("error")


@api.route("/p/quotes/{token}", "GET", roles=None, raw=True)
@_always_html("../")
def quote_page(request, token: str):
    """The customer's quote: options, lines, totals, deposit; approve one or decline."""
    return quote.show(token, _error_code(request))


@api.route("/p/quotes/{token}/approve", "POST", roles=None, raw=True, content_types=FORM)
@_always_html("../../")
def approve_quote_form(request, token: str):
    """Form post (option_id, signed_by): approve, then 303 back to the quote page."""
    return quote.approve(token, request.raw_body, source_ip())


@api.route("/p/quotes/{token}/decline", "POST", roles=None, raw=True, content_types=FORM)
@_always_html("../../")
def decline_quote_form(request, token: str):
    """Form post (reason?): decline, then 303 back to the quote page."""
    return quote.decline(token, request.raw_body)


@api.route("/p/invoices/{token}", "GET", roles=None, raw=True)
@_always_html("../")
def invoice_page(request, token: str):
    """The customer's invoice: lines, payments, balance, and a card form while money is owed."""
    query = request.query_params or {}
    return invoice.show(token, query.get("waited"), query.get("tip_percent"), query.get("tip"))


@api.route("/p/cards/{token}", "GET", roles=None, raw=True)
@_always_html("../")
def cards_page(request, token: str):
    """The customer saves a card on file (Stripe.js, a SetupIntent on the business's account)."""
    return cards.show(token)


@api.route("/p/invitations/{token}", "GET", roles=None, raw=True)
@_always_html("../")
def invitation_page(request, token: str):
    """Someone invited to the team: who invites them as what; one button to accept."""
    return invitation.show(token)


@api.route("/p/invitations/{token}/accept", "POST", roles=None, raw=True, content_types=FORM)
@_always_html("../../")
def accept_invitation_form(request, token: str):
    """Form post: accept the invitation (the login is made), then how to sign in."""
    return invitation.accept(token)


@api.route("/p/visits/{token}", "GET", roles=None, raw=True)
@_always_html("../")
def visit_page(request, token: str):
    """The customer's appointment: when, who; confirm or ask to reschedule."""
    return visit.show(token, _error_code(request))


@api.route("/p/visits/{token}/confirm", "POST", roles=None, raw=True, content_types=FORM)
@_always_html("../../")
def confirm_visit_form(request, token: str):
    """Form post: the customer confirms the visit (VisitConfirmed), then 303 back."""
    return visit.confirm(token)


@api.route("/p/visits/{token}/reschedule", "POST", roles=None, raw=True, content_types=FORM)
@_always_html("../../")
def reschedule_visit_form(request, token: str):
    """Form post (note): RescheduleRequested and a message for the office, then 303 back."""
    return visit.reschedule(token, request.raw_body)


@api.route("/p/book/{slug}", "GET", roles=None, raw=True)
@_always_html("../")
def book_page(request, slug: str):
    """The business's booking page: service, day, time, details, confirmation (?done=)."""
    return booking.show(slug, dict(request.query_params or {}))


@api.route("/p/book/{slug}", "POST", roles=None, raw=True, content_types=FORM)
@_always_html("../")
def book_form(request, slug: str):
    """Form post (service_id, start, name, phone, email?, address): book, then 303 to the
    confirmation; a slot taken meanwhile 303s back to that day's times."""
    return booking.book(slug, request.raw_body, source_ip())


@api.route("/p/plans/{token}", "GET", roles=None, raw=True)
@_always_html("../")
def plan_page(request, token: str):
    """The customer's service plan: price, next bill; cancel it."""
    from chalicelib.pages import plan

    return plan.show(token)


@api.route("/p/plans/{token}/cancel", "POST", roles=None, raw=True, content_types=FORM)
@_always_html("../../")
def cancel_plan_form(request, token: str):
    """Form post: the customer cancels their plan, then 303 back to the plan page."""
    from chalicelib.pages import plan

    return plan.cancel(token)


@api.route("/p/static/{filename}", "GET", roles=None, raw=True)
def static_file(request, filename: str):
    """The pages' stylesheet and scripts, cached by content hash."""
    found = render.static_file(filename)
    if found is None:
        return render.not_found()
    text, content_type, digest = found
    etag = f'"{digest}"'
    versioned = (request.query_params or {}).get("v") == digest
    headers = {
        "Content-Type": content_type,
        "Cache-Control": IMMUTABLE if versioned else REVALIDATE,
        "ETag": etag,
        "X-Content-Type-Options": "nosniff",
    }
    if (request.headers or {}).get("if-none-match") == etag:
        return Response(body="", status_code=304, headers=headers)
    return Response(body=text, status_code=200, headers=headers)
