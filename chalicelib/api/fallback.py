"""What no route declares: OPTIONS (and CORS preflights), another method (405), no such path
(404), all in the API's own error body rather than API Gateway's `Missing Authentication Token`.

API Gateway sends here every request whose path and method no route has (the `/{proxy+}`
catch-all: an exact resource-and-method match wins, anything else falls to it) and each path's
OPTIONS; Chalice's local server and `chalice.test` do the same (localstage/gateway.py).
"""

from __future__ import annotations

from chalice import Response

from chalicelib.api import cors, routing
from chalicelib.api.http import error_response
from chalicelib.config import get_settings
from chalicelib.domain.errors import FieldlineError, NotFound


class MethodNotAllowed(FieldlineError):
    status, code = 405, "method_not_allowed"


def answer(request) -> Response:
    methods = _methods(request)
    if not methods:
        return error_response(NotFound("there is no such route"))
    allow = ", ".join([*methods, "OPTIONS"])
    if request.method == "OPTIONS":
        preflight = cors.preflight_headers(request.headers.get("origin"), [*methods, "OPTIONS"])
        return Response(body="", status_code=204, headers={"Allow": allow, **preflight})
    refused = MethodNotAllowed(f"{request.method} is not one of {allow}")
    return error_response(refused, headers={"Allow": allow})


def _methods(request) -> list[str]:
    """The declared methods of the route the request's path names."""
    event = request.to_original_event()
    resource = event["requestContext"]["resourcePath"]
    local = get_settings().is_local
    if resource == routing.CATCH_ALL:
        proxied = (event.get("pathParameters") or {}).get("proxy") or ""
        return routing.methods_at("/" + proxied, local=local)
    return routing.methods_of(resource, local=local)
