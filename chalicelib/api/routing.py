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
    "jobs",
    "quotes",
    "visits",
    "dispatch",
    "photos",
    "invoices",
    "webhooks",
    "twilio_webhooks",
    "messages",
    "dunning",
    "reports",
    "pages",
)
# The local stage's helpers (/dev/...) exist in no other stage.
LOCAL_MODULES = ("dev", "devclock", "devstripe")


@cache
def manifest() -> tuple[dict[str, Any], ...]:
    return tuple(json.loads(MANIFEST.read_text()))


def stage_modules(*, local: bool) -> tuple[str, ...]:
    return MODULES + LOCAL_MODULES if local else MODULES


def register(app, *, local: bool) -> None:
    served = stage_modules(local=local)
    for entry in manifest():
        if entry["module"] in served:
            app.route(
                entry["path"],
                methods=[entry["method"]],
                content_types=entry["content_types"],
                name=f"{entry['module']}.{entry['name']}",
            )(_view(app, entry))


def _view(app, entry: dict[str, Any]):
    module_name, method, path = f"chalicelib.api.{entry['module']}", entry["method"], entry["path"]

    def view(**path_params: str):
        api = import_module(module_name).api  # imported once; later calls find it loaded
        return api.handle(method, path, app.current_request, path_params)

    view.__name__ = entry["name"]
    return view


@cache
def public_paths() -> frozenset[str]:
    """Paths that take no token (their routes declare `roles=None`)."""
    return frozenset(entry["path"] for entry in manifest() if entry["public"])


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
