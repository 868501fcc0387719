"""Chalice's local gateway (the local stage's server and `chalice.test`) routing as API Gateway
does, so unknown paths and methods get the answers they get deployed.

Chalice's local route matcher reads `{proxy+}` as one path segment and refuses any path it
cannot match with API Gateway's 403; API Gateway matches a greedy `{proxy+}` against any depth,
after every more specific resource. Python's HTTP server answers a method it has no handler
for (TRACE, CONNECT, QUERY, ...) with its own 501 page; here every method reaches the app,
which answers 405 (or 404) in the API's error body. Installed by app.py in the local stage
only (chalice.local is not part of a deployed function).
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlparse

from chalice.local import ChaliceRequestHandler, MatchResult, RouteMatcher

GREEDY = "{proxy+}"
_plain_match = RouteMatcher.match_route


def match_route(self: RouteMatcher, url: str) -> MatchResult:
    greedy = [route for route in self.route_urls if route.endswith(GREEDY)]
    plain = RouteMatcher([route for route in self.route_urls if not route.endswith(GREEDY)])
    try:
        return _plain_match(plain, url)
    except ValueError:
        for route in greedy:
            found = _greedy_match(route, url)
            if found is not None:
                return found
        raise


def _greedy_match(route: str, url: str) -> MatchResult | None:
    parsed = urlparse(url)
    prefix = route[: -len(GREEDY)]
    rest = parsed.path[len(prefix) :].strip("/") if parsed.path.startswith(prefix) else ""
    if not rest:  # `{proxy+}` stands for one segment or more
        return None
    query = parse_qs(parsed.query, keep_blank_values=True)  # as Chalice's matcher reads it
    return MatchResult(route, {"proxy": rest}, query)


def _any_method(handler: ChaliceRequestHandler, name: str):
    """`do_TRACE`, `do_CONNECT`, `do_QUERY`, ...: the HTTP server looks a method's handler up
    by name; every one it lacks is the gateway's too."""
    if name.startswith("do_"):
        return handler._generic_handle
    raise AttributeError(name)


def install() -> None:
    RouteMatcher.match_route = match_route  # type: ignore[method-assign]
    ChaliceRequestHandler.__getattr__ = _any_method  # type: ignore[attr-defined]
