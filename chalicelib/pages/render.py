"""HTML for the customer's pages: Jinja2 templates (templates/), one layout, the headers every
page sends.

The templates autoescape (MarkupSafe): every value a page shows is escaped, and no template
marks one safe, so anything a person typed (a customer's name, a job title, a line item) reaches
the page as text. Markup lives only in the templates. Undefined names are errors, not blanks.

URLs on the pages are relative (`../static/...`, `<token>/approve`): the same page works under
a custom domain, API Gateway's `/api` stage prefix, the local stage and the test client.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from functools import lru_cache, partial
from pathlib import Path
from typing import Any

from chalice import Response
from jinja2 import Environment, FileSystemLoader, StrictUndefined

from chalicelib.domain.currencies import DEFAULT_LOCALE, format_money
from chalicelib.domain.timefmt import local_date

HERE = Path(__file__).resolve().parent
STATIC_DIR = HERE / "static"
TEMPLATES_DIR = HERE / "templates"
STATIC_TYPES = {
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
}
# What every page may load: its own stylesheet, images (a business's logo on https), and
# forms posting back to itself. No script at all, unless a page adds one (the pay form).
BASE_CSP = {
    "default-src": ["'none'"],
    "style-src": ["'self'"],
    "img-src": ["'self'", "https:", "data:"],
    "form-action": ["'self'"],
    "frame-ancestors": ["'none'"],
    "base-uri": ["'none'"],
}


@lru_cache(maxsize=1)
def templates() -> Environment:
    """The pages' templates, compiled once per process."""
    environment = Environment(
        loader=FileSystemLoader(TEMPLATES_DIR),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    environment.filters["phone_shown"] = phone_shown
    environment.globals.update(asset=asset, local_date=local_date)
    return environment


def document(
    template: str,
    title: str,
    *,
    business: str = "",
    logo_url: str | None = None,
    phone: str | None = None,
    root: str = "../",
    refresh: tuple[int, str] | None = None,
    **values: Any,
) -> str:
    """A page from `template` (which extends layout.html). `root` is the relative way back to
    /p/ from the page's URL; `refresh` (seconds, url) reloads the page by itself."""
    return (
        templates()
        .get_template(template)
        .render(
            title=title,
            business=business,
            logo_url=logo_url,
            phone=phone,
            root=root,
            refresh=refresh,
            **values,
        )
    )


def csp(extra: dict[str, list[str]] | None = None) -> str:
    directives = {name: list(sources) for name, sources in BASE_CSP.items()}
    for name, sources in (extra or {}).items():
        directives[name] = [*directives.get(name, []), *sources]
    return "; ".join(f"{name} {' '.join(sources)}" for name, sources in directives.items())


def security_headers(policy: str | None = None) -> dict[str, str]:
    return {
        "Content-Security-Policy": policy or csp(),
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        # A page names its token in its URL and may carry a payment's client secret.
        "Cache-Control": "no-store",
    }


def page(body: str, status: int = 200, policy: str | None = None, **headers: str) -> Response:
    return Response(
        body=body,
        status_code=status,
        headers={
            "Content-Type": "text/html; charset=utf-8",
            **security_headers(policy),
            **headers,
        },
    )


def redirect(location: str) -> Response:
    """303 See Other: after a form post, the browser GETs the page again (no resubmission)."""
    return Response(body="", status_code=303, headers={"Location": location, **security_headers()})


def message_page(
    title: str,
    text: str,
    *,
    status: int,
    business: str = "",
    phone: str | None = None,
    root: str = "../",
) -> Response:
    """A short message (not found, expired, something went wrong), with a button to call the
    business when its phone is known."""
    body = document("message.html", title, business=business, root=root, text=text, call=phone)
    return page(body, status=status)


def not_found(root: str = "../") -> Response:
    return message_page(
        "Page not found",
        "This link is not valid. Check the text you received, or contact the business.",
        status=404,
        root=root,
    )


# --- static files -----------------------------------------------------------------------------


@lru_cache(maxsize=8)
def static_file(name: str) -> tuple[str, str, str] | None:
    """(text, content type, digest) of a file in static/, or None (only our own files)."""
    path = STATIC_DIR / name
    content_type = STATIC_TYPES.get(path.suffix)
    if content_type is None or path.parent != STATIC_DIR or not path.is_file():
        return None
    text = path.read_text(encoding="utf-8")
    return text, content_type, hashlib.sha256(text.encode()).hexdigest()[:16]


def asset(root: str, name: str) -> str:
    """A static file's URL, versioned by its content so browsers may cache it for a year."""
    found = static_file(name)
    version = found[2] if found else "0"
    return f"{root}static/{name}?v={version}"


def phone_shown(e164: str) -> str:
    """+13125550100 as (312) 555-0100; other countries' numbers as stored."""
    digits = e164.removeprefix("+1")
    if e164.startswith("+1") and len(digits) == 10 and digits.isdigit():
        return f"({digits[:3]}) {digits[3:6]}-{digits[6:]}"
    return e164


def money(cents: int, currency: str, locale: str = DEFAULT_LOCALE) -> str:
    """An amount as the business's customers read it: pass the tenant's `locale`."""
    return format_money(cents, currency, locale)


def money_in(currency: str, locale: str) -> Callable[[int], str]:
    """`money` for one page: its templates write `money(cents)`."""
    return partial(money, currency=currency, locale=locale)
