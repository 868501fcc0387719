"""OpenAPI 3.1 generated from the same route declarations and pydantic models that run."""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from chalicelib.api.http import JSON, ROUTES, Route
from chalicelib.api.schemas import ErrorOut
from chalicelib.config import get_settings

ERRORS = {
    "400": "Malformed request",
    "401": "Missing or invalid token",
    "403": "Role not allowed",
    "404": "Not found (or another tenant's)",
    "409": "Conflict, stale version or illegal transition",
    "413": "Body too large",
    "422": "Semantically invalid",
    "503": "An upstream is unavailable; retry",
}
REF = "#/components/schemas/{model}"


@lru_cache(maxsize=1)
def document() -> dict[str, Any]:
    models = _models()
    _, definitions = models_json_schema([(m, "validation") for m in models], ref_template=REF)
    paths: dict[str, dict] = {}
    for route in ROUTES:
        paths.setdefault(route.path, {})[route.method.lower()] = _operation(route)
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


def _models() -> list[type[BaseModel]]:
    found: dict[str, type[BaseModel]] = {"ErrorOut": ErrorOut}
    for route in ROUTES:
        for model in (route.body, route.response):
            if model is not None:
                found[model.__name__] = model
    return list(found.values())


def _ref(model: type[BaseModel]) -> dict[str, str]:
    return {"$ref": REF.format(model=model.__name__)}


def _operation(route: Route) -> dict[str, Any]:
    op: dict[str, Any] = {
        "operationId": route.name,
        "summary": route.summary,
        "tags": [route.tag],
        "parameters": _parameters(route),
        "responses": _responses(route),
    }
    if route.roles is None:
        op["security"] = []
    else:
        op["security"] = [{"bearer": []}]
        op["description"] = "Roles: " + ", ".join(route.roles)
    if route.body is not None:
        op["requestBody"] = {"required": True, "content": {JSON: {"schema": _ref(route.body)}}}
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
    if route.method in ("PATCH", "POST") and route.roles is not None:
        params.append({"name": "If-Match", "in": "header", "schema": {"type": "string"}})
    if route.method == "POST" and route.roles is not None:
        params.append({"name": "Idempotency-Key", "in": "header", "schema": {"type": "string"}})
    return params


def _responses(route: Route) -> dict[str, Any]:
    content = {JSON: {"schema": _ref(route.response)}} if route.response else {}
    if route.raw or (route.response is None and route.path == "/openapi.json"):
        content = {JSON: {"schema": {}}} if not route.raw else {}
    ok = {"description": "Success", **({"content": content} if content else {})}
    error = {"content": {JSON: {"schema": _ref(ErrorOut)}}}
    codes = ("400", "413", "422") if route.roles is None else tuple(ERRORS)
    return {
        str(route.status): ok,
        **{code: {"description": ERRORS[code], **error} for code in codes},
    }
