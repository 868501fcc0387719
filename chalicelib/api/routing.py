"""Chalice learns every route from a manifest; the module that declares it loads on first use.

Chalice needs only a route's path, method and content types to register it. Importing the
module behind it (its pydantic models, services and the SDKs they reach) waits for the first
request that route serves, so a cold start pays for what it serves rather than for all of the
API, and the event functions (stream, queue, tasks), which import `app.py` too, pay for none of
it. `routes.json` is generated from the routes' declarations (`python -m chalicelib.api.routing`)
and a test fails when it is out of date.
"""

from __future__ import annotations

import json
import re
from functools import cache
from importlib import import_module
from pathlib import Path
from typing import Any

MANIFEST = Path(__file__).with_name("routes.json")
MODULES = (
    "meta",
    "settings",
    "templates",
    "technicians",
    "customers",
    "imports",
    "plans",
    "cards",
    "pricebook",
    "jobs",
    "quotes",
    "visits",
    "dispatch",
    "photos",
    "invoices",
    "webhooks",
    "subscriptions",
    "twilio_webhooks",
    "messages",
    "dunning",
    "reports",
    "team",
    "time",
    "booking",
    "pages",
)
# The local stage's helpers (/dev/...) exist in no other stage.
LOCAL_MODULES = ("dev", "devclock", "devstripe")


@cache
def manifest() -> tuple[dict[str, Any], ...]:
    return tuple(json.loads(MANIFEST.read_text()))


def stage_modules(*, local: bool) -> tuple[str, ...]:
    return MODULES + LOCAL_MODULES if local else MODULES


# Every method API Gateway's REST APIs take (its ANY); the catch-all answers each of them.
GATEWAY_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]
CATCH_ALL = "/{proxy+}"


def register(app, *, local: bool) -> None:
    for entry in served(local):
        app.route(
            entry["path"],
            methods=[entry["method"]],
            content_types=entry["content_types"],
            name=f"{entry['module']}.{entry['name']}",
        )(_view(app, entry))
    # Whatever no route declares reaches the app too, to be answered in the API's own words
    # (chalicelib/api/fallback.py, called by the middleware): a CORS preflight or OPTIONS (each
    # path's own: Chalice's local server answers an undeclared OPTIONS itself), 405 with Allow
    # for another method, 404 for an unknown path. In API Gateway the catch-all takes any
    # method and path no route has.
    fallback = _fallback(app)
    for path in sorted({entry["path"] for entry in served(local)}):
        app.route(path, methods=["OPTIONS"], content_types=["*/*"], name=f"options {path}")(
            fallback
        )
    for path in ("/", CATCH_ALL):
        app.route(path, methods=GATEWAY_METHODS, content_types=["*/*"], name=f"fallback {path}")(
            fallback
        )


def served(local: bool) -> list[dict[str, Any]]:
    modules = stage_modules(local=local)
    return [entry for entry in manifest() if entry["module"] in modules]


def _view(app, entry: dict[str, Any]):
    module_name, method, path = f"chalicelib.api.{entry['module']}", entry["method"], entry["path"]

    def view(**path_params: str):
        api = import_module(module_name).api  # imported once; later calls find it loaded
        return api.handle(method, path, app.current_request, path_params)

    view.__name__ = entry["name"]
    return view


def _fallback(app):
    def fallback():
        from chalicelib.api.fallback import answer

        return answer(app.current_request)

    fallback.__name__ = "fallback"
    return fallback


@cache
def _declared() -> dict[tuple[str, str], bool]:
    """(path, method) of every declared route: whether it is public (takes no token)."""
    return {(entry["path"], entry["method"]): entry["public"] for entry in manifest()}


def is_declared(path: str, method: str) -> bool:
    return (path, method) in _declared()


def needs_token(path: str, method: str) -> bool:
    """Only a declared, non-public route asks for a token: an undeclared method or path is
    answered 405 or 404 whoever asks (and a CORS preflight never carries one)."""
    return _declared().get((path, method)) is False


@cache
def _templates(local: bool) -> tuple[tuple[re.Pattern, str, str], ...]:
    found = []
    for entry in served(local):
        pattern = re.sub(r"\\{\w+\\}", "[^/]+", re.escape(entry["path"]))
        found.append((re.compile(pattern), entry["path"], entry["method"]))
    return tuple(found)


def methods_at(path: str, *, local: bool) -> list[str]:
    """The methods of the route a concrete path ("/jobs/123") names; [] for an unknown path.

    As API Gateway matches, a literal segment beats a parameter: /settings/templates is not
    /settings/{anything}.
    """
    path = path.rstrip("/") or "/"
    matches = [(template, method) for p, template, method in _templates(local) if p.fullmatch(path)]
    if not matches:
        return []
    best = max(matches, key=lambda match: _literal_segments(match[0]))[0]
    return [method for template, method in matches if template == best]


def methods_of(template: str, *, local: bool) -> list[str]:
    return [entry["method"] for entry in served(local) if entry["path"] == template]


def _literal_segments(template: str) -> int:
    return sum(1 for part in template.split("/") if part and not part.startswith("{"))


def declared_routes(modules: tuple[str, ...] = MODULES + LOCAL_MODULES) -> list:
    """Every route's full declaration (models, roles), importing the modules that declare them."""
    from chalicelib.api.http import ROUTES

    for module in modules:
        import_module(f"chalicelib.api.{module}")
    # In the modules' order, whichever was imported first; each module's in declaration order.
    order = {module: n for n, module in enumerate(modules)}
    return sorted((r for r in ROUTES if r.module in order), key=lambda r: order[r.module])


def deferred(module: str, name: str):
    """A stand-in for `module.name` that imports the module when it is first called."""

    def call(*args: Any) -> Any:
        return getattr(import_module(module), name)(*args)

    call.__name__ = name
    return call


def generate() -> list[dict[str, Any]]:
    return [
        {
            "module": route.module,
            "name": route.name,
            "method": route.method,
            "path": route.path,
            "content_types": route.content_types,
            "public": route.roles is None,
        }
        for route in declared_routes()
    ]


def render(entries: list[dict[str, Any]]) -> str:
    """One route per line, so a change to the routes reads as a small diff."""
    return "[\n" + ",\n".join(json.dumps(entry) for entry in entries) + "\n]\n"


if __name__ == "__main__":
    entries = generate()
    MANIFEST.write_text(render(entries))
    print(f"wrote {MANIFEST} ({len(entries)} routes)")
