"""HTML for the customer's pages: escaped by default, one layout, the headers every page sends.

`html(template, **values)` fills a `string.Template` (`$name`) and escapes every value that is
not already `Html`; pieces built by `html()` are `Html` and go in unescaped. So the only way to
put raw markup on a page is to build it here from a literal template: anything a person typed
(a customer's name, a job title, a line item) reaches the page as text.

URLs on the pages are relative (`../static/...`, `<token>/approve`): the same page works under
a custom domain, API Gateway's `/api` stage prefix, the local stage and the test client.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from html import escape
from pathlib import Path
from string import Template
from typing import Any

from chalice import Response

from chalicelib.domain.currencies import DEFAULT_LOCALE, format_money

STATIC_DIR = Path(__file__).resolve().parent / "static"
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


class Html(str):
    """Markup that is safe to put on a page as it is."""


def esc(value: Any) -> Html:
    if isinstance(value, Html):
        return value
    if value is None:
        return Html("")
    return Html(escape(str(value), quote=True))


def html(template: str, **values: Any) -> Html:
    return Html(Template(template).substitute({name: esc(v) for name, v in values.items()}))


def join(parts: Any, separator: str = "\n") -> Html:
    return Html(separator.join(esc(part) for part in parts))


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


def page(body: Html, status: int = 200, policy: str | None = None, **headers: str) -> Response:
    return Response(
        body=str(body),
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


# --- the layout -------------------------------------------------------------------------------

LAYOUT = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<meta name="robots" content="noindex">
$refresh<title>$title</title>
<link rel="stylesheet" href="$stylesheet">
</head>
<body>
<header class="business">$logo<span class="business-name">$business</span></header>
<main>
$content
</main>
<footer>$footer</footer>
$scripts
</body>
</html>
"""


def layout(
    title: str,
    content: Html,
    *,
    business: str = "",
    logo_url: str | None = None,
    phone: str | None = None,
    root: str = "../",
    scripts: Html = Html(""),
    refresh: tuple[int, str] | None = None,
) -> Html:
    """The page around `content`. `root` is the relative way back to /p/ from the page's URL."""
    logo = Html("")
    if logo_url and logo_url.startswith("https://"):
        logo = html('<img class="logo" src="$src" alt="">', src=logo_url)
    footer = Html("")
    if phone:
        footer = html(
            'Questions? Call <a href="tel:$phone">$shown</a>', phone=phone, shown=phone_shown(phone)
        )
    # (seconds, url): reload the page by itself, without script.
    refresh_meta = Html("")
    if refresh:
        refresh_meta = html(
            '<meta http-equiv="refresh" content="$s; url=$url">\n', s=refresh[0], url=refresh[1]
        )
    return html(
        LAYOUT,
        title=title,
        stylesheet=asset(root, "fieldline.css"),
        business=business,
        logo=logo,
        content=content,
        footer=footer,
        scripts=scripts,
        refresh=refresh_meta,
    )


def message_page(
    title: str,
    text: str,
    *,
    status: int,
    business: str = "",
    phone: str | None = None,
    root: str = "../",
) -> Response:
    content = html(
        '<section class="card"><h1>$title</h1><p>$text</p></section>', title=title, text=text
    )
    if phone:
        content = html(
            '$content\n<p class="call"><a class="button" href="tel:$phone">Call $shown</a></p>',
            content=content,
            phone=phone,
            shown=phone_shown(phone),
        )
    return page(layout(title, content, business=business, phone=None, root=root), status=status)


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
