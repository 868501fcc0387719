"""GET /docs: the API's reference, rendered by Redoc from /openapi.json, with everything it
loads served by the app itself (no CDN), in every stage."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from chalicelib.api.routing import manifest, stage_modules

ROOT = Path(__file__).resolve().parents[2]
BUNDLE = ROOT / "chalicelib" / "pages" / "static" / "redoc.standalone.js"
NPM_REFERENCE = ROOT / "sdk" / "reference"


def _policy(response) -> dict[str, list[str]]:
    directives = response.headers["Content-Security-Policy"].split(";")
    return {name: sources for name, *sources in (d.split() for d in directives)}


def test_the_reference_page_loads_redoc_and_the_document_from_the_app_only(client):
    page = client.http.get("/docs")
    assert page.status_code == 200
    assert page.headers["Content-Type"] == "text/html; charset=utf-8"
    body = page.body.decode()
    assert '<redoc spec-url="openapi.json">' in body
    # No absolute URL: the page, its script and the document resolve under any stage prefix.
    assert not re.search(r"(src|href|spec-url)=\"(https?:)?//", body)
    policy = _policy(page)
    assert policy["default-src"] == ["'none'"]
    assert policy["script-src"] == ["'self'"]  # no inline script, no other origin
    assert policy["connect-src"] == ["'self'"]  # the document from here, nowhere else
    assert all(
        source in ("'self'", "'unsafe-inline'", "data:", "blob:", "'none'")
        for sources in policy.values()
        for source in sources
    ), policy

    src = re.search(r'<script src="([^"]+)"></script>', body).group(1)
    script = client.http.get("/" + src)
    assert script.status_code == 200
    assert script.headers["Content-Type"].startswith("text/javascript")
    assert "immutable" in script.headers["Cache-Control"]  # versioned by its content
    assert script.body == BUNDLE.read_bytes()
    document = json.loads(client.http.get("/openapi.json").body)
    assert document["openapi"].startswith("3.1")


def test_every_stage_serves_the_reference_page():
    (entry,) = [e for e in manifest() if e["path"] == "/docs"]
    assert entry["public"] and entry["module"] in stage_modules(local=False)


def test_the_served_bundle_is_the_pinned_npm_release():
    installed = NPM_REFERENCE / "node_modules" / "redoc"
    if not installed.exists():
        message = "sdk/reference/node_modules is not installed (make test installs it)"
        if os.environ.get("FIELDLINE_REQUIRE_SDK_TESTS") == "1":
            pytest.fail(message)
        pytest.skip(message)
    pinned = json.loads((NPM_REFERENCE / "package.json").read_text())["dependencies"]["redoc"]
    assert json.loads((installed / "package.json").read_text())["version"] == pinned
    shipped = installed / "bundles" / "redoc.standalone.js"
    assert BUNDLE.read_bytes() == shipped.read_bytes(), "copy it again: make reference-bundle"
