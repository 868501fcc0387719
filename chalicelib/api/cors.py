"""CORS: which browser origins may call the API, and the headers that tell the browser so.

The origins are the stage's (`FIELDLINE_CORS_ORIGINS`, set per stage in .chalice/config.json).
Preflights are answered by the app itself, as every other request (chalicelib/api/fallback.py),
so the local stage and API Gateway agree; errors API Gateway writes itself carry the same
headers from the stack's gateway responses.
"""

from __future__ import annotations

import re
from functools import cache

from chalicelib.config import get_settings

# What a browser app sends beyond the CORS-safelisted headers.
ALLOW_HEADERS = ("Authorization", "Content-Type", "Idempotency-Key", "If-Match")
# What it may read beyond the safelisted response headers.
EXPOSE_HEADERS = ("ETag", "Idempotent-Replayed", "Retry-After", "Location")
# A browser caches a preflight this long (Chromium caps it at 7200 s).
MAX_AGE_SECONDS = 600


@cache
def _patterns(configured: str) -> tuple[re.Pattern, ...]:
    """`http://localhost:*` stands for that host on any port; anything else is one origin."""
    patterns = []
    for origin in (o.strip().rstrip("/") for o in configured.split(",")):
        if not origin:
            continue
        if origin == "*":
            patterns.append(re.compile(r".+"))
        elif origin.endswith(":*"):
            patterns.append(re.compile(re.escape(origin[:-2]) + r":\d{1,5}"))
        else:
            patterns.append(re.compile(re.escape(origin)))
    return tuple(patterns)


def allowed(origin: str | None) -> bool:
    if not origin:
        return False
    return any(p.fullmatch(origin) for p in _patterns(get_settings().cors_origins))


def response_headers(origin: str | None) -> dict[str, str]:
    """Headers that let an allowed origin read the response (none for any other)."""
    if not allowed(origin):
        return {}
    return {
        "Access-Control-Allow-Origin": origin or "",
        "Access-Control-Expose-Headers": ", ".join(EXPOSE_HEADERS),
        "Vary": "Origin",
    }


def preflight_headers(origin: str | None, methods: list[str]) -> dict[str, str]:
    """The answer to a preflight from an allowed origin: the route's methods and our headers."""
    if not allowed(origin):
        return {}
    return {
        **response_headers(origin),
        "Access-Control-Allow-Methods": ", ".join(methods),
        "Access-Control-Allow-Headers": ", ".join(ALLOW_HEADERS),
        "Access-Control-Max-Age": str(MAX_AGE_SECONDS),
    }
