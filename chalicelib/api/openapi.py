"""OpenAPI 3.1 generated from the same route declarations and pydantic models that run."""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from chalicelib.api.http import JSON, Route
from chalicelib.api.routing import declared_routes, stage_modules
from chalicelib.api.schemas import ErrorOut
from chalicelib.config import get_settings

ERRORS = {
    "400": "Malformed request",
    "401": "Missing or invalid token",
    "403": "Role not allowed",
    "404": "Not found (or another tenant's)",
    "409": "Conflict, stale version or illegal transition",
    "413": "Body too large",
    "415": "Content-Type not accepted",
    "422": "Semantically invalid",
    "503": "An upstream is unavailable; retry",
}
REF = "#/components/schemas/{model}"
VERSION = {"type": "integer", "minimum": 0}
IDEMPOTENCY_KEY = {"type": "string", "minLength": 1, "maxLength": 255}


@lru_cache(maxsize=1)
def document() -> dict[str, Any]:
    routes = declared_routes(stage_modules(local=get_settings().is_local))
    refs, definitions = models_json_schema(_models(routes), ref_template=REF)
    paths: dict[str, dict] = {}
    for route in routes:
        paths.setdefault(route.path, {})[route.method.lower()] = _operation(route, refs)
    return {
        "openapi": "3.1.0",
        "info": {"title": "Fieldline API", "version": get_settings().version},
        "servers": [{"url": get_settings().public_base_url}],
        "paths": paths,
        "components": {
            "schemas": definitions.get("$defs", {}),
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
            },
        },
    }


Refs = dict[tuple[type[BaseModel], str], dict[str, str]]


def _models(routes: list[Route]) -> list[tuple[type[BaseModel], str]]:
    """Bodies as they are validated; responses as they are serialized (an `id` that a model
    reads from `customer_id` is written as `id`)."""
    found = {(ErrorOut, "serialization")}
    for route in routes:
        if route.body is not None:
            found.add((route.body, "validation"))
        if route.response is not None:
            found.add((route.response, "serialization"))
    return sorted(found, key=lambda pair: (pair[0].__name__, pair[1]))


def _operation(route: Route, refs: Refs) -> dict[str, Any]:
    op: dict[str, Any] = {
        "operationId": route.name,
        "summary": route.summary,
        "tags": [route.tag],
        "parameters": _parameters(route),
        "responses": _responses(route, refs),
    }
    if route.roles is None:
        op["security"] = []
    else:
        op["security"] = [{"bearer": []}]
        op["description"] = "Roles: " + ", ".join(route.roles)
    if route.body is not None:
        body = refs[(route.body, "validation")]
        op["requestBody"] = {"required": True, "content": {JSON: {"schema": body}}}
    elif route.raw and route.method == "POST":
        op["requestBody"] = {"content": {ct: {"schema": {}} for ct in route.content_types}}
    return op


def _parameters(route: Route) -> list[dict[str, Any]]:
    params = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
        for name in re.findall(r"{(\w+)}", route.path)
    ]
    if route.query is not None:
        schema = route.query.model_json_schema()
        for name, prop in schema.get("properties", {}).items():
            params.append(
                {
                    "name": name,
                    "in": "query",
                    "required": name in schema.get("required", []),
                    "schema": prop,
                }
            )
    if route.if_match:
        # The object's `version` (a bare number; an ETag-style "3" or W/"3" is read too).
        params.append({"name": "If-Match", "in": "header", "schema": VERSION})
    if route.method == "POST" and route.roles is not None:
        params.append({"name": "Idempotency-Key", "in": "header", "schema": IDEMPOTENCY_KEY})
    return params


def _responses(route: Route, refs: Refs) -> dict[str, Any]:
    codes = _error_codes(route)
    if route.raw:
        # A raw route writes its own response, in its own format: a customer page is HTML even
        # when it fails, a form post answers 303, a Twilio status callback 204, a static file 304.
        return {
            "2XX": {"description": "Success"},
            "3XX": {"description": "Redirect (after a form post) or not modified"},
            **{code: {"description": ERRORS[code]} for code in codes},
        }
    content = {JSON: {"schema": refs[(route.response, "serialization")]}} if route.response else {}
    if route.response is None and route.path == "/openapi.json":
        content = {JSON: {"schema": {}}}
    ok = {"description": "Success", **({"content": content} if content else {})}
    if route.location:
        ok["headers"] = {
            "Location": {"description": "Where to follow up", "schema": {"type": "string"}}
        }
    error = {"content": {JSON: {"schema": refs[(ErrorOut, "serialization")]}}}
    return {
        str(route.status): ok,
        **{code: {"description": ERRORS[code], **error} for code in codes},
    }


def _error_codes(route: Route) -> list[str]:
    """Every error status the route can answer (a client, and the fuzzer, may rely on it)."""
    if route.roles is not None:
        return list(ERRORS)
    codes = {"400", "413", "415", "422"}
    if route.tag != "meta":  # everything public but health and this document reads the table
        codes |= {"409", "503"}
    if re.search(r"{\w+}", route.path):
        codes.add("404")  # an unknown, expired or altered link
    if route.raw:
        codes.add("403")  # a webhook whose signature does not match
    return sorted(codes)
