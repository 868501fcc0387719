"""The HTTP middleware: body limit, bearer token, log context, CORS and the API.md error body.

The token is checked here rather than in a Chalice authorizer so a bad token gets the same
401 body locally, under `chalice.test.Client` and deployed (ARCHITECTURE.md: roles).
"""

from __future__ import annotations

import json

from chalice import Response

from chalicelib.api import cors
from chalicelib.api.errors import for_status
from chalicelib.api.http import current_caller, error_response
from chalicelib.api.routing import is_declared, needs_token
from chalicelib.config import get_settings
from chalicelib.domain.callers import Caller
from chalicelib.domain.errors import FieldlineError, PayloadTooLarge, Unauthorized
from chalicelib.domain.tenants import ROLES
from chalicelib.integrations import tokens
from chalicelib.logs import logger
from chalicelib.services import team


def http_middleware(event, get_response):
    path = (event.context or {}).get("resourcePath", event.path)
    logger.append_keys(
        request_id=(event.context or {}).get("requestId"), route=f"{event.method} {path}"
    )
    logger.remove_keys(["tenant_id"])
    token = current_caller.set(None)
    try:
        if len(event.raw_body or b"") > get_settings().max_body_bytes:
            raise PayloadTooLarge(f"the body is larger than {get_settings().max_body_bytes} bytes")
        if not is_declared(path, event.method):
            # Whichever way it arrived (the gateway's catch-all, a path's OPTIONS, a method
            # Chalice itself would refuse): OPTIONS, 405 or 404 in the API's own words.
            from chalicelib.api.fallback import answer

            response = answer(event)
        else:
            if needs_token(path, event.method):
                who = authenticate(event.headers.get("authorization"))
                current_caller.set(who)
                logger.append_keys(tenant_id=who.tenant_id)
            response = get_response(event)
    except FieldlineError as error:
        response = error_response(error)
    finally:
        current_caller.reset(token)
    response = normalize_error(response)
    allowed = cors.response_headers(event.headers.get("origin"))
    if allowed:
        response.headers = {**(response.headers or {}), **allowed}
    return response


def authenticate(header: str | None) -> Caller:
    if not header or not header.lower().startswith("bearer "):
        raise Unauthorized("a bearer token is required")
    try:
        claims = tokens.verify(header[7:].strip())
    except tokens.InvalidToken as exc:
        raise Unauthorized("the token is not valid") from exc
    tenant_id = claims.get("tenant_id") or claims.get("custom:tenant_id")
    role = claims.get("role") or claims.get("custom:role")
    if not tenant_id or role not in ROLES:
        raise Unauthorized("the token does not name a tenant and a role")
    # An invited technician's Cognito user names the technician it logs in as.
    user_id = claims.get("custom:user_id") or claims["sub"]
    if not team.token_allowed(tenant_id, user_id, claims["iat"]):
        raise Unauthorized("the user was deactivated or their access changed: sign in again")
    return Caller(tenant_id=tenant_id, user_id=user_id, role=role)


def normalize_error(response: Response) -> Response:
    """Chalice's own errors (415, 405, 500…) get the API.md error body too, with the code their
    status has in the catalogue (chalicelib/api/errors.py). A customer page's own error page
    (HTML: not found, link expired) stays a page."""
    if response.status_code < 400 or _is_html(response):
        return response
    body = response.body
    if isinstance(body, str | bytes):
        try:
            body = json.loads(body)
        except ValueError:
            body = {"Message": body if isinstance(body, str) else body.decode(errors="replace")}
    if isinstance(body, dict) and "error" in body:
        return response
    message = body.get("Message", "request failed") if isinstance(body, dict) else "request failed"
    code = for_status(response.status_code)
    if response.status_code >= 500:
        message, code = "something went wrong on our side", "internal_error"
    response.body = {"error": {"code": code, "message": message, "details": []}}
    response.headers = {**(response.headers or {}), "Content-Type": "application/json"}
    return response


def _is_html(response: Response) -> bool:
    headers = {name.lower(): value for name, value in (response.headers or {}).items()}
    return headers.get("content-type", "").startswith("text/html")
