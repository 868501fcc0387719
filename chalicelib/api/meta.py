"""Health and the OpenAPI document (no auth)."""

from __future__ import annotations

from pydantic import BaseModel

from chalicelib.api.http import Api
from chalicelib.config import get_settings

api = Api(__name__, "meta")


class HealthOut(BaseModel):
    status: str
    version: str
    stage: str


@api.route("/health", "GET", roles=None, response=HealthOut)
def health():
    """Liveness: the function answers (it touches no upstream)."""
    settings = get_settings()
    return HealthOut(status="ok", version=settings.version, stage=settings.stage)


@api.route("/openapi.json", "GET", roles=None)
def openapi():
    """This API described as OpenAPI 3.1, generated from the route declarations."""
    from chalicelib.api.openapi import document

    return document()


# The reference page loads Redoc from this app (chalicelib/pages/static, copied from the npm
# release sdk/reference pins) and the document from /openapi.json: nothing from elsewhere.
REFERENCE_POLICY = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        "connect-src 'self'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "font-src 'self'",
        "worker-src 'self' blob:",
        "frame-ancestors 'none'",
        "base-uri 'none'",
        "form-action 'none'",
    ]
)
REFERENCE_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Fieldline API reference</title>
<link rel="icon" href="data:,">
</head>
<body>
<redoc spec-url="openapi.json"></redoc>
<script src="{script}"></script>
</body>
</html>
"""


@api.route("/docs", "GET", roles=None, raw=True)
def reference(request):
    """This API's reference (HTML): /openapi.json rendered by Redoc."""
    from chalicelib.pages import render

    # Relative URLs, as the customer pages use: the same page works under a stage prefix.
    body = REFERENCE_PAGE.format(script=render.asset("p/", "redoc.standalone.js"))
    return render.page(body, policy=REFERENCE_POLICY, **{"Cache-Control": "public, max-age=300"})
